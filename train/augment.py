"""Augmentation presets (albumentations, keypoint-aware) for training tiles.

A preset name maps to a pipeline, like torchvision's ``references/*/presets.py``. Tiles are
normalised float32 images (labels bright, background near 0, bright labels near 1) with their
label centres as (x, y) keypoints.
"""

from __future__ import annotations

import random

import albumentations as A
import numpy as np

OFFSET = 0.0
_MARGIN = 4

__all__ = ["PRESETS", "build_augmentation", "apply_augmentation", "seed_pipeline"]


def _synthetic():
    # The simulator already randomises contrast, noise and blur: only the symmetries of the plane.
    return [A.D4(p=1.0)]


def _annotated():
    return [
        A.D4(p=1.0),
        A.Affine(scale=(0.9, 1.1), rotate=0, p=0.5, border_mode=0),
        A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.25, p=0.7),
        A.GaussNoise(std_range=(0.0, 0.08), p=0.5),
        A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.2, 1.0), p=0.3),
    ]


def _none():
    return []


PRESETS = {"synthetic": _synthetic, "annotated": _annotated, "none": _none}


def build_augmentation(name: str) -> A.Compose:
    """Return the albumentations pipeline for preset ``name`` ('synthetic', 'annotated', 'none')."""
    if name not in PRESETS:
        raise ValueError(f"unknown augmentation preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return A.Compose(
        PRESETS[name](),
        keypoint_params=A.KeypointParams(format="xy", label_fields=["weights"], remove_invisible=True),
    )


def seed_pipeline(pipeline: A.Compose, key) -> None:
    """Make ``pipeline``'s next draws a function of ``key`` (a tuple of non-negative ints).

    One numpy and one Python generator, shared by every transform of the pipeline (as
    ``Compose.set_random_state`` does), both derived from ``key``.
    """
    sequence = np.random.SeedSequence(list(key))
    pipeline.set_random_state(np.random.default_rng(sequence),
                              random.Random(int(sequence.generate_state(1, np.uint64)[0])))


def apply_augmentation(pipeline: A.Compose, image: np.ndarray, points: np.ndarray, weights=None):
    """Augment ``image`` and its (x_px, y_px) ``points`` (pixel centres at integers).

    albumentations 2 keypoints already use the same convention for flips and 90° rotations
    (checked in tests/train/test_augment.py); ``OFFSET`` converts if a version differs.
    Labels whose centre lies just outside the tile still mark the tile, so the image is padded by
    ``margin`` pixels first (albumentations drops keypoints outside the image) and cropped back.
    ``weights`` (one per point, default 1) travel with the points; returns
    ``(image, points, weights)``.
    """
    margin = _MARGIN
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    weights = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    h, w = image.shape
    inside = ((points[:, 0] > -margin) & (points[:, 0] < w + margin - 1)
              & (points[:, 1] > -margin) & (points[:, 1] < h + margin - 1))
    padded = np.pad(image, margin, mode="edge")
    keypoints = points[inside] + margin + OFFSET
    out = pipeline(image=padded, keypoints=keypoints, weights=list(weights[inside]))
    new_points = np.asarray(out["keypoints"], dtype=np.float64).reshape(-1, 2)[:, :2] - OFFSET - margin
    new_weights = np.asarray(out["weights"], dtype=np.float64).reshape(-1)
    new_image = out["image"][margin:-margin, margin:-margin]
    return np.ascontiguousarray(new_image, dtype=np.float32), new_points, new_weights
