"""The self-contained ``report.html`` (images inline as base64 PNG) and ``summary.json``."""

from __future__ import annotations

import base64
import html
import logging
import platform
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from her2net.analyze.cells import DENSE_LAMBDA_D2
from her2net.report.plots import CALL_COLOURS, curves_png, histogram_png, overlay_png

__all__ = ["build_report", "summary_dict"]

logger = logging.getLogger(__name__)

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.call{color:#fff;border-radius:3px;padding:1px 6px}
.note{color:#555;font-size:.9em}img{max-width:100%}.grid{display:flex;flex-wrap:wrap;gap:10px}
details{margin:.5em 0}summary{cursor:pointer}
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def summary_dict(result) -> dict:
    """Population figures: cells per call, median dimer fraction, settings, versions."""
    import matplotlib
    import scipy

    from her2net import __version__

    cells = result.cells
    analysed = cells[cells["call"] != "too-few-labels"]
    counts = {call: int((cells["call"] == call).sum())
              for call in ("dimer-depleted", "undetermined", "dimer-rich", "too-few-labels")}

    def clean(value):
        if isinstance(value, (np.floating, float)):
            return None if not np.isfinite(value) else float(value)
        if isinstance(value, (np.integer,)):
            return int(value)
        if isinstance(value, tuple):
            return list(value)
        return value

    return {
        "n_cells": int(len(cells)),
        "n_labels": int(cells["n_labels"].sum()),
        "cells_per_call": counts,
        "median_dimer_fraction": clean(analysed["dimer_fraction"].median()) if len(analysed) else None,
        "mean_dimer_fraction": clean(analysed["dimer_fraction"].mean()) if len(analysed) else None,
        "median_paired_fraction_observed": clean(analysed["paired_fraction_observed"].median()) if len(analysed) else None,
        "median_paired_fraction_random": clean(analysed["paired_fraction_random"].median()) if len(analysed) else None,
        "settings": {k: clean(v) for k, v in result.settings.items()},
        "versions": {"her2net": __version__, "python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "pandas": pd.__version__, "matplotlib": matplotlib.__version__},
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _table(frame: pd.DataFrame, *, left=("cell", "region", "call", "dimer fraction (95% interval)")) -> str:
    head = "".join(f'<th class="{"l" if c in left else ""}">{html.escape(c)}</th>' for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record):
            if column == "call":
                cells.append(f'<td class="l"><span class="call" style="background:{CALL_COLOURS.get(value, "#999")}">'
                             f"{html.escape(str(value))}</span></td>")
            elif isinstance(value, float):
                if not np.isfinite(value):
                    text = ""
                elif column not in _DECIMAL_COLUMNS and (float(value).is_integer() or abs(value) >= 1000):
                    text = f"{value:.0f}"
                else:
                    text = f"{value:.3f}"
                cells.append(f"<td>{text}</td>")
            else:
                cells.append(f'<td class="{"l" if column in left else ""}">{html.escape(str(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells/regions table in words a biologist reads."""
    def interval(row):
        if not np.isfinite(row["dimer_fraction"]):
            return ""
        return f"{row['dimer_fraction']:.2f} ({row['dimer_fraction_low']:.2f}–{row['dimer_fraction_high']:.2f})"

    out = pd.DataFrame({"cell": frame["cell"]})
    if "region" in frame.columns:
        out["region"] = frame["region"]
    out["images"] = frame["n_images"]
    out["labels"] = frame["n_labels"]
    out["area µm²"] = frame["area_um2"].astype(float)
    out["labels/µm²"] = frame["density_per_um2"].astype(float).round(0)
    out["monomers"] = frame["n_monomers"]
    out["dimers"] = frame["n_dimers"]
    out["clusters"] = frame["n_clusters"]
    out["paired (observed)"] = frame["paired_fraction_observed"].astype(float)
    out["paired (random)"] = frame["paired_fraction_random"].astype(float)
    out["dimer fraction (95% interval)"] = frame.apply(interval, axis=1) if len(frame) else []
    out["p-value"] = frame["p_value"].astype(float)
    out["call"] = frame["call"]
    return out


# Columns shown with three decimals even when a value is whole (a p-value of 1.000, not 1).
_DECIMAL_COLUMNS = {"p-value", "paired (observed)", "paired (random)", "area µm²"}


def _setting_text(value) -> str:
    """A setting as people read it: numbers to 4 significant digits (summary.json keeps all)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting_text(v) for v in value)
    return "n/a" if value is None else str(value)


def _example_cells(cells: pd.DataFrame, n: int = 3) -> list[str]:
    analysed = cells[cells["call"] != "too-few-labels"].sort_values("dimer_fraction")
    if analysed.empty:
        return list(cells["cell"].head(1))
    picks = [analysed["cell"].iloc[-1], analysed["cell"].iloc[0], analysed["cell"].iloc[len(analysed) // 2]]
    out = []
    for c in picks:
        if c not in out:
            out.append(c)
    return out[:n]


def build_report(result, *, plots: dict[str, bytes] | None = None, max_cell_plots: int = 60) -> str:
    """Render the report page.

    Parameters
    ----------
    result : her2net.analyze.AnalysisResult
    plots : dict, optional
        Filled with name -> PNG bytes of every figure (to be saved beside the report).
    max_cell_plots : int
        Per-cell g(r) figures shown inline (all are saved in ``plots``).
    """
    from her2net.io import read_image

    plots = {} if plots is None else plots
    settings = result.settings
    cells = result.cells
    summary = summary_dict(result)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>her2net analysis</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>HER2 monomer / dimer analysis</h1>"]
    counts = summary["cells_per_call"]
    median = summary["median_dimer_fraction"]
    n_called = summary["n_cells"] - counts["too-few-labels"]
    parts.append(
        f"<p>{summary['n_cells']} cells, {summary['n_labels']} labels. "
        f"<b>{counts['dimer-depleted']}</b> dimer-depleted, <b>{counts['undetermined']}</b> undetermined, "
        f"<b>{counts['dimer-rich']}</b> dimer-rich, {counts['too-few-labels']} with too few labels. "
        + (f"Median dimer fraction {median:.2f} over the {n_called} cells with enough labels."
           if median is not None else "") + "</p>")
    parts.append(
        "<p class='note'>How to read this: labels closer than "
        f"{settings['dimer_distance_nm']:g} nm are linked into groups (monomer, dimer, cluster). Many such "
        "pairs arise by chance at HER2 densities, so the <i>dimer fraction</i> is estimated from a model of "
        "the whole pattern (random monomers plus dimers) that removes chance pairs and corrects for the "
        "labelling efficiency; it comes with a 95% interval. A cell is <i>dimer-depleted</i> when the whole "
        f"interval lies below {settings['call_threshold']:g}, <i>dimer-rich</i> when it lies above, "
        "otherwise <i>undetermined</i>. The p-value tests for more close pairs than random placement of the "
        "same number of labels in the cell's own mask.</p>")

    dense = settings.get("dense_cells") or []
    if dense:
        parts.append(
            f"<p class='note'><b>Dense membrane:</b> {len(dense)} cell(s) "
            f"({html.escape(', '.join(dense[:10]))}{' ...' if len(dense) > 10 else ''}) have windows "
            "denser than about "
            f"{DENSE_LAMBDA_D2 / max(settings['min_distance_nm'], 1e-9) ** 2 * 1e6:.0f} labels/µm² "
            f"(hard core {settings['min_distance_nm']:.1f} nm). There chance neighbours outnumber "
            "partners and the dimer fraction reads high (on simulated cells by 0.05-0.15 on average, "
            "single cells up to 0.21): compare "
            "these cells with each other rather than with sparse ones.</p>")
    parts.append("<h2>Population</h2>")
    plots["dimer_fraction_histogram.png"] = histogram_png(cells, threshold=settings["call_threshold"])
    parts.append(_img(plots["dimer_fraction_histogram.png"], "histogram of the dimer fraction"))

    parts.append("<h2>Cells</h2>")
    parts.append("<p class='note'>Paired (observed): labels with a neighbour closer than the dimer "
                 "distance. Paired (random): the same for random placement, the chance level. Dimer "
                 "fraction: estimated fraction of receptors in dimers, 95% interval in brackets.</p>")
    parts.append(_table(_display(cells)))
    if len(result.regions) and set(result.regions["region"]) - {"whole"}:
        parts.append("<h3>Per region (flat membrane / ruffles)</h3>")
        parts.append(_table(_display(result.regions)))

    parts.append("<h2>Example cells</h2><p class='note'>Monomers cyan, labels in dimers amber, in clusters "
                 "(3 or more labels) red; greyed: outside the analysed mask. Groups are by distance only: "
                 "some of them are chance neighbours.</p><div class='grid'>")
    by_cell = {info.cell: info for info in reversed(result.images)}
    for cell in _example_cells(cells):
        info = by_cell.get(cell)
        if info is None:
            continue
        image = None
        if info.image_path is not None:
            try:
                image = read_image(info.image_path).data
            except (ValueError, OSError) as exc:
                logger.warning("%s: cannot read the image for the overlay (%s)", info.image_path, exc)
        rows = result.labels[result.labels["image"] == info.image]
        fraction = cells.loc[cells["cell"] == cell, "dimer_fraction"].iloc[0]
        name = f"overlay_{_safe(cell)}.png"
        plots[name] = overlay_png(rows, region_map=info.region_map, pixel_size_nm=info.pixel_size_nm,
                                  image=image, title=f"cell {cell}: dimer fraction {fraction:.2f}")
        parts.append(_img(plots[name], f"overlay of cell {cell}"))
    parts.append("</div>")

    curves = result.curves
    parts.append("<h2>Pair correlation</h2><p class='note'>g(r) above the grey band (the 95% global rank "
                 "envelope of random placement in the same mask, Myllymäki et al. 2017) at short r means "
                 "more close pairs than chance. Curves use the translation edge correction in the real mask.</p>")
    if len(curves):
        for call in ("dimer-depleted", "undetermined", "dimer-rich"):
            sel = curves[(curves["scope"] == "call") & (curves["name"] == call)]
            if len(sel):
                name = f"curves_call_{call}.png"
                plots[name] = curves_png(sel, title=f"all {call} cells pooled",
                                         dimer_distance_nm=settings["dimer_distance_nm"])
                parts.append(_img(plots[name], f"g(r) pooled over {call} cells"))
        cell_curves = curves[curves["scope"] == "cell"]
        names = list(dict.fromkeys(cell_curves["name"]))
        parts.append(f"<details><summary>g(r) and L(r) − r of each cell ({len(names)})</summary>")
        for i, cell in enumerate(names):
            name = f"curves_cell_{_safe(cell)}.png"
            plots[name] = curves_png(cell_curves[cell_curves["name"] == cell], title=f"cell {cell}",
                                     dimer_distance_nm=settings["dimer_distance_nm"])
            if i < max_cell_plots:
                parts.append(_img(plots[name], f"g(r) of cell {cell}"))
        if len(names) > max_cell_plots:
            parts.append(f"<p class='note'>{len(names) - max_cell_plots} more in plots/.</p>")
        parts.append("</details>")

    parts.append("<h2>Settings</h2><table>")
    for key, value in summary["settings"].items():
        parts.append(f"<tr><th class='l'>{html.escape(key)}</th>"
                     f"<td class='l'>{html.escape(_setting_text(value))}</td></tr>")
    parts.append("</table>")
    versions = ", ".join(f"{k} {v}" for k, v in summary["versions"].items())
    parts.append(f"<p class='note'>Made {summary['created_utc']} with {html.escape(versions)}. Methods: "
                 "docs/analysis.md of her2net.</p></body></html>")
    return "\n".join(parts)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(name))
