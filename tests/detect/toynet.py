"""A fixed, classical stand-in for the U-Net, so that tiling, rescaling and polarity can be tested
quickly without the trained checkpoint: the heatmap is a matched (Gaussian) filter of the
normalised image, the offsets its local centroid, with the same interface as the U-Net."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class ToyNet(nn.Module):
    """Heatmap logit = gain * (Gaussian-filtered image - background); offsets = local centroid.

    Parameters
    ----------
    sigma_px : float
        Gaussian width of the matched filter (native pixels).
    gain : float
        Logit gain.
    level : float
        Filtered level of logit 0.
    """

    size_multiple = 16
    receptive_field_px = 33

    def __init__(self, *, sigma_px: float = 1.5, gain: float = 12.0, level: float = 0.25):
        super().__init__()
        radius = 6
        r = np.arange(-radius, radius + 1, dtype=np.float64)
        g1 = np.exp(-0.5 * (r / sigma_px) ** 2)
        g1 /= g1.sum()
        kernel = np.outer(g1, g1)
        local = 2
        ones = np.zeros((2 * radius + 1, 2 * radius + 1))
        ones[radius - local:radius + local + 1, radius - local:radius + local + 1] = 1.0
        yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float64)
        weights = np.stack([kernel, ones, ones * xx, ones * yy])[:, None]
        self.conv = nn.Conv2d(1, 4, 2 * radius + 1, padding=radius, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.as_tensor(weights, dtype=torch.float32))
        self.gain = gain
        self.level = level
        self.background = nn.AvgPool2d(15, stride=1, padding=7, count_include_pad=False)

    def forward(self, x):
        # Computed in float32 whatever precision the runner chose (the toy is not made for
        # bfloat16 arithmetic); the output is returned in the input's dtype like a real network.
        dtype = x.dtype
        x = x.float()
        weight = self.conv.weight.float()
        smooth = F.conv2d(x, weight[:1], padding=self.conv.padding)
        signal = F.relu(smooth - self.background(smooth))
        # Centroid of the background-subtracted image in a 5x5 window around each pixel.
        weights = F.relu(x - self.background(x))
        parts = F.conv2d(weights, weight[1:], padding=self.conv.padding)
        mass = parts[:, :1].clamp_min(1e-6)
        offsets = parts[:, 1:] / mass
        logit = self.gain * (signal - self.level)
        return torch.cat([logit, offsets], dim=1).to(dtype)


def render_labels(points_xy, shape, *, sigma_px: float = 1.5, amplitude: float = 1.0,
                  background: float = 0.1, noise: float = 0.0, rng=None) -> np.ndarray:
    """Gaussian spots at ``points_xy`` (x = column) on a flat background, float32."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    image = np.full(shape, background, dtype=np.float64)
    for x, y in np.asarray(points_xy, dtype=np.float64).reshape(-1, 2):
        r0, r1 = max(0, int(y) - 8), min(shape[0], int(y) + 9)
        c0, c1 = max(0, int(x) - 8), min(shape[1], int(x) + 9)
        image[r0:r1, c0:c1] += amplitude * np.exp(
            -0.5 * ((xx[r0:r1, c0:c1] - x) ** 2 + (yy[r0:r1, c0:c1] - y) ** 2) / sigma_px**2)
    if noise:
        image += rng.normal(0.0, noise, shape)
    return image.astype(np.float32)
