"""Statistical tests of receptor placement: distances, densities, labelling efficiency, hard core."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from her2net.simulate.cell import simulate_cell_points


def _pair_distances(points, kind="dimer"):
    d = points[(points["kind"] == kind) & (points["receptor_kind"] == kind)]
    out = []
    for _, g in d.groupby("group"):
        if len(g) == 2:
            out.append(np.hypot(*(g[["x_nm", "y_nm"]].to_numpy()[0] - g[["x_nm", "y_nm"]].to_numpy()[1])))
    return np.array(out)


def test_dimer_distance_matches_configured_mean_and_sd():
    rng = np.random.default_rng(1)
    mean, sd = 22.0, 3.0
    dist = np.concatenate([
        _pair_distances(simulate_cell_points(rng, size_px=512, pixel_size_nm=1.0, density_per_um2=600,
                                             dimer_fraction=0.6, dimer_distance_nm=(mean, sd)).points)
        for _ in range(3)
    ])
    assert dist.size > 100
    assert abs(dist.mean() - mean) < 4 * sd / np.sqrt(dist.size)
    assert abs(dist.std(ddof=1) - sd) < 0.15 * sd


def test_points_inside_mask_and_region_matches_mask():
    rng = np.random.default_rng(2)
    for edge in (True, False):
        cp = simulate_cell_points(rng, size_px=400, pixel_size_nm=1.2, ruffle_fraction=0.4,
                                  dimer_fraction=0.3, cluster_fraction=0.1, cell_edge=edge)
        pts = cp.points
        assert len(pts) > 20
        rows = np.floor(pts["y_px"].to_numpy() + 0.5).astype(int)
        cols = np.floor(pts["x_px"].to_numpy() + 0.5).astype(int)
        assert (cp.mask[rows, cols] == pts["region"].to_numpy()).all()
        assert (pts["region"] > 0).all()
        if edge:
            assert (cp.mask == 0).any() and (cp.mask > 0).any()


def test_density_per_region_within_poisson_error():
    rng = np.random.default_rng(3)
    density, factor, px = 400.0, 2.5, 1.0
    counts = {1: 0, 2: 0}
    expected = {1: 0.0, 2: 0.0}
    for _ in range(4):
        cp = simulate_cell_points(rng, size_px=512, pixel_size_nm=px, density_per_um2=density,
                                  ruffle_fraction=0.3, ruffle_density_factor=factor, dimer_fraction=0.2)
        for region, dens in ((1, density), (2, density * factor)):
            counts[region] += int((cp.points["region"] == region).sum())
            expected[region] += dens * np.count_nonzero(cp.mask == region) * px * px * 1e-6
    for region in (1, 2):
        assert expected[region] > 100
        assert abs(counts[region] - expected[region]) < 4 * np.sqrt(expected[region]), region


def test_labelling_efficiency_thins_as_configured():
    p = 0.6
    full = simulate_cell_points(np.random.default_rng(4), size_px=512, density_per_um2=800, dimer_fraction=0.5)
    thin = simulate_cell_points(np.random.default_rng(4), size_px=512, density_per_um2=800, dimer_fraction=0.5,
                                labeling_efficiency=p)
    n = len(full.points)
    # The same receptors, thinned: every label of the thinned cell is a label of the full cell.
    dist, _ = cKDTree(full.points[["x_px", "y_px"]].to_numpy()).query(thin.points[["x_px", "y_px"]].to_numpy())
    assert np.all(dist < 1e-9)
    assert abs(len(thin.points) - p * n) < 4 * np.sqrt(n * p * (1 - p))
    # A dimer shows two labels with probability p²: the paired fraction of labels scales by p.
    paired_full = (full.points["kind"] != "monomer").mean()
    paired_thin = (thin.points["kind"] != "monomer").mean()
    assert paired_thin == pytest.approx(p * paired_full, abs=0.06)
    seen_monomer_of_dimer = thin.points[(thin.points["receptor_kind"] == "dimer") & (thin.points["kind"] == "monomer")]
    assert len(seen_monomer_of_dimer) > 0


def test_labels_never_overlap():
    cp = simulate_cell_points(np.random.default_rng(5), size_px=512, density_per_um2=1500, dimer_fraction=0.5)
    xy = cp.points[["x_nm", "y_nm"]].to_numpy()
    d, _ = cKDTree(xy).query(xy, k=2)
    assert d[:, 1].min() >= 0.99 * cp.points["diameter_nm"].min()


def test_dimer_absent_cell_has_only_monomers():
    cp = simulate_cell_points(np.random.default_rng(6), size_px=256, dimer_fraction=0.0, cluster_fraction=0.0)
    assert len(cp.points) > 10
    assert set(cp.points["kind"]) == {"monomer"}
