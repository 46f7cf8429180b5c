"""Spotiflow trained from scratch on her2net's synthetic tiles, as a peer (optional).

Spotiflow is not a dependency of her2net. It is installed in a separate virtual environment so
that it cannot change the project's torch (see benchmarks/README.md)::

    python3 -m venv /tmp/spotiflow-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" \
        > /tmp/spotiflow-venv/lib/python3.11/site-packages/project_venv.pth
    /tmp/spotiflow-venv/bin/pip install --no-deps spotiflow configargparse crick csbdeep h5py \
        pydash tensorboard zarr psutil six protobuf
    /tmp/spotiflow-venv/bin/pip install wandb

Train (tiles from ``her2net.simulate.simulate_tile`` with full domain randomisation, rescaled to
1 nm/px like her2net's input), then time or use it::

    /tmp/spotiflow-venv/bin/python -m benchmarks.spotiflow_peer train --out /tmp/spotiflow-model \
        [--tiles 256] [--epochs 20] [--max-minutes 15]

:class:`SpotiflowPeer` has the interface of the peers in ``benchmarks.peers`` (``detect(sample,
params)``), so ``bench_detection_accuracy`` can score it when run from that environment.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

NATIVE_PIXEL_SIZE_NM = 1.0


def _to_native(image: np.ndarray, pixel_size_nm: float, polarity: str):
    from her2net.model.preprocess import normalize_image, resample_image

    scale = pixel_size_nm / NATIVE_PIXEL_SIZE_NM
    image = normalize_image(image, polarity=polarity)
    return resample_image(image, scale=scale) if abs(scale - 1) > 1e-6 else image


def training_tiles(n_tiles: int, *, size_px: int = 128, seed: int = 0):
    """(images at 1 nm/px, points as (y, x) arrays) of randomised simulated tiles."""
    from her2net.model.preprocess import points_to_resampled_frame
    from her2net.simulate import simulate_tile

    images, points = [], []
    rng = np.random.default_rng(seed)
    for _ in range(n_tiles):
        px = float(np.exp(rng.uniform(np.log(0.5), np.log(3.0))))
        n = max(16, int(round(size_px * NATIVE_PIXEL_SIZE_NM / px)))
        image, pts, meta = simulate_tile(rng, n, pixel_size_nm=px)
        native = _to_native(image, px, meta["polarity"])
        pts = points_to_resampled_frame(pts, image.shape, native.shape)
        images.append(native.astype(np.float32))
        points.append(pts[:, ::-1].astype(np.float32))
    return images, points


class SpotiflowPeer:
    """A trained Spotiflow model behind the peers' interface (its own threshold, nothing tuned)."""

    name = "spotiflow"
    size_grid = ({},)
    threshold_acts_inside = True

    def __init__(self, folder):
        from spotiflow.model import Spotiflow

        self.model = Spotiflow.from_folder(str(folder), map_location="cpu")

    def detect(self, sample, params: dict, *, image=None):
        from her2net.model.preprocess import points_to_input_frame

        native = _to_native(sample.image, sample.pixel_size_nm, sample.polarity)
        pts, details = self.model.predict(native, normalizer=None, verbose=False, device="cpu",
                                          prob_thresh=params.get("threshold"))
        xy = points_to_input_frame(np.asarray(pts)[:, ::-1], sample.image.shape, native.shape)
        return xy, np.asarray(details.prob, dtype=float)


def train(out: Path, *, tiles: int, epochs: int, max_minutes: float, seed: int = 0) -> float:
    """Train from scratch; return the wall time in seconds."""
    import lightning.pytorch as pl
    from spotiflow.model import Spotiflow, SpotiflowModelConfig, SpotiflowTrainingConfig

    t0 = time.perf_counter()
    train_x, train_y = training_tiles(tiles, seed=seed)
    val_x, val_y = training_tiles(max(8, tiles // 8), seed=seed + 1)
    print(f"simulated {len(train_x)} + {len(val_x)} tiles in {time.perf_counter() - t0:.0f} s")
    model = Spotiflow(SpotiflowModelConfig(sigma=1.0, initial_fmaps=16, levels=3))
    config = SpotiflowTrainingConfig(crop_size=128, num_epochs=epochs, batch_size=4,
                                     optimize_threshold=True)
    stop = pl.callbacks.Timer(duration={"minutes": max_minutes})
    t1 = time.perf_counter()
    model.fit(train_x, train_y, val_x, val_y, save_dir=str(out), train_config=config,
              device="cpu", logger=pl.loggers.CSVLogger(str(out)), callbacks=[stop],
              deterministic=False)
    seconds = time.perf_counter() - t1
    print(f"trained {epochs} epochs (or {max_minutes:g} min) in {seconds:.0f} s -> {out}")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tiles", type=int, default=256)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-minutes", type=float, default=15.0)
    args = parser.parse_args(argv)
    train(args.out, tiles=args.tiles, epochs=args.epochs, max_minutes=args.max_minutes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
