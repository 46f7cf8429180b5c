"""Label types: gold spheres of a few nominal sizes and elongated CdSe/ZnS quantum-dot cores.

A label set is described by a :class:`LabelSpec`; :func:`draw_label_shapes` draws the per-label
shape (in nm) for ``n`` labels: nominal and actual diameter, in-plane semi-axes, orientation and
the material, from which the renderers compute contrast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["GOLD_SIZES_NM", "QD_CORE_NM", "LabelSpec", "draw_label_shapes"]

#: Nominal diameters of commercial colloidal gold used for immunolabelling.
GOLD_SIZES_NM = (6.0, 10.0, 12.0, 15.0, 18.0)
#: Core of a streptavidin CdSe/ZnS quantum dot (short, long axis), nm.
QD_CORE_NM = (7.0, 12.0)

LABEL_KINDS = ("gold", "qd", "mixed")


@dataclass(frozen=True)
class LabelSpec:
    """What labels a cell or tile carries.

    Parameters
    ----------
    label : {'gold', 'qd', 'mixed'}
    gold_diameters_nm : tuple of float
        Nominal gold sizes present (several for double labelling); each label picks one.
    size_jitter : float
        Relative standard deviation of the actual diameter around the nominal one.
    qd_core_nm : (float, float)
        Short and long axis of the QD core.
    qd_fraction : float
        Fraction of QDs when ``label == 'mixed'``.
    """

    label: str = "gold"
    gold_diameters_nm: tuple = (10.0,)
    size_jitter: float = 0.06
    qd_core_nm: tuple = QD_CORE_NM
    qd_fraction: float = 0.5
    extra: dict = field(default_factory=dict)

    def max_extent_nm(self) -> float:
        """Largest in-plane size of any label of this spec (nm), with 3 sd of jitter."""
        sizes = []
        if self.label in ("gold", "mixed"):
            sizes.append(max(self.gold_diameters_nm))
        if self.label in ("qd", "mixed"):
            sizes.append(max(self.qd_core_nm))
        return float(max(sizes)) * (1 + 3 * self.size_jitter)

    def min_extent_nm(self) -> float:
        """Smallest nominal in-plane size of any label of this spec (nm)."""
        sizes = []
        if self.label in ("gold", "mixed"):
            sizes.append(min(self.gold_diameters_nm))
        if self.label in ("qd", "mixed"):
            sizes.append(min(self.qd_core_nm))
        return float(min(sizes))


def draw_label_shapes(rng: np.random.Generator, n: int, spec: LabelSpec) -> dict:
    """Draw the shapes of ``n`` labels.

    Returns
    -------
    dict of numpy.ndarray, each of length ``n``
        ``label`` ('gold'|'qd'), ``nominal_nm``, ``diameter_nm`` (equivalent diameter: the gold
        diameter, or the geometric mean of the projected QD axes), ``a_nm``, ``b_nm`` (in-plane
        semi-axes), ``thickness_nm`` (along the beam), ``angle`` (radians), ``exclusion_nm``
        (diameter of the disc no other label may enter).
    """
    if spec.label == "gold":
        is_qd = np.zeros(n, dtype=bool)
    elif spec.label == "qd":
        is_qd = np.ones(n, dtype=bool)
    else:
        is_qd = rng.random(n) < spec.qd_fraction
    gold_sizes = np.asarray(spec.gold_diameters_nm, dtype=float)
    nominal = gold_sizes[rng.integers(0, gold_sizes.size, n)]
    jitter = np.clip(1 + spec.size_jitter * rng.standard_normal(n), 0.7, 1.3)
    diam = nominal * jitter
    a = diam / 2
    b = diam / 2
    thick = diam.copy()
    angle = rng.uniform(0, np.pi, n)
    n_qd = int(is_qd.sum())
    if n_qd:
        short, long = spec.qd_core_nm
        js = np.clip(1 + spec.size_jitter * rng.standard_normal(n_qd), 0.7, 1.3)
        jl = np.clip(1 + spec.size_jitter * rng.standard_normal(n_qd), 0.7, 1.3)
        s_ax = short * js
        l_ax = long * jl
        # Random 3-D orientation of the long axis: its projection shortens with the tilt.
        cos_tilt = rng.uniform(0, 1, n_qd)
        proj_long = np.sqrt((l_ax * np.sqrt(1 - cos_tilt**2)) ** 2 + (s_ax * cos_tilt) ** 2)
        a[is_qd] = proj_long / 2
        b[is_qd] = s_ax / 2
        thick[is_qd] = s_ax
        nominal[is_qd] = np.sqrt(short * long)
        diam[is_qd] = np.sqrt(proj_long * s_ax)
    label = np.where(is_qd, "qd", "gold")
    return {
        "label": label,
        "nominal_nm": nominal,
        "diameter_nm": diam,
        "a_nm": a,
        "b_nm": b,
        "thickness_nm": thick,
        "angle": angle,
        "exclusion_nm": 2 * np.maximum(a, b),
    }
