"""Linking labels closer than the dimer distance into groups (monomers, dimers, clusters)."""

from __future__ import annotations

import numpy as np

__all__ = ["link_groups", "close_pairs", "group_kind"]


def close_pairs(points_nm: np.ndarray, max_distance_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of points closer than ``max_distance_nm``.

    Parameters
    ----------
    points_nm : ndarray, shape (N, 2)
        Positions (x_nm, y_nm) of one image.
    max_distance_nm : float
        Pairs at a distance strictly below this are returned.

    Returns
    -------
    pairs : ndarray of int64, shape (M, 2)
        Index pairs ``i < j``.
    distances_nm : ndarray of float, shape (M,)
    """
    from scipy.spatial import cKDTree

    points_nm = np.asarray(points_nm, dtype=float).reshape(-1, 2)
    if len(points_nm) < 2:
        return np.empty((0, 2), dtype=np.int64), np.empty(0)
    pairs = cKDTree(points_nm).query_pairs(max_distance_nm, output_type="ndarray").astype(np.int64)
    if len(pairs) == 0:
        return pairs.reshape(0, 2), np.empty(0)
    distances = np.hypot(*(points_nm[pairs[:, 0]] - points_nm[pairs[:, 1]]).T)
    keep = distances < max_distance_nm
    return pairs[keep], distances[keep]


def link_groups(points_nm: np.ndarray, *, dimer_distance_nm: float) -> np.ndarray:
    """Connected groups of labels linked when closer than ``dimer_distance_nm``.

    Parameters
    ----------
    points_nm : ndarray, shape (N, 2)
        Positions of the labels of ONE image (groups never span images).
    dimer_distance_nm : float
        Linking distance.

    Returns
    -------
    ndarray of int64, shape (N,)
        Group index per label, 0..n_groups-1, numbered in order of first appearance.

    Examples
    --------
    >>> link_groups(np.array([[0, 0], [20, 0], [200, 0]]), dimer_distance_nm=30)
    array([0, 0, 1])
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    points_nm = np.asarray(points_nm, dtype=float).reshape(-1, 2)
    n = len(points_nm)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    pairs, _ = close_pairs(points_nm, dimer_distance_nm)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Renumber in order of first appearance so that ids are stable and readable.
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    return remap[labels].astype(np.int64)


def group_kind(size: np.ndarray) -> np.ndarray:
    """'monomer' for size 1, 'dimer' for 2, 'cluster' for 3 or more."""
    size = np.asarray(size)
    return np.where(size == 1, "monomer", np.where(size == 2, "dimer", "cluster"))
