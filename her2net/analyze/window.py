"""Observation windows defined by binary masks: area, set covariance, random points.

A window is the analysed part of one image: a boolean mask on the image's pixel grid and the pixel
size. Coordinates follow the project convention: ``x_nm = column * pixel_size_nm``,
``y_nm = row * pixel_size_nm``, the centre of pixel (0, 0) at (0, 0); pixel (r, c) covers
``[(c - 0.5) s, (c + 0.5) s) x [(r - 0.5) s, (r + 0.5) s)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Window"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Window:
    """A binary-mask observation window.

    Attributes
    ----------
    mask : ndarray of bool, shape (H, W)
        True inside the analysed area.
    pixel_size_nm : float
        Side of one mask pixel in nm.
    """

    mask: np.ndarray
    pixel_size_nm: float
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        mask = np.asarray(self.mask, dtype=bool)
        if mask.ndim != 2:
            raise ValueError(f"mask: expected a 2-D array, got shape {mask.shape}")
        object.__setattr__(self, "mask", mask)
        if not self.pixel_size_nm > 0:
            raise ValueError(f"pixel_size_nm: must be > 0, got {self.pixel_size_nm}")

    @classmethod
    def full(cls, shape, *, pixel_size_nm: float) -> "Window":
        """A window covering the whole image of ``shape`` (rows, columns)."""
        return cls(np.ones(shape, dtype=bool), float(pixel_size_nm))

    @property
    def area_nm2(self) -> float:
        """Area of the window in nm²."""
        return float(self.mask.sum()) * self.pixel_size_nm**2

    @property
    def area_um2(self) -> float:
        """Area of the window in µm²."""
        return self.area_nm2 * 1e-6

    def pixel_index(self, points_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row and column of the pixel holding each point, and whether it lies on the image."""
        points_nm = np.asarray(points_nm, dtype=float).reshape(-1, 2)
        col = np.floor(points_nm[:, 0] / self.pixel_size_nm + 0.5).astype(np.int64)
        row = np.floor(points_nm[:, 1] / self.pixel_size_nm + 0.5).astype(np.int64)
        on = (row >= 0) & (row < self.mask.shape[0]) & (col >= 0) & (col < self.mask.shape[1])
        return row, col, on

    def contains(self, points_nm: np.ndarray) -> np.ndarray:
        """Boolean array: which points (N, 2) as (x_nm, y_nm) lie inside the window."""
        row, col, on = self.pixel_index(points_nm)
        inside = np.zeros(len(row), dtype=bool)
        inside[on] = self.mask[row[on], col[on]]
        return inside

    def uniform_points(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """``n`` points drawn uniformly in the window, (n, 2) as (x_nm, y_nm)."""
        flat = self._flat_index()
        if flat.size == 0:
            raise ValueError("mask: the window is empty")
        pick = flat[rng.integers(0, flat.size, size=n)]
        row, col = np.divmod(pick, self.mask.shape[1])
        jitter = rng.random((n, 2)) - 0.5
        return np.column_stack([col + jitter[:, 0], row + jitter[:, 1]]) * self.pixel_size_nm

    def _flat_index(self) -> np.ndarray:
        if "flat" not in self._cache:
            self._cache["flat"] = np.flatnonzero(self.mask.ravel())
        return self._cache["flat"]

    def set_covariance(self, max_lag_nm: float) -> np.ndarray:
        """Set covariance γ_W(v) = |W ∩ (W + v)| in nm² for lags up to ``max_lag_nm``.

        Computed by FFT autocorrelation of the mask, zero-padded so that lags up to the maximum
        do not wrap around.

        Returns
        -------
        ndarray of float, shape (2R + 1, 2R + 1)
            ``gamma[R + dy_px, R + dx_px]``, with ``R = ceil(max_lag_nm / pixel_size_nm)``.
        """
        lag_px = int(np.ceil(max_lag_nm / self.pixel_size_nm))
        key = ("gamma", lag_px)
        larger = [k for k in self._cache if isinstance(k, tuple) and k[0] == "gamma" and k[1] >= lag_px]
        if key not in self._cache and larger:
            big = self._cache[min(larger)]
            extra = min(larger)[1] - lag_px
            return big[extra: big.shape[0] - extra, extra: big.shape[1] - extra]
        if key not in self._cache:
            from scipy import fft

            h, w = self.mask.shape
            shape = (fft.next_fast_len(h + lag_px + 1), fft.next_fast_len(w + lag_px + 1))
            spectrum = fft.rfft2(self.mask.astype(np.float64), s=shape)
            auto = fft.irfft2(spectrum * np.conj(spectrum), s=shape)
            auto = np.fft.fftshift(auto)
            cy, cx = shape[0] // 2, shape[1] // 2
            gamma = auto[cy - lag_px: cy + lag_px + 1, cx - lag_px: cx + lag_px + 1]
            self._cache[key] = np.clip(np.rint(gamma), 0, None) * self.pixel_size_nm**2
        return self._cache[key]

    def covariance_at(self, delta_nm: np.ndarray, max_lag_nm: float) -> np.ndarray:
        """γ_W at displacements ``delta_nm`` (M, 2) as (dx_nm, dy_nm), nearest lag pixel."""
        gamma = self.set_covariance(max_lag_nm)
        lag_px = (gamma.shape[0] - 1) // 2
        index = np.rint(delta_nm / self.pixel_size_nm).astype(np.int64)
        np.clip(index, -lag_px, lag_px, out=index)
        index += lag_px
        return gamma.ravel()[index[:, 1] * gamma.shape[1] + index[:, 0]]

    def isotropic_covariance(self, radii_nm: np.ndarray, *, n_angles: int = 64) -> np.ndarray:
        """Angular mean of γ_W at each radius (nm²): ∫_W P(x + r·u ∈ W) dx over directions u."""
        radii_nm = np.asarray(radii_nm, dtype=float)
        theta = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
        delta = np.stack([np.outer(radii_nm, np.cos(theta)), np.outer(radii_nm, np.sin(theta))], -1)
        values = self.covariance_at(delta.reshape(-1, 2), float(radii_nm.max()) + self.pixel_size_nm)
        return values.reshape(len(radii_nm), n_angles).mean(axis=1)

    def circle_fraction_inside(self, points_nm: np.ndarray, radii_nm: np.ndarray, *,
                               n_angles: int = 32) -> np.ndarray:
        """Fraction of the circle of each radius around each point that lies in the window.

        Points further than the largest radius from the mask's edge get exactly 1 without
        sampling.

        Returns
        -------
        ndarray of float, shape (N, len(radii_nm))
        """
        points_nm = np.asarray(points_nm, dtype=float).reshape(-1, 2)
        radii_nm = np.asarray(radii_nm, dtype=float)
        out = np.ones((len(points_nm), len(radii_nm)))
        if len(points_nm) == 0:
            return out
        depth = self._edge_distance_nm()
        row, col, on = self.pixel_index(points_nm)
        near = np.ones(len(points_nm), dtype=bool)
        near[on] = depth[row[on], col[on]] <= radii_nm.max() + 1.5 * self.pixel_size_nm
        idx = np.flatnonzero(near)
        if idx.size == 0:
            return out
        theta = (np.arange(n_angles) + 0.5) * (2 * np.pi / n_angles)
        unit = np.column_stack([np.cos(theta), np.sin(theta)])
        for start in range(0, idx.size, 2048):
            chunk = idx[start:start + 2048]
            ring = (points_nm[chunk, None, None, :]
                    + radii_nm[None, :, None, None] * unit[None, None, :, :])
            inside = self.contains(ring.reshape(-1, 2)).reshape(len(chunk), len(radii_nm), n_angles)
            out[chunk] = inside.mean(axis=2)
        return out

    def _edge_distance_nm(self) -> np.ndarray:
        if "edt" not in self._cache:
            from scipy import ndimage

            # Chessboard distance <= Euclidean distance: a safe (cheap) test for "far from the edge".
            padded = np.pad(self.mask, 1, constant_values=False)
            depth = ndimage.distance_transform_cdt(padded, metric="chessboard")[1:-1, 1:-1]
            self._cache["edt"] = depth * self.pixel_size_nm
        return self._cache["edt"]
