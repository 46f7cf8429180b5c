"""Things in an image that are not labels: debris, salt crystals, membrane particles, membranes.

Each function draws its objects and splats them into the object layer (see
:mod:`her2net.simulate.splat`) with amplitudes relative to the label contrast ``label_amp``.
"""

from __future__ import annotations

import numpy as np

from her2net.simulate.splat import splat

__all__ = ["add_debris", "add_salt", "add_particles", "add_membranes"]


def _uniform_points(rng, n, shape, margin_px):
    h, w = shape
    x = rng.uniform(-margin_px, w - 1 + margin_px, n)
    y = rng.uniform(-margin_px, h - 1 + margin_px, n)
    return x, y


def _count(rng, per_um2, shape, px_nm, margin_px=0.0):
    area = (shape[0] + 2 * margin_px) * (shape[1] + 2 * margin_px) * px_nm**2 * 1e-6
    return int(rng.poisson(per_um2 * area)) if per_um2 > 0 else 0


def add_debris(rng, layer, p, *, label_amp, sign=1.0):
    """Irregular lumps (clusters of soft ellipsoids), 10–150 nm, bright or dark like labels."""
    px = p["pixel_size_nm"]
    margin = 150 / px
    n = _count(rng, p["debris_per_um2"], layer.shape, px, margin)
    if n == 0:
        return
    cx, cy = _uniform_points(rng, n, layer.shape, margin)
    size = np.exp(rng.uniform(np.log(10), np.log(150), n)) / px
    parts = rng.integers(3, 9, n)
    owner = np.repeat(np.arange(n), parts)
    m = owner.size
    x = cx[owner] + rng.normal(0, 0.35, m) * size[owner]
    y = cy[owner] + rng.normal(0, 0.35, m) * size[owner]
    a = size[owner] * rng.uniform(0.15, 0.5, m)
    b = a * rng.uniform(0.4, 1.0, m)
    amp = sign * label_amp * rng.uniform(0.1, 0.8, n)[owner]
    splat(layer, x, y, a=a, b=b, angle=rng.uniform(0, np.pi, m), amp=amp, k=rng.uniform(0.1, 1.5, m))


def add_salt(rng, layer, p, *, label_amp, sign=1.0):
    """Salt crystals: sharp-edged, flat, high-contrast rectangles 16–160 nm."""
    px = p["pixel_size_nm"]
    margin = 300 / px
    n = _count(rng, p["salt_per_um2"], layer.shape, px, margin)
    if n == 0:
        return
    x, y = _uniform_points(rng, n, layer.shape, margin)
    a = np.exp(rng.uniform(np.log(8), np.log(80), n)) / px
    b = a * rng.uniform(0.5, 1.0, n)
    splat(layer, x, y, a=a, b=b, angle=rng.uniform(0, np.pi, n),
          amp=sign * label_amp * rng.uniform(0.5, 3.0, n), k=rng.uniform(2, 8, n), power=8.0)


def add_particles(rng, layer, p, *, label_amp, mask, sign=1.0):
    """Non-label particles of label-like size on the membrane.

    Replicas (``specimen == 'replica'``): intramembrane particles shadowed with Pt/C: a dark metal
    cap plus a bright elongated shadow behind it (``shadow_contrast`` times the cap's contrast),
    lower contrast than gold. Otherwise: soft, low-contrast biological particles (ribosome-like
    in sections, proteins in liquid).
    """
    px = p["pixel_size_nm"]
    n = _count(rng, p["particles_per_um2"], layer.shape, px)
    if n == 0:
        return
    x, y = _uniform_points(rng, n, layer.shape, 0.0)
    h, w = layer.shape
    if mask is not None:
        inside = mask[np.clip(np.rint(y).astype(int), 0, h - 1), np.clip(np.rint(x).astype(int), 0, w - 1)] > 0.5
        x, y = x[inside], y[inside]
    n = x.size
    if n == 0:
        return
    d = p["particle_diameter_nm"] * rng.uniform(0.6, 1.4, n) / px
    # Peak contrast relative to the labels' (the profiles below have k = 0.3 or 0.2).
    amp = sign * label_amp * p["particle_contrast"] * rng.uniform(0.5, 1.5, n)
    amp = amp / -np.expm1(-0.3 if p["specimen"] == "replica" else -0.2)
    if p["specimen"] == "replica":
        # Metal piles up on the side facing the source (a dark crescent-like cap); behind the
        # particle no metal lands (a bright shadow). A reversed print (shadow_sign -1) inverts
        # the whole image, gold included (see simulate_tile), never the shadows alone.
        ang = p["shadow_angle"] + rng.normal(0, 0.05, n)
        cx = x - np.cos(ang) * d * 0.15
        cy = y - np.sin(ang) * d * 0.15
        splat(layer, cx, cy, a=d / 2, b=d / 2 * rng.uniform(0.7, 1.0, n), angle=ang, amp=amp, k=0.3)
        length = d * p["shadow_length"]
        sx = x + np.cos(ang) * (d / 2 + length / 2)
        sy = y + np.sin(ang) * (d / 2 + length / 2)
        splat(layer, sx, sy, a=length / 2 + d / 4, b=d / 2, angle=ang,
              amp=-p["shadow_contrast"] * amp, k=0.3)
    else:
        splat(layer, x, y, a=d / 2, b=d / 2 * rng.uniform(0.6, 1.0, n), angle=rng.uniform(0, np.pi, n),
              amp=amp, k=0.2)


def add_membranes(layer, field, p, *, label_amp, sign=1.0):
    """Stained membranes of a section: thin lines along the zero level set of a smooth field."""
    if p["membrane_lines"] <= 0:
        return
    px = p["pixel_size_nm"]
    grad = np.hypot(*np.gradient(field))
    width = (4.0 / px) * (grad + 1e-6)  # about 4 nm wide lines
    layer += sign * label_amp * p["membrane_lines"] * np.exp(-(field / width) ** 2)
