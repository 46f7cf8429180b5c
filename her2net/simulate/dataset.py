"""Whole simulated data sets: images, masks, manifest and ground truth, as `her2net simulate` writes.

Library entry point::

    simulate_dataset(out_dir, *, cells, images_per_cell, size_px, pixel_size_nm=None,
                     pixel_size_range_nm=(0.8, 1.6), dose_e_per_A2=None, label="gold",
                     polarity="bright", dimer_fraction=None, dimer_fraction_range=(0.0, 0.5),
                     dimer_absent_fraction=0.2, labeling_efficiency=1.0, seed=0, workers=1,
                     float_output=False, overwrite=False, preview=False, **options)
        -> SimulatedDataset

Files written into ``out_dir`` (see docs/simulator.md): ``images/<name>.tif``,
``masks/<name>_mask.tif``, ``cells.csv``, ``truth.csv``, ``cell_truth.csv``, ``image_truth.csv``,
``params.json`` and, with ``preview``, ``preview.png``. The same arguments and seed give
byte-identical files, whatever the number of workers.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from her2net.errors import InputError
from her2net.simulate.cell import (TRUTH_COLUMNS, draw_outline, labelled_points, place_fields_of_view,
                                   region_codes, region_complexes)
from her2net.simulate.labels import LABEL_KINDS, LabelSpec
from her2net.simulate.noise import electrons_per_pixel, record
from her2net.simulate.params import PARAM_NAMES, draw_params
from her2net.simulate.scene_maps import maps_from_codes
from her2net.simulate.tile import render_scene, resolve_signal

__all__ = ["DatasetConfig", "SimulatedDataset", "simulate_dataset", "simulate_cell"]

log = logging.getLogger(__name__)

#: Physics parameters recorded per image in image_truth.csv.
IMAGE_PARAM_COLUMNS = ("polarity", "specimen", "label", "dose_e_per_A2", "matched_snr", "label_snr", "background_level", "blur_sigma_nm",
                       "tail_weight", "texture", "gold_mfp_nm", "qd_mfp_factor", "debris_per_um2",
                       "salt_per_um2", "particles_per_um2", "scan_lines", "gain", "offset", "read_noise")


@dataclass(frozen=True)
class DatasetConfig:
    """Configuration of a simulated data set (every field is written to params.json).

    Ranges are ``(low, high)``; a cell draws its value uniformly (log-uniformly for pixel size and
    density) unless the fixed value is given.
    """

    cells: int
    images_per_cell: int
    size_px: int
    pixel_size_nm: float | None = None
    pixel_size_range_nm: tuple = (0.8, 1.6)
    dose_e_per_A2: float | None = None
    label: str = "gold"
    polarity: str = "bright"
    gold_diameters_nm: tuple = (10.0,)
    dimer_fraction: float | None = None
    dimer_fraction_range: tuple = (0.0, 0.5)
    dimer_absent_fraction: float = 0.2
    labeling_efficiency: float = 1.0
    density_range_per_um2: tuple = (200.0, 800.0)
    ruffle_fraction_range: tuple = (0.1, 0.4)
    ruffle_density_factor_range: tuple = (1.5, 3.0)
    cluster_fraction_range: tuple = (0.0, 0.1)
    dimer_distance_nm: tuple = (20.0, 4.0)
    edge_fraction: float = 0.3
    matched_snr_range: tuple = (12.0, 50.0)
    float_output: bool = False
    seed: int = 0
    physics: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`~her2net.errors.InputError` naming the first bad option."""
        for name in ("cells", "images_per_cell", "size_px"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise InputError(f"{name}: must be a positive integer, got {value!r}")
        if self.size_px < 16:
            raise InputError(f"size_px: must be at least 16, got {self.size_px}")
        for name in ("dimer_fraction", "dimer_absent_fraction", "labeling_efficiency", "edge_fraction"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and 0 <= value <= 1):
                raise InputError(f"{name}: must be in [0, 1], got {value}")
        if self.labeling_efficiency <= 0:
            raise InputError(f"labeling_efficiency: must be above 0, got {self.labeling_efficiency}")
        for name in ("dimer_fraction_range", "ruffle_fraction_range", "cluster_fraction_range"):
            lo, hi = getattr(self, name)
            if not (0 <= lo <= hi <= 1):
                raise InputError(f"{name}: must satisfy 0 <= low <= high <= 1, got {lo} {hi}")
        for name in ("pixel_size_range_nm", "density_range_per_um2", "ruffle_density_factor_range",
                     "matched_snr_range"):
            lo, hi = getattr(self, name)
            if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
                raise InputError(f"{name}: must satisfy 0 < low <= high, got {lo} {hi}")
        if self.pixel_size_nm is not None and not (np.isfinite(self.pixel_size_nm) and self.pixel_size_nm > 0):
            raise InputError(f"pixel_size_nm: must be positive, got {self.pixel_size_nm}")
        if self.dose_e_per_A2 is not None and not (np.isfinite(self.dose_e_per_A2) and self.dose_e_per_A2 > 0):
            raise InputError(f"dose_e_per_A2: must be positive, got {self.dose_e_per_A2}")
        if self.label not in LABEL_KINDS:
            raise InputError(f"label: expected one of {', '.join(LABEL_KINDS)}, got {self.label!r}")
        if self.polarity not in ("bright", "dark"):
            raise InputError(f"polarity: expected 'bright' or 'dark', got {self.polarity!r}")
        mean, sd = self.dimer_distance_nm
        if not (mean > 0 and sd >= 0):
            raise InputError(f"dimer_distance_nm: mean must be positive and sd non-negative, got {mean} {sd}")
        largest_px = self.pixel_size_nm or self.pixel_size_range_nm[1]
        smallest = min(min(self.gold_diameters_nm) if self.label != "qd" else np.inf,
                       7.0 if self.label != "gold" else np.inf)
        if smallest < largest_px:
            raise InputError(f"pixel size {largest_px:g} nm makes a {smallest:g} nm label smaller than a pixel")
        unknown = sorted(set(self.physics) - set(PARAM_NAMES))
        if unknown:
            raise InputError(f"unknown simulation parameter(s): {', '.join(unknown)}")


@dataclass(frozen=True)
class SimulatedDataset:
    """What :func:`simulate_dataset` wrote: the folder and its tables."""

    path: Path
    manifest: pd.DataFrame
    truth: pd.DataFrame
    cell_truth: pd.DataFrame
    image_truth: pd.DataFrame


def _loguniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _absent_cells(cfg: DatasetConfig) -> set:
    """The cells without dimers: exactly round(fraction * cells) of them, chosen by the seed."""
    rng = np.random.default_rng([int(cfg.seed), 0x0AB5E7])
    return set(rng.permutation(cfg.cells)[: int(round(cfg.dimer_absent_fraction * cfg.cells))].tolist())


def _draw_cell(rng, cfg: DatasetConfig, cell_index: int) -> dict:
    """Per-cell parameters (geometry, biology, pixel size)."""
    absent = cell_index in _absent_cells(cfg)
    dimer = cfg.dimer_fraction if cfg.dimer_fraction is not None else rng.uniform(*cfg.dimer_fraction_range)
    cluster = rng.uniform(*cfg.cluster_fraction_range)
    px = cfg.pixel_size_nm if cfg.pixel_size_nm is not None else round(_loguniform(rng, *cfg.pixel_size_range_nm), 4)
    return {
        "cell": f"cell{cell_index + 1:03d}",
        "pixel_size_nm": float(px),
        "label": cfg.label,
        "polarity": cfg.polarity,
        "dimer_absent": absent,
        "dimer_fraction": 0.0 if absent else float(dimer),
        "cluster_fraction": 0.0 if absent else float(min(cluster, 1 - dimer)),
        "receptor_density_flat_per_um2": _loguniform(rng, *cfg.density_range_per_um2),
        "ruffle_fraction": float(rng.uniform(*cfg.ruffle_fraction_range)),
        "ruffle_density_factor": float(rng.uniform(*cfg.ruffle_density_factor_range)),
        "dimer_distance_mean_nm": float(cfg.dimer_distance_nm[0]),
        "dimer_distance_sd_nm": float(cfg.dimer_distance_nm[1]),
        "labeling_efficiency": float(cfg.labeling_efficiency),
        "dose_e_per_A2": cfg.dose_e_per_A2,
    }


def _to_uint16(raw: np.ndarray, offset: float) -> np.ndarray:
    """Raw detector values to uint16 with the signal spread over about 40000 levels."""
    span = float(np.percentile(raw, 99.99) - min(offset, float(raw.min())))
    gain = 40000.0 / span if span > 0 else 1.0
    base = min(offset, float(raw.min()))
    out = np.rint((raw - base) * gain + 1000.0)
    return np.clip(out, 0, 65535).astype(np.uint16)


def simulate_cell(cfg: DatasetConfig, cell_index: int, out_dir: Path | None = None) -> dict:
    """Simulate (and, with ``out_dir``, write) all images of one cell.

    Returns
    -------
    dict
        ``manifest`` rows, ``truth`` DataFrame, ``cell_truth`` row, ``image_truth`` rows, and
        ``images`` (list of (name, image, mask)) when ``out_dir`` is None.
    """
    from her2net.io import write_tiff

    seq = np.random.SeedSequence([int(cfg.seed), int(cell_index)])
    cell_seq, *image_seqs = seq.spawn(1 + cfg.images_per_cell)
    rng = np.random.default_rng(cell_seq)
    c = _draw_cell(rng, cfg, cell_index)
    px = c["pixel_size_nm"]
    fov = cfg.size_px * px
    outline = draw_outline(rng, mean_radius_nm=max(8000.0, 1.5 * fov * np.sqrt(cfg.images_per_cell)))
    centres = place_fields_of_view(rng, outline, cfg.images_per_cell, fov, edge_fraction=cfg.edge_fraction)
    complexes = region_complexes(c["receptor_density_flat_per_um2"], c["ruffle_density_factor"],
                                 c["dimer_fraction"], c["dimer_fraction"], c["cluster_fraction"],
                                 (c["dimer_distance_mean_nm"], c["dimer_distance_sd_nm"]))
    spec = LabelSpec(label=cfg.label, gold_diameters_nm=tuple(cfg.gold_diameters_nm), size_jitter=0.05)
    margin = int(np.ceil((60 + spec.max_extent_nm()) / px))
    manifest, truths, image_rows, images = [], [], [], []
    area = {1: 0.0, 2: 0.0}
    receptors = {1: [0, 0], 2: [0, 0]}
    for k, iseq in enumerate(image_seqs):
        irng = np.random.default_rng(iseq)
        name = f"{c['cell']}_img{k + 1:02d}"
        codes = region_codes(irng, outline, centres[k], (cfg.size_px, cfg.size_px), px,
                             ruffle_fraction=c["ruffle_fraction"], margin_px=margin)
        points, outside, rec = labelled_points(irng, codes, px, margin, complexes, spec,
                                               labeling_efficiency=cfg.labeling_efficiency)
        mask = codes[margin:-margin, margin:-margin].copy()
        for r in (1, 2):
            area[r] += float(np.count_nonzero(mask == r)) * px * px * 1e-6
            receptors[r][0] += rec.get(r, (0, 0))[0]
            receptors[r][1] += rec.get(r, (0, 0))[1]
        overrides = {"pixel_size_nm": px, "polarity": cfg.polarity, "label": cfg.label,
                     "gold_diameters_nm": tuple(cfg.gold_diameters_nm), "cell_edge": False,
                     "dose_e_per_A2": c["dose_e_per_A2"],
                     "matched_snr": _loguniform(irng, *cfg.matched_snr_range), **cfg.physics}
        p = draw_params(irng, overrides)
        q = resolve_signal(p)
        labels_px = {
            "x": np.concatenate([points["x_px"].to_numpy(), outside["x_nm"] / px]),
            "y": np.concatenate([points["y_px"].to_numpy(), outside["y_nm"] / px]),
            "a": np.concatenate([points["_a_nm"].to_numpy(), outside["a_nm"]]) / px,
            "b": np.concatenate([points["_b_nm"].to_numpy(), outside["b_nm"]]) / px,
            "angle": np.concatenate([points["_angle"].to_numpy(), outside["angle"]]),
            "thickness_nm": np.concatenate([points["_thickness_nm"].to_numpy(), outside["thickness_nm"]]),
            "label": np.concatenate([points["label"].to_numpy(), outside["label"]]),
        }
        maps = maps_from_codes(irng, mask, q)
        signal = render_scene(irng, mask.shape, q, labels_px, maps=maps)
        raw = record(irng, signal, q, n0=electrons_per_pixel(q["dose_e_per_A2"], px),
                     background=q["background_level"])
        data = raw if cfg.float_output else _to_uint16(raw, q["offset"])
        image_rel, mask_rel = f"images/{name}.tif", f"masks/{name}_mask.tif"
        if out_dir is not None:
            write_tiff(out_dir / image_rel, data, pixel_size_nm=px)
            write_tiff(out_dir / mask_rel, mask, pixel_size_nm=px)
        else:
            images.append((name, data, mask))
        manifest.append({"image": image_rel, "cell": c["cell"], "pixel_size_nm": px, "mask": mask_rel})
        t = points[list(TRUTH_COLUMNS)].copy()
        t.insert(0, "cell", c["cell"])
        t.insert(0, "image", image_rel)
        truths.append(t)
        image_rows.append({"image": image_rel, "cell": c["cell"], "pixel_size_nm": px,
                           "n_labels": len(points), "area_um2": float(np.count_nonzero(mask)) * px * px * 1e-6,
                           **{key: q[key] for key in IMAGE_PARAM_COLUMNS}})
    truth = pd.concat(truths, ignore_index=True)
    n = len(truth)
    paired = truth["kind"] != "monomer"
    total_area = area[1] + area[2]

    def frac(mask):
        return float(paired[mask].mean()) if mask.any() else float("nan")

    n_rec = receptors[1][0] + receptors[2][0]
    cell_row = {
        "cell": c["cell"],
        "n_labels": n,
        "paired_fraction": frac(np.ones(n, dtype=bool)),
        "dimer_absent": c["dimer_absent"],
        "density_per_um2": n / total_area if total_area > 0 else float("nan"),
        "area_um2": total_area,
        "area_flat_um2": area[1],
        "area_ruffle_um2": area[2],
        "n_labels_flat": int((truth["region"] == 1).sum()),
        "n_labels_ruffle": int((truth["region"] == 2).sum()),
        "paired_fraction_flat": frac((truth["region"] == 1).to_numpy()),
        "paired_fraction_ruffle": frac((truth["region"] == 2).to_numpy()),
        "n_receptors": n_rec,
        "receptor_paired_fraction": (receptors[1][1] + receptors[2][1]) / n_rec if n_rec else float("nan"),
        **{k: v for k, v in c.items() if k not in ("cell", "dimer_absent")},
        "receptor_density_ruffle_per_um2": c["receptor_density_flat_per_um2"] * c["ruffle_density_factor"],
        "images": cfg.images_per_cell,
    }
    return {"manifest": manifest, "truth": truth, "cell_truth": cell_row, "image_truth": image_rows,
            "images": images}


def _run_cell(args):
    cfg, index, out_dir = args
    return simulate_cell(cfg, index, out_dir)


def simulate_dataset(out_dir, *, cells: int, images_per_cell: int, size_px: int,
                     pixel_size_nm: float | None = None, pixel_size_range_nm=(0.8, 1.6),
                     dose_e_per_A2: float | None = None, label: str = "gold", polarity: str = "bright",
                     dimer_fraction: float | None = None, dimer_fraction_range=(0.0, 0.5),
                     dimer_absent_fraction: float = 0.2, labeling_efficiency: float = 1.0,
                     seed: int = 0, workers: int = 1, float_output: bool = False,
                     overwrite: bool = False, preview: bool = False, **options) -> SimulatedDataset:
    """Simulate a data set of labelled cells and write it into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Output folder; must be empty or absent unless ``overwrite``. Written atomically.
    cells, images_per_cell, size_px : int
        Number of cells, images per cell, image size in pixels (square).
    pixel_size_nm : float, optional
        Fixed pixel size; otherwise each cell draws one log-uniformly from ``pixel_size_range_nm``.
    dose_e_per_A2 : float, optional
        Fixed dose; otherwise each image's dose gives a matched-filter label SNR drawn from
        ``matched_snr_range`` (an option, default (12, 50)).
    label : {'gold', 'qd', 'mixed'}
    polarity : {'bright', 'dark'}
        'bright': ADF liquid STEM; 'dark': bright-field TEM (replicas or sections).
    dimer_fraction : float, optional
        Fixed fraction of receptors in dimers per cell; otherwise drawn from ``dimer_fraction_range``.
    dimer_absent_fraction : float
        Fraction of cells with no dimers or clusters at all (``round(fraction * cells)`` cells).
    labeling_efficiency : float
        Probability that a receptor is labelled.
    seed : int
        The same seed (and options) gives byte-identical files.
    workers : int
        Processes; the output does not depend on it.
    float_output : bool
        Write raw float32 images instead of uint16.
    overwrite : bool
        Replace a non-empty ``out_dir``.
    preview : bool
        Also write ``preview.png``, a contact sheet with the truth overlaid.
    **options
        Other :class:`DatasetConfig` fields (``gold_diameters_nm``, ``density_range_per_um2``,
        ``ruffle_fraction_range``, ``ruffle_density_factor_range``, ``cluster_fraction_range``,
        ``dimer_distance_nm``, ``edge_fraction``, ``matched_snr_range``) and ``physics``: a dict
        of fixed :data:`~her2net.simulate.params.PARAM_NAMES` values for every image.

    Returns
    -------
    SimulatedDataset
    """
    from her2net.io import atomic_output_dir, check_output_dir
    from her2net._version import __version__

    known = set(DatasetConfig.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"unknown option(s): {', '.join(unknown)}")
    cfg = DatasetConfig(cells=cells, images_per_cell=images_per_cell, size_px=size_px,
                        pixel_size_nm=pixel_size_nm, pixel_size_range_nm=tuple(pixel_size_range_nm),
                        dose_e_per_A2=dose_e_per_A2, label=label, polarity=polarity,
                        dimer_fraction=dimer_fraction, dimer_fraction_range=tuple(dimer_fraction_range),
                        dimer_absent_fraction=dimer_absent_fraction,
                        labeling_efficiency=labeling_efficiency, seed=int(seed),
                        float_output=bool(float_output), **options)
    cfg.validate()
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers: must be a positive integer, got {workers!r}")
    check_output_dir(out_dir, overwrite=overwrite)
    with atomic_output_dir(out_dir, overwrite=overwrite) as tmp:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        jobs = [(cfg, i, tmp) for i in range(cfg.cells)]
        if workers > 1 and cfg.cells > 1:
            with ProcessPoolExecutor(max_workers=min(workers, cfg.cells)) as pool:
                results = list(pool.map(_run_cell, jobs))
        else:
            results = [_run_cell(job) for job in jobs]
        manifest = pd.DataFrame([row for r in results for row in r["manifest"]])
        truth = pd.concat([r["truth"] for r in results], ignore_index=True)
        # Group ids unique over the data set, numbered in order of appearance.
        truth["group"] = pd.factorize(truth["image"] + "#" + truth["group"].astype(str))[0]
        cell_truth = pd.DataFrame([r["cell_truth"] for r in results])
        image_truth = pd.DataFrame([row for r in results for row in r["image_truth"]])
        manifest.to_csv(tmp / "cells.csv", index=False)
        truth.to_csv(tmp / "truth.csv", index=False, float_format="%.4f")
        cell_truth.to_csv(tmp / "cell_truth.csv", index=False, float_format="%.6g")
        image_truth.to_csv(tmp / "image_truth.csv", index=False, float_format="%.6g")
        params = {"her2net_version": __version__, "seed": cfg.seed, "config": asdict(cfg)}
        (tmp / "params.json").write_text(json.dumps(params, indent=2, sort_keys=True, default=_json_default) + "\n")
        if preview:
            from her2net.simulate.preview import write_preview

            write_preview(tmp, manifest, truth, tmp / "preview.png")
        log.info("simulated %d cells, %d images, %d labels into %s", cfg.cells, len(manifest), len(truth), out_dir)
    return SimulatedDataset(Path(out_dir), manifest, truth, cell_truth, image_truth)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (tuple, np.ndarray)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
