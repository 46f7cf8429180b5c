"""PNG plots of an :class:`~her2net.evaluate.metrics.Evaluation` (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_pair_resolution", "plot_error_histogram", "plot_pr_curve", "write_plots"]


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.6), dpi=120)
    return plt, fig, ax


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_pair_resolution(evaluation, path) -> Path:
    """Recall of both labels of a close truth pair against their distance (bar per bin)."""
    plt, fig, ax = _figure()
    curve = evaluation.pair_resolution
    centres = 0.5 * (curve["distance_lo_nm"] + curve["distance_hi_nm"])
    width = float(np.median(curve["distance_hi_nm"] - curve["distance_lo_nm"])) if len(curve) else 1
    ax.bar(centres, curve["recall_both"].fillna(0), width=0.85 * width, color="tab:blue")
    for x, n in zip(centres, curve["n_pairs"]):
        ax.text(x, 1.02, str(int(n)), ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("distance between the two labels of a pair (nm)")
    ax.set_ylabel("recall of both labels")
    ax.set_title("Pair resolution (numbers: pairs per bin)", fontsize=9)
    return _save(plt, fig, Path(path))


def plot_error_histogram(evaluation, path) -> Path:
    """Histogram of the localisation error of matched labels, with the RMSE marked."""
    plt, fig, ax = _figure()
    errors = evaluation.truth.loc[evaluation.truth["matched"], "error_nm"].to_numpy(float)
    tol = evaluation.summary["tolerance_nm"]
    ax.hist(errors, bins=np.linspace(0, tol, 41), color="tab:green")
    rmse = evaluation.summary["rmse_nm"]
    if np.isfinite(rmse):
        ax.axvline(rmse, color="k", ls="--", lw=1, label=f"RMSE {rmse:.2f} nm")
        ax.legend(fontsize=8)
    ax.set_xlabel("localisation error (nm)")
    ax.set_ylabel("matched labels")
    ax.set_title(f"Localisation error ({len(errors)} matches within {tol:g} nm)", fontsize=9)
    return _save(plt, fig, Path(path))


def plot_pr_curve(evaluation, path) -> Path:
    """Precision against recall over score thresholds, the best F1 marked."""
    plt, fig, ax = _figure()
    pr = evaluation.pr_curve
    ax.plot(pr["recall"], pr["precision"], "o-", ms=3, color="tab:purple")
    best = pr.loc[pr["f1"].idxmax()]
    ax.plot([best["recall"]], [best["precision"]], "r*", ms=10,
            label=f"best F1 {best['f1']:.3f} at score >= {best['threshold']:.3g}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Precision-recall over score thresholds", fontsize=9)
    return _save(plt, fig, Path(path))


def write_plots(evaluation, folder) -> list[Path]:
    """Write every plot that applies into ``folder``; return the written paths."""
    folder = Path(folder)
    paths = [plot_pair_resolution(evaluation, folder / "pair_resolution.png"),
             plot_error_histogram(evaluation, folder / "localisation_error.png")]
    if evaluation.pr_curve is not None:
        paths.append(plot_pr_curve(evaluation, folder / "precision_recall.png"))
    return paths
