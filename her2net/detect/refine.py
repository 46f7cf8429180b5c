"""Sub-pixel refinement of label centres by a local Gaussian fit on the original image.

The network's offsets give centres to a fraction of a pixel; at good signal a fit to the pixels
themselves does better, and the two errors are only partly correlated. For every detection a round
Gaussian spot on a flat background, ``b + a * exp(-r^2 / 2 s^2)``, is fitted by a few Gauss-Newton
steps to the pixels around it (all detections at once, vectorised). The width ``s`` starts from the
detection's second-moment size (a Gaussian with second moment m2 = 2 s^2) and is fitted too, within
0.5-2x of that start: for a round spot the width and the centre carry independent information, so
freeing the width costs the centre nothing, and a width fixed from the measured diameter (which
blur and noise bias) cost up to 11 % of RMSE. The window spans 3 ``s`` (2 ``s`` left out about 9 %
of a faint spot's position information), and pixels nearer to another detection are left out (a
Voronoi mask), so a dimer partner does not pull the fit. The refined centre is a weighted mean of
the network's and the fit's (``fit_weight``); where the fit fails (no spot of the label's polarity,
a singular system) or the two disagree by more than 0.3 ``s`` (something else in the window pulls
the fit), the network's centre is kept.

On clean simulated images (labels on a smooth background, two simulators) the fit lowers the
localisation RMSE by 10-30 % at good signal (to within 7-8 % of the Cramer-Rao bound on the second
simulator's 100- and 200-count images); among clutter (debris, texture, membrane particles) it
raised it by up to 12 %, because the flat-background model is wrong there. So ``detect`` gives the
fit less weight the more structured the background is (:func:`background_fit_weight`, from the
image's :func:`~her2net.detect.noise_floor.white_noise_index`): 0.75 on white noise, down to 0 on
strongly cluttered images (``python -m benchmarks.bench_refine``, ``docs/detect.md``).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["refine_centres", "background_fit_weight", "FIT_WEIGHT", "STRUCTURED_INDEX"]

_GAUSSIAN_DIAMETER_FACTOR = np.sqrt(20.0)  # measured diameter sqrt(10 m2), m2 = 2 s^2
_DEFAULT_DIAMETER_NM = 10.0
_ITERATIONS = 6
_MIN_PIXELS = 8  # pixels a fit of five parameters needs
_WIDTH_RANGE = (0.5, 2.0)  # the fitted width, relative to the one from the measured diameter
_WINDOW_SIGMAS = 3.0
_MAX_MOVE = 0.3  # fit and network must agree within 0.3 spot widths
_CHUNK_ELEMENTS = 4e6
#: The fit's share of the refined centre where the background is white noise.
FIT_WEIGHT = 0.75
#: White-noise indices between which the fit's share falls linearly from FIT_WEIGHT to 0.
STRUCTURED_INDEX = (2.5, 5.0)


def background_fit_weight(white_index: float) -> float:
    """The fit's share of a refined centre, from the image's white-noise index.

    A flat background plus a Gaussian spot is the right model on white noise (index about 1;
    dense labels at a good dose reach 1.5-1.8) and a wrong one among clutter (debris, texture,
    shadowed particles: 3-10), where the fit is pulled by whatever shares its window. The weight
    is :data:`FIT_WEIGHT` up to an index of 2.5 and falls linearly to 0 at 5. An unknown index
    (NaN: an image too small to measure it) keeps :data:`FIT_WEIGHT`.

    Parameters
    ----------
    white_index : float
        :func:`her2net.detect.noise_floor.white_noise_index` of the image.

    Returns
    -------
    float
        Weight of the fitted centre, in [0, FIT_WEIGHT].

    Examples
    --------
    >>> background_fit_weight(1.1), background_fit_weight(3.75), background_fit_weight(8.0)
    (0.75, 0.375, 0.0)
    """
    if not np.isfinite(white_index):
        return FIT_WEIGHT
    low, high = STRUCTURED_INDEX
    return float(FIT_WEIGHT * np.clip((high - white_index) / (high - low), 0.0, 1.0))


def _fit_chunk(image, centres, sigma, half, owner_tree, owner_index, sign):
    """Gauss-Newton fits of (b, a, x, y, s) for one chunk of detections sharing ``half``."""
    height, width = image.shape
    offsets = np.arange(-half, half + 1)
    cx = np.rint(centres[:, 0]).astype(np.int64)
    cy = np.rint(centres[:, 1]).astype(np.int64)
    rows = cy[:, None] + offsets[None, :]
    cols = cx[:, None] + offsets[None, :]
    valid = (((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :])
    n = len(centres)
    patch = image[np.clip(rows, 0, height - 1)[:, :, None],
                  np.clip(cols, 0, width - 1)[:, None, :]].astype(np.float32).reshape(n, -1)
    patch *= np.float32(sign)
    yy = np.broadcast_to(rows[:, :, None], valid.shape).reshape(n, -1).astype(np.float32)
    xx = np.broadcast_to(cols[:, None, :], valid.shape).reshape(n, -1).astype(np.float32)
    # Voronoi mask: only pixels whose nearest detection is this one.
    _, nearest = owner_tree.query(np.column_stack([xx.ravel(), yy.ravel()]))
    mine = (nearest.reshape(n, -1) == owner_index[:, None]) & valid.reshape(n, -1)
    weight = mine.astype(np.float32)
    count = weight.sum(axis=1)
    ok = count >= _MIN_PIXELS
    # Start: background from the window's outskirts, amplitude from its highest pixel, width from
    # the measured diameter.
    r2 = (xx - centres[:, :1]) ** 2 + (yy - centres[:, 1:]) ** 2
    outskirts = weight * (r2 > (1.5 * sigma[:, None]) ** 2)
    b = np.where(outskirts.sum(axis=1) > 0,
                 (patch * outskirts).sum(axis=1) / np.maximum(outskirts.sum(axis=1), 1),
                 (patch * weight).sum(axis=1) / np.maximum(count, 1)).astype(np.float64)
    a = np.maximum(np.max(np.where(mine, patch, -np.inf), axis=1) - b, 1e-12)
    x0, y0 = centres[:, 0].copy(), centres[:, 1].copy()
    s = sigma.astype(np.float64).copy()
    eye = 1e-9 * np.eye(5)
    for _ in range(_ITERATIONS):
        inv_s2 = (1.0 / s ** 2).astype(np.float32)[:, None]
        dx = xx - x0.astype(np.float32)[:, None]
        dy = yy - y0.astype(np.float32)[:, None]
        rr = dx * dx + dy * dy
        g = np.exp(-0.5 * rr * inv_s2)
        af = a.astype(np.float32)[:, None]
        resid = (b.astype(np.float32)[:, None] + af * g - patch) * weight
        ag = af * g * inv_s2 * weight
        d_width = ag * rr / s.astype(np.float32)[:, None]
        jac = np.stack([weight, g * weight, ag * dx, ag * dy, d_width], axis=1)  # (n, 5, K)
        jtj = np.matmul(jac, jac.transpose(0, 2, 1)).astype(np.float64) + eye
        jtr = np.matmul(jac, resid[:, :, None])[..., 0].astype(np.float64)
        try:
            step = np.linalg.solve(jtj, -jtr[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return centres, np.zeros(n, dtype=bool)
        step = np.where(np.isfinite(step), step, 0.0)
        # Damped steps: position at most half a width, width at most a quarter, per iteration;
        # the width stays within 0.5-2x the start.
        limit = 0.5 * s
        step[:, 2] = np.clip(step[:, 2], -limit, limit)
        step[:, 3] = np.clip(step[:, 3], -limit, limit)
        step[:, 4] = np.clip(step[:, 4], -0.25 * s, 0.25 * s)
        b, a, x0, y0 = b + step[:, 0], a + step[:, 1], x0 + step[:, 2], y0 + step[:, 3]
        s = np.clip(s + step[:, 4], _WIDTH_RANGE[0] * sigma, _WIDTH_RANGE[1] * sigma)
    moved = np.hypot(x0 - centres[:, 0], y0 - centres[:, 1])
    ok &= (a > 0) & (moved <= _MAX_MOVE * sigma) & np.isfinite(x0) & np.isfinite(y0)
    return np.column_stack([x0, y0]), ok


def refine_centres(image: np.ndarray, points: np.ndarray, *, pixel_size_nm: float,
                   polarity: str = "bright", diameter_nm=None,
                   fit_weight: float = FIT_WEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """Refine label centres with a local Gaussian fit, averaged with the given centres.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        The original image (raw values).
    points : ndarray, shape (N, 2)
        Centres (x_px, y_px) in the image's pixel frame (the network's).
    pixel_size_nm : float
        Pixel size of ``image``.
    polarity : {'bright', 'dark'}
        Whether labels are brighter or darker than the background.
    diameter_nm : array_like, shape (N,), optional
        Second-moment sizes (:func:`her2net.detect.measure.moment_diameter_nm`); they set the fitted
        spot width. 10 nm where missing or not finite.
    fit_weight : float
        Share of the fitted centre in the refined one, in [0, 1] (0.5: their mean;
        :func:`background_fit_weight` chooses it per image in ``detect``, 0.75 on white noise).

    Returns
    -------
    refined : ndarray, shape (N, 2)
        ``(1 - fit_weight) * given + fit_weight * fitted`` where the fit succeeded, else the
        given centre.
    fitted : ndarray of bool, shape (N,)
        Whether the fit succeeded.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:48, :48]
    >>> image = 10 + 40 * np.exp(-((xx - 20.3) ** 2 + (yy - 25.6) ** 2) / (2 * 2.5 ** 2))
    >>> refined, fitted = refine_centres(image, np.array([[20.0, 26.0]]), pixel_size_nm=1.0,
    ...                                  diameter_nm=[2.5 * np.sqrt(20)])
    >>> np.round(refined, 2), fitted
    (array([[20.22, 25.7 ]]), array([ True]))
    """
    if not 0.0 <= fit_weight <= 1.0:
        raise ValueError(f"fit_weight must be in [0, 1], got {fit_weight!r}")
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    n = len(points)
    if n == 0:
        return points.copy(), np.zeros(0, dtype=bool)
    image = np.asarray(image)
    diameters = (np.full(n, _DEFAULT_DIAMETER_NM) if diameter_nm is None
                 else np.asarray(diameter_nm, dtype=np.float64).reshape(n))
    diameters = np.where(np.isfinite(diameters) & (diameters > 0), diameters, _DEFAULT_DIAMETER_NM)
    sigma = np.clip(diameters / pixel_size_nm / _GAUSSIAN_DIAMETER_FACTOR, 0.7, 32.0)
    half = np.maximum(2, np.ceil(_WINDOW_SIGMAS * sigma)).astype(np.int64)
    sign = -1.0 if polarity == "dark" else 1.0
    tree = cKDTree(points)
    fitted_xy = points.copy()
    fitted = np.zeros(n, dtype=bool)
    for h in np.unique(half):
        index = np.flatnonzero(half == h)
        step = max(1, int(_CHUNK_ELEMENTS // (2 * h + 1) ** 2))
        for start in range(0, len(index), step):
            part = index[start:start + step]
            xy, ok = _fit_chunk(image, points[part], sigma[part], int(h), tree, part, sign)
            fitted_xy[part] = xy
            fitted[part] = ok
    mixed = (1.0 - fit_weight) * points + fit_weight * fitted_xy
    refined = np.where(fitted[:, None], mixed, points)
    return refined, fitted
