"""Per-cell and per-region analysis: groups, random-placement null, g(r)/L(r), dimer fraction."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from her2net.analyze.estimator import (SPACING_EVIDENCE, PairingLikelihood, fit_fraction, fit_spacing,
                                       spacing_evidence)
from her2net.analyze.groups import close_pairs, group_kind, link_groups
from her2net.analyze.inputs import NO_MASK_REGION, REGION_NAMES, ImageInfo, image_table
from her2net.analyze.null_model import hardcore_points, monte_carlo_p_value
from her2net.analyze.spatial_stats import PairCounts, curves_from_counts, pair_counts, rank_envelope
from her2net.analyze.window import Window
from her2net.errors import InputError

__all__ = ["AnalysisSettings", "AnalysisResult", "analyze_cells", "CALLS", "CELL_COLUMNS"]

logger = logging.getLogger(__name__)

CALLS = ("dimer-depleted", "undetermined", "dimer-rich", "too-few-labels")
#: Label density times hard core squared (λ d², dimensionless; λ label-weighted over a cell's
#: windows) above which dimer_fraction reads high: chance neighbours then outnumber partners and
#: the estimate hangs on how labels exclude each other (docs/analysis.md, "Dense membrane"). 0.08
#: is about 800 labels/µm² for 10-nm gold; on simulated cells the mean bias is +0.05-0.1 at
#: 800-1400 labels/µm² and +0.15 at 1400-1600, single cells up to +0.21.
DENSE_LAMBDA_D2 = 0.08
CELL_COLUMNS = ["cell", "n_images", "n_labels", "area_um2", "density_per_um2", "n_monomers", "n_dimers",
                "n_clusters", "paired_fraction_observed", "paired_fraction_random", "dimer_fraction",
                "dimer_fraction_low", "dimer_fraction_high", "p_value", "call"]


@dataclass(frozen=True)
class AnalysisSettings:
    """Options of the analysis (see docs/analysis.md).

    Attributes
    ----------
    dimer_distance_nm : float
        Labels closer than this are linked into groups.
    min_distance_nm : float or None
        Hard core of the null model (one label diameter); None: the median ``diameter_nm`` of the
        detections, else 10 nm.
    labeling_efficiency : float
        Probability that a receptor is labelled; the paired fraction is divided by it.
    simulations : int
        Monte Carlo simulations of the null model per cell and region.
    seed : int
    min_labels : int
        Cells (regions) with fewer labels are called 'too-few-labels'.
    call_threshold : float
        Dimer fraction separating 'dimer-depleted' from 'dimer-rich'.
    pair_search_nm : float
        Largest label spacing within a dimer considered by the estimator.
    spacing_nm : (float, float) or None
        Fixed mean and sd of the dimer spacing; None fits them on the pooled cells.
    r_max_nm, r_step_nm : float
        Range and bin width of g(r) and L(r) - r.
    workers : int
        Processes for the null-model simulations (results do not depend on it).
    """

    dimer_distance_nm: float = 30.0
    min_distance_nm: float | None = None
    labeling_efficiency: float = 1.0
    simulations: int = 199
    seed: int = 0
    min_labels: int = 50
    call_threshold: float = 0.10
    pair_search_nm: float = 40.0
    spacing_nm: tuple[float, float] | None = None
    r_max_nm: float = 60.0
    r_step_nm: float = 2.0
    workers: int = 1

    def check(self) -> "AnalysisSettings":
        """Raise InputError naming the first bad option."""
        checks = [
            ("dimer_distance_nm", self.dimer_distance_nm > 0, "must be > 0"),
            ("min_distance_nm", self.min_distance_nm is None or 0 <= self.min_distance_nm < self.pair_search_nm,
             "must be >= 0 and below the pair search distance"),
            ("labeling_efficiency", 0 < self.labeling_efficiency <= 1, "must be in (0, 1]"),
            ("simulations", self.simulations >= 19, "must be at least 19"),
            ("min_labels", self.min_labels >= 2, "must be at least 2"),
            ("call_threshold", 0 < self.call_threshold < 1, "must be in (0, 1)"),
            ("pair_search_nm", self.pair_search_nm > 0, "must be > 0"),
            ("r_max_nm", self.r_max_nm > self.r_step_nm > 0, "must exceed r_step_nm > 0"),
            ("workers", self.workers >= 1, "must be at least 1"),
        ]
        for name, ok, message in checks:
            if not ok:
                raise InputError(f"{name}: {message} (got {getattr(self, name)})")
        if self.spacing_nm is not None:
            mu, sd = self.spacing_nm
            if not (0 < mu < self.pair_search_nm and sd > 0):
                raise InputError(f"spacing_nm: need 0 < mean < pair_search_nm and sd > 0 (got {mu}, {sd})")
        return self


@dataclass(frozen=True)
class AnalysisResult:
    """Everything ``her2net analyze`` writes.

    Attributes
    ----------
    cells, regions, groups, labels : pandas.DataFrame
        The tables of cells.csv, regions.csv, groups.csv and labels.csv.
    curves : pandas.DataFrame
        g(r) and L(r) - r with global envelopes, long format: scope ('cell' or 'call'), name,
        r_nm, g, g_low, g_high, l_minus_r, l_low, l_high, envelope_p_value.
    settings : dict
        The resolved settings (including the fitted dimer spacing).
    images : list of ImageInfo
    """

    cells: pd.DataFrame
    regions: pd.DataFrame
    groups: pd.DataFrame
    labels: pd.DataFrame
    curves: pd.DataFrame
    settings: dict
    images: list = field(default_factory=list, repr=False)


@dataclass
class _Unit:
    """The labels and windows of one cell or one (cell, region)."""

    cell: str
    region: str
    patterns: list  # (points_nm, Window, label_index, image)
    n_images: int

    @property
    def n_labels(self) -> int:
        return int(sum(len(p[0]) for p in self.patterns))

    @property
    def area_um2(self) -> float:
        return float(sum(p[1].area_um2 for p in self.patterns))


def analyze_cells(detections: pd.DataFrame, manifest: pd.DataFrame | None = None, *,
                  settings: AnalysisSettings | None = None, detections_source: str = "detections",
                  search_dirs=(), progress: bool = False) -> AnalysisResult:
    """Analyse every cell: groups, chance pairs, g(r)/L(r) envelopes, dimer fraction and call.

    Parameters
    ----------
    detections : pandas.DataFrame
        Detections (image, x_px, y_px, ...), checked with
        :func:`her2net.analyze.inputs.check_detections`.
    manifest : pandas.DataFrame, optional
        From :func:`her2net.io.read_manifest`.
    settings : AnalysisSettings
    progress : bool
        Show a progress bar over cells.

    Returns
    -------
    AnalysisResult
    """
    from her2net.analyze.inputs import check_detections

    settings = (settings or AnalysisSettings()).check()
    detections = check_detections(detections, source=detections_source)
    images = image_table(detections, manifest, detections_source=detections_source, search_dirs=search_dirs)
    min_distance = settings.min_distance_nm
    if min_distance is None:
        diam = detections["diameter_nm"].dropna() if "diameter_nm" in detections.columns else pd.Series([], dtype=float)
        min_distance = float(np.median(diam)) if len(diam) else 10.0
        min_distance = min(min_distance, 0.5 * settings.pair_search_nm)
    labels, cell_units, region_units, groups = _assign(detections, images, settings)
    r_edges = np.arange(0.0, settings.r_max_nm + 0.5 * settings.r_step_nm, settings.r_step_nm)
    # One FFT per window: the largest lag that the curves and the estimator need.
    max_lag = max(float(r_edges[-1]), settings.pair_search_nm) + 2 * max(info.pixel_size_nm for info in images)
    for unit in cell_units + region_units:
        for _, window, _, _ in unit.patterns:
            if window.mask.any():
                window.set_covariance(max_lag)
    r_min = 0.75 * min_distance

    units = [u for u in cell_units if u.n_labels >= settings.min_labels]
    # Flat membrane and ruffles are separate windows with their own label density, one φ per cell.
    cell_patterns = {id(u): [(p[0], p[1]) for r in region_units if r.cell == u.cell for p in r.patterns]
                     for u in units}
    likelihoods = {id(u): PairingLikelihood(cell_patterns[id(u)], r_min_nm=r_min,
                                            r_max_nm=settings.pair_search_nm, hard_core_nm=min_distance) for u in units}
    default_spacing = (min(20.0, 0.5 * settings.pair_search_nm), 5.0)
    evidence = None
    if settings.spacing_nm is not None:
        mu, sigma = settings.spacing_nm
    elif units:
        logger.info("fitting the dimer spacing shared by %d cells", len(units))
        subset = _spacing_subset([cell_patterns[id(u)] for u in units], likelihoods=[likelihoods[id(u)] for u in units],
                                 r_min=r_min, r_max=settings.pair_search_nm, hard_core=min_distance)
        mu, sigma = fit_spacing(subset, start_nm=default_spacing)
        evidence = spacing_evidence(subset, mu, sigma)
        if evidence < SPACING_EVIDENCE:
            # Too little dimer signal to fit a spacing: a free one drifts to where it turns chance
            # neighbours into dimers. The typical spacing (label + linkers) is used instead.
            logger.warning("the cells hold too little dimer signal to fit the dimer spacing "
                           "(%.1f ± %.1f nm gains %.1f in log-likelihood, under %.0f): using "
                           "%.0f ± %.0f nm; give --dimer-spacing MEAN SD to set it", mu, sigma,
                           evidence, SPACING_EVIDENCE, *default_spacing)
            mu, sigma = default_spacing
        elif min(mu - r_min, settings.pair_search_nm - mu) < 0.05 * (settings.pair_search_nm - r_min):
            logger.warning("the fitted dimer spacing, %.1f ± %.1f nm, sits at the edge of its range "
                           "(%.1f-%.0f nm): labels piled up or missing somewhere (image edges, "
                           "artefacts)? Check the overlays, or give --dimer-spacing MEAN SD", mu,
                           sigma, r_min, settings.pair_search_nm)
    else:
        mu, sigma = default_spacing

    iterator = list(enumerate(cell_units))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="cells", unit="cell", disable=None)  # only on a terminal
    cell_rows, region_rows, curve_rows, null_counts = [], [], [], {}
    for index, unit in iterator:
        row, counts, sims, curves = _analyze_unit(unit, settings, min_distance, r_edges, mu, sigma, r_min,
                                                  likelihoods.get(id(unit)), seed=(settings.seed, index, 0))
        cell_rows.append(row)
        curve_rows.extend(curves)
        null_counts[unit.cell] = (row["call"], counts, sims)
        for j, region in enumerate(r for r in region_units if r.cell == unit.cell):
            if region.region == NO_MASK_REGION or _same_windows(region, unit):
                r_row = dict(row)
            else:
                lik = (PairingLikelihood([(p[0], p[1]) for p in region.patterns], r_min_nm=r_min,
                                         r_max_nm=settings.pair_search_nm, hard_core_nm=min_distance)
                       if region.n_labels >= settings.min_labels else None)
                r_row, *_ = _analyze_unit(region, settings, min_distance, r_edges, mu, sigma, r_min, lik,
                                          seed=(settings.seed, index, j + 1), curves=False)
            r_row = {"cell": unit.cell, "region": region.region, **{k: v for k, v in r_row.items() if k != "cell"}}
            region_rows.append(r_row)
    curve_rows.extend(_pooled_curves(null_counts, r_edges))
    cells = pd.DataFrame(cell_rows, columns=CELL_COLUMNS)
    regions = pd.DataFrame(region_rows, columns=["cell", "region"] + CELL_COLUMNS[1:])
    dense = _dense_cells(cells, regions, min_distance)
    resolved = asdict(settings)
    resolved.update(min_distance_nm=min_distance, spacing_nm=[mu, sigma],
                    spacing_fitted=evidence is not None and evidence >= SPACING_EVIDENCE,
                    spacing_evidence=evidence, pair_search_min_nm=r_min, dense_cells=dense)
    return AnalysisResult(cells, regions, groups, labels, pd.DataFrame(curve_rows), resolved, images)


def _dense_cells(cells: pd.DataFrame, regions: pd.DataFrame, hard_core_nm: float) -> list[str]:
    """Analysed cells whose label-weighted window density has λ d² above :data:`DENSE_LAMBDA_D2`
    (each label counts at the density of its window: flat membrane or ruffles); logs one warning
    naming them."""
    analysed = cells[cells["call"] != "too-few-labels"]
    if analysed.empty:
        return []
    per_window = regions[regions["cell"].isin(analysed["cell"]) & (regions["n_labels"] > 0)]
    weighted = (per_window["n_labels"] * per_window["density_per_um2"]).groupby(per_window["cell"]).sum()
    density = (weighted / per_window.groupby("cell")["n_labels"].sum()).reindex(analysed["cell"])
    density = density.fillna(analysed.set_index("cell")["density_per_um2"])
    lambda_d2 = density * 1e-6 * hard_core_nm ** 2
    dense = lambda_d2[lambda_d2 > DENSE_LAMBDA_D2]
    if len(dense):
        worst = dense.idxmax()
        names = ", ".join(dense.index[:5]) + (f" and {len(dense) - 5} more" if len(dense) > 5 else "")
        logger.warning("%d of %d cells are dense (%s; densest %s, whose labels sit at %.0f labels/um^2 "
                       "on average, hard core %.1f nm): "
                       "chance neighbours outnumber partners there and dimer_fraction reads high "
                       "(on simulated cells at 800-1600 labels/um^2 by +0.05 to +0.15 on average, single "
                       "cells up to +0.21); compare such cells "
                       "with each other rather than with sparse ones (docs/analysis.md, 'Dense "
                       "membrane')", len(dense), len(analysed), names, worst, density[worst],
                       hard_core_nm)
    return [str(c) for c in dense.index]


def _assign(detections: pd.DataFrame, images: list[ImageInfo], settings: AnalysisSettings):
    """Windows, regions and groups per image; build the cell and region units."""
    # A truth table's own `label` column (gold / qd) must not clash with the label index.
    labels = detections.drop(columns=["label"], errors="ignore")
    labels.insert(0, "label", np.arange(len(labels)))
    labels["cell"] = ""
    labels["region"] = "outside"
    labels["in_window"] = False
    labels["group"] = -1
    labels["group_size"] = 0
    labels["kind"] = ""
    by_image = {name: idx for name, idx in labels.groupby("image", sort=False).indices.items()}
    cells: dict[str, _Unit] = {}
    regions: dict[tuple[str, str], _Unit] = {}
    group_rows = []
    next_group = 0
    for info in images:
        idx = by_image.get(info.image, np.empty(0, dtype=np.int64))
        size = info.pixel_size_nm
        points = np.column_stack([labels["x_px"].to_numpy()[idx], labels["y_px"].to_numpy()[idx]]) * size
        window = Window(info.region_map > 0, size)
        row, col, on = window.pixel_index(points)
        value = np.zeros(len(idx), dtype=np.uint8)
        value[on] = info.region_map[row[on], col[on]]
        inside = value > 0
        labels.loc[idx, "cell"] = info.cell
        region_names = np.array([REGION_NAMES.get(int(v), "outside") if info.has_mask else
                                 (NO_MASK_REGION if v else "outside") for v in value], dtype=object)
        labels.loc[idx, "region"] = region_names
        labels.loc[idx, "in_window"] = inside
        kept = idx[inside]
        kept_points = points[inside]
        unit = cells.setdefault(info.cell, _Unit(info.cell, "cell", [], 0))
        unit.patterns.append((kept_points, window, kept, info.image))
        unit.n_images += 1
        present = sorted(set(int(v) for v in np.unique(info.region_map)) - {0})
        for v in present:
            name = REGION_NAMES.get(v, str(v)) if info.has_mask else NO_MASK_REGION
            sel = value[inside] == v
            reg = regions.setdefault((info.cell, name), _Unit(info.cell, name, [], 0))
            region_window = window if len(present) == 1 else Window(info.region_map == v, size)
            reg.patterns.append((kept_points[sel], region_window, kept[sel], info.image))
            reg.n_images += 1
        group = link_groups(kept_points, dimer_distance_nm=settings.dimer_distance_nm)
        if len(group):
            gsize = np.bincount(group)
            labels.loc[kept, "group"] = group + next_group
            labels.loc[kept, "group_size"] = gsize[group]
            labels.loc[kept, "kind"] = group_kind(gsize[group])
            pairs, dist = close_pairs(kept_points, settings.dimer_distance_nm)
            group_rows.extend(_group_rows(info, kept, kept_points, group, pairs, dist, next_group))
            next_group += len(gsize)
    for unit in cells.values():
        unit.n_images = len({p[3] for p in unit.patterns})
    groups = pd.DataFrame(group_rows, columns=["cell", "image", "group", "size", "kind", "x_nm", "y_nm",
                                               "members", "distances_nm"])
    return labels, list(cells.values()), list(regions.values()), groups


def _group_rows(info, kept, points, group, pairs, dist, offset):
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    pair_group = group[pairs[:, 0]] if len(pairs) else np.empty(0, dtype=np.int64)
    by_group = pd.Series(np.arange(len(pair_group))).groupby(pair_group).indices if len(pairs) else {}
    rows = []
    for s, e in zip(starts, ends):
        members = order[s:e]
        g = int(group[members[0]])
        centre = points[members].mean(axis=0)
        d = dist[by_group[g]] if g in by_group else []
        rows.append({"cell": info.cell, "image": info.image, "group": g + offset, "size": len(members),
                     "kind": str(group_kind(len(members))), "x_nm": round(float(centre[0]), 2),
                     "y_nm": round(float(centre[1]), 2), "members": ";".join(str(int(kept[m])) for m in members),
                     "distances_nm": ";".join(f"{x:.1f}" for x in d)})
    return rows


def _same_windows(region: _Unit, unit: _Unit) -> bool:
    return region.n_labels == unit.n_labels and len(region.patterns) == len(unit.patterns) and all(
        a[1] is b[1] or np.array_equal(a[1].mask, b[1].mask) for a, b in zip(region.patterns, unit.patterns))


def _spacing_subset(patterns_per_cell, *, likelihoods, r_min, r_max, hard_core=0.0, max_labels: int = 20000,
                    per_cell: int = 2000):
    """Likelihoods used to fit the shared dimer spacing, at most ``max_labels`` labels in all.

    Every cell contributes; a cell with more than its share contributes a band of its windows
    (the rows of the mask up to the quantile that holds its share of labels).
    """
    share = max(per_cell // 3, min(per_cell, max_labels // max(1, len(likelihoods))))
    chosen = []
    for patterns, lik in zip(patterns_per_cell, likelihoods):
        if lik.n_labels <= share:
            chosen.append(lik)
            continue
        keep = share / lik.n_labels
        cropped = []
        for points, window in patterns:
            if len(points) < 2:
                continue
            cut_nm = np.quantile(points[:, 1], keep)
            cut_row = int(np.floor(cut_nm / window.pixel_size_nm + 0.5))
            mask = window.mask.copy()
            mask[cut_row:] = False
            sub = Window(mask, window.pixel_size_nm)
            inside = sub.contains(points)
            if inside.sum() >= 2 and sub.area_nm2 > 0:
                cropped.append((points[inside], sub))
        if cropped:
            chosen.append(PairingLikelihood(cropped, r_min_nm=r_min, r_max_nm=r_max, hard_core_nm=hard_core))
    return chosen


def _analyze_unit(unit: _Unit, settings, min_distance, r_edges, mu, sigma, r_min, likelihood, *, seed,
                  curves=True):
    """Statistics of one cell or region: observed and simulated pair counts, estimate, call."""
    n = unit.n_labels
    area = unit.area_um2
    sizes = [np.bincount(link_groups(p[0], dimer_distance_nm=settings.dimer_distance_nm)) for p in unit.patterns
             if len(p[0])]
    sizes = np.concatenate(sizes) if sizes else np.empty(0, dtype=np.int64)
    observed = _counts(unit.patterns, r_edges, settings.dimer_distance_nm)
    row = {"cell": unit.cell, "n_images": unit.n_images, "n_labels": n, "area_um2": round(area, 6),
           "density_per_um2": n / area if area > 0 else np.nan,
           "n_monomers": int(np.sum(sizes == 1)), "n_dimers": int(np.sum(sizes == 2)),
           "n_clusters": int(np.sum(sizes >= 3)), "paired_fraction_observed": observed.paired_fraction}
    empty = {"paired_fraction_random": np.nan, "dimer_fraction": np.nan, "dimer_fraction_low": np.nan,
             "dimer_fraction_high": np.nan, "p_value": np.nan, "call": "too-few-labels"}
    if n < settings.min_labels or likelihood is None:
        row.update(empty)
        return row, observed, [], []
    sims = _null_counts([(len(p[0]), p[1]) for p in unit.patterns], simulations=settings.simulations,
                        min_distance=min_distance, r_edges=r_edges, dimer_distance=settings.dimer_distance_nm,
                        seed=seed, workers=settings.workers)
    random_fraction = np.array([s.paired_fraction for s in sims])
    fit = fit_fraction(likelihood, mu, sigma)
    p = settings.labeling_efficiency
    f, lo, hi = (min(1.0, max(0.0, v / p)) for v in (fit.phi, fit.phi_low, fit.phi_high))
    if hi < settings.call_threshold:
        call = "dimer-depleted"
    elif lo > settings.call_threshold:
        call = "dimer-rich"
    else:
        call = "undetermined"
    row.update({"paired_fraction_random": float(random_fraction.mean()), "dimer_fraction": f,
                "dimer_fraction_low": lo, "dimer_fraction_high": hi,
                "p_value": monte_carlo_p_value(observed.paired_fraction, random_fraction), "call": call})
    curve_rows = _curve_rows("cell", unit.cell, observed, sims, r_edges) if curves else []
    return row, observed, sims, curve_rows


_JOB: tuple | None = None  # the null-model job that forked workers inherit


def _null_counts(patterns, *, simulations, min_distance, r_edges, dimer_distance, seed, workers):
    """Pair counts of ``simulations`` hard-core random patterns with each image's label count.

    Simulation k uses the seed ``(*seed, k)``, so results do not depend on ``workers``.
    """
    global _JOB
    job = (patterns, min_distance, r_edges, dimer_distance, tuple(seed))
    indices = np.arange(simulations)
    if workers > 1 and simulations >= 4 * workers:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            context = multiprocessing.get_context("fork")
        except ValueError:
            context = None
        if context is not None:
            _JOB = job
            try:
                with ProcessPoolExecutor(workers, mp_context=context) as pool:
                    parts = list(pool.map(_simulate_chunk, np.array_split(indices, workers)))
            finally:
                _JOB = None
            return [c for part in parts for c in part]
    _JOB = job
    try:
        return _simulate_chunk(indices)
    finally:
        _JOB = None


def _simulate_chunk(indices) -> list[PairCounts]:
    patterns, min_distance, r_edges, dimer_distance, seed = _JOB
    out = []
    for k in indices:
        rng = np.random.default_rng([*seed, int(k)])
        total = None
        for n, window in patterns:
            fake = hardcore_points(window, n, min_distance_nm=min_distance, rng=rng)
            c = pair_counts(fake, window, r_edges_nm=r_edges, dimer_distance_nm=dimer_distance)
            total = c if total is None else total + c
        out.append(total)
    return out


def _counts(patterns, r_edges, dimer_distance_nm) -> PairCounts:
    total = PairCounts(np.zeros(len(r_edges) - 1), 0.0, 0, 0)
    for points, window, _, _ in patterns:
        total = total + pair_counts(points, window, r_edges_nm=r_edges, dimer_distance_nm=dimer_distance_nm)
    return total


def _curve_rows(scope, name, observed: PairCounts, sims: list, r_edges) -> list[dict]:
    g, lr = curves_from_counts(observed, r_edges)
    sim_curves = [curves_from_counts(s, r_edges) for s in sims]
    g_sims = np.array([c[0] for c in sim_curves])
    l_sims = np.array([c[1] for c in sim_curves])
    g_env = rank_envelope(g, g_sims)
    l_env = rank_envelope(lr, l_sims)
    centres = 0.5 * (r_edges[1:] + r_edges[:-1])
    return [{"scope": scope, "name": name, "r_nm": float(centres[i]), "r_upper_nm": float(r_edges[i + 1]),
             "g": g[i], "g_low": g_env.low[i], "g_high": g_env.high[i], "g_mean_random": g_sims[:, i].mean(),
             "l_minus_r": lr[i], "l_low": l_env.low[i], "l_high": l_env.high[i],
             "g_envelope_p_value": g_env.p_value, "l_envelope_p_value": l_env.p_value}
            for i in range(len(centres))]


def _pooled_curves(null_counts: dict, r_edges) -> list[dict]:
    """g(r) and L(r) - r pooled over the cells of each call (simulation k of every cell pooled)."""
    rows = []
    for call in CALLS[:3]:
        members = [(obs, sims) for c, obs, sims in null_counts.values() if c == call and sims]
        if not members:
            continue
        observed = members[0][0]
        for obs, _ in members[1:]:
            observed = observed + obs
        n_sims = min(len(s) for _, s in members)
        pooled = []
        for k in range(n_sims):
            total = members[0][1][k]
            for _, sims in members[1:]:
                total = total + sims[k]
            pooled.append(total)
        rows.extend(_curve_rows("call", call, observed, pooled, r_edges))
    return rows
