"""Point-spread functions and the single FFT pass that blurs the object layer and adds texture."""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from her2net.simulate.fields import gaussian_transfer, radial_frequency_sq

__all__ = ["psf_transfer", "blur_with_texture"]


def psf_transfer(f2: np.ndarray, p: dict) -> np.ndarray:
    """Transfer function of the probe/PSF for parameters ``p`` on the frequency grid ``f2``
    (the pair returned by :func:`~her2net.simulate.fields.radial_frequency_sq`).

    A Gaussian core (``blur_sigma_nm``), a broad tail (``tail_weight``, ``tail_sigma_nm``: beam
    broadening in the liquid, probe tails) and, for bright-field images, a Fresnel halo
    (``halo``: a ring of opposite contrast around each object, integral preserved).
    """
    px = p["pixel_size_nm"]
    sigma = p["blur_sigma_nm"] / px
    h = gaussian_transfer(f2, sigma)
    if p["tail_weight"] > 0:
        h *= np.float32(1 - p["tail_weight"])
        h += np.float32(p["tail_weight"]) * gaussian_transfer(f2, p["tail_sigma_nm"] / px)
    if p["halo"] > 0:
        wide = gaussian_transfer(f2, sigma * p["halo_sigma_factor"] + 0.5)
        h = h * (1 + p["halo"]) - p["halo"] * wide
    return h


def blur_with_texture(rng: np.random.Generator, sharp: np.ndarray, p: dict, *,
                      texture_std: float, deep: np.ndarray | None = None) -> np.ndarray:
    """Convolve ``sharp`` with the PSF and add a Gaussian-correlated texture, in one inverse FFT.

    The texture has standard deviation ``texture_std`` and correlation length
    ``texture_scale_nm`` (a realisation of filtered white noise synthesised in Fourier space).
    ``deep`` (optional) is a second object layer blurred by the PSF and, in addition, by beam
    broadening (a Gaussian of sd ``broadening_nm``).
    """
    image_shape = sharp.shape
    # Zero padding at the far ends (FFT convolution is circular): what leaves one edge must not
    # come back in at the opposite one.
    px = p["pixel_size_nm"]
    reach = 3 * max(p["blur_sigma_nm"] + (p["broadening_nm"] if deep is not None else 0.0),
                    p["tail_sigma_nm"] if p["tail_weight"] > 0 else 0.0,
                    p["blur_sigma_nm"] * p["halo_sigma_factor"] if p["halo"] > 0 else 0.0) / px
    pad = int(min(np.ceil(reach), 128))
    shape = tuple(sfft.next_fast_len(n + pad, real=True) for n in image_shape)
    f2 = radial_frequency_sq(shape)
    h = psf_transfer(f2, p)
    spec = sfft.rfft2(sharp.astype(np.float32, copy=False), s=shape, workers=1)
    spec *= h
    if deep is not None:
        extra = gaussian_transfer(f2, p["broadening_nm"] / px)
        spec += sfft.rfft2(deep.astype(np.float32, copy=False), s=shape, workers=1) * (h * extra)
    if texture_std > 0:
        # Capped so that a texture is never made of a handful of axis-aligned Fourier modes
        # (larger scales come from the non-periodic coarse thickness field).
        sigma = float(np.clip(p["texture_scale_nm"] / p["pixel_size_nm"], 0.7, min(shape) / 32))
        # White noise of unit variance has rfft2 coefficients of variance H*W; a Gaussian filter of
        # sd sigma leaves a variance of 1 / (4 pi sigma^2).
        scale = texture_std * 2 * np.sqrt(np.pi) * sigma * np.sqrt(shape[0] * shape[1] / 2)
        grid = (f2[0].shape[0], f2[1].shape[1])
        filt = gaussian_transfer(f2, sigma) * np.float32(scale)
        spec.real += rng.standard_normal(grid, dtype=np.float32) * filt
        spec.imag += rng.standard_normal(grid, dtype=np.float32) * filt
    return sfft.irfft2(spec, s=shape, workers=1)[: image_shape[0], : image_shape[1]]
