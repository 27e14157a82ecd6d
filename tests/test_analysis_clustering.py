"""Tests of atlascope.analysis.find_clusters."""

from __future__ import annotations

import numpy as np
import pytest

from atlascope.analysis import find_clusters, relabel_by_size
from atlascope.errors import InvalidInputError

CENTRES = np.array([[-40.0, 0.0, 0.0], [40.0, 10.0, 0.0], [0.0, -50.0, 30.0]])
SIZES = (240, 180, 120)


def _blobs(seed: int, sizes=SIZES, spread=2.0, noise: int = 0):
    rng = np.random.default_rng(seed)
    pts = [rng.normal(c, spread, (s, 3)) for c, s in zip(CENTRES, sizes)]
    truth = np.concatenate([np.full(s, i) for i, s in enumerate(sizes)])
    if noise:
        pts.append(rng.uniform(-100, 100, (noise, 3)))
        truth = np.concatenate([truth, np.full(noise, -1)])
    return np.concatenate(pts), truth


def test_relabel_by_size():
    lab = np.array([5, 5, 2, 2, 2, -3, 7, -1, 9, 9])
    # 2 has 3 members -> 0; 5 and 9 have 2 each, 5 appears first -> 1, 9 -> 2; 7 -> 3
    np.testing.assert_array_equal(relabel_by_size(lab), [1, 1, 0, 0, 0, -1, 3, -1, 2, 2])
    np.testing.assert_array_equal(relabel_by_size([-1, -1]), [-1, -1])


def test_three_blobs_default_fractions_with_background_noise():
    pts, truth = _blobs(1, noise=1500)
    labels = find_clusters(pts)  # N = 2040: min_cluster_size 10, max_cluster_size 255
    assert labels.shape == (len(pts),)
    assert labels.dtype.kind == "i"
    for blob in range(3):
        members = labels[truth == blob]
        # every blob point is in one cluster, and that cluster is the blob's rank by size
        assert np.all(members == blob), np.unique(members, return_counts=True)
    # background points are mostly noise and never form a cluster as large as a blob
    assert np.mean(labels[truth == -1] == -1) > 0.7
    sizes = np.bincount(labels[labels >= 0])
    assert np.all(np.diff(sizes) <= 0)  # label 0 is the largest, sizes decrease
    assert sizes[3:].max() < SIZES[2]


def test_three_blobs_exact_memberships_and_size_order():
    pts, truth = _blobs(2, sizes=(120, 240, 180))
    labels = find_clusters(pts, min_fraction=0.05, max_fraction=0.5)
    # sizes 120, 240, 180 -> the second blob is label 0, the third label 1, the first label 2
    np.testing.assert_array_equal(labels, np.array([2, 0, 1])[truth])


def test_labels_are_deterministic_and_order_of_points_only_permutes_them():
    pts, truth = _blobs(3, sizes=(120, 240, 180))
    a = find_clusters(pts, min_fraction=0.05, max_fraction=0.5)
    np.testing.assert_array_equal(a, find_clusters(pts, min_fraction=0.05, max_fraction=0.5))
    perm = np.random.default_rng(0).permutation(len(pts))
    b = find_clusters(pts[perm], min_fraction=0.05, max_fraction=0.5)
    np.testing.assert_array_equal(b, a[perm])


def test_max_fraction_splits_clusters_larger_than_the_limit():
    pts, truth = _blobs(4, sizes=(400, 100, 100))
    # max_cluster_size = 150 < 400: the big blob cannot be returned as one cluster
    labels = find_clusters(pts, min_fraction=0.02, max_fraction=0.25)
    assert not np.any(np.bincount(labels[labels >= 0]) > 150)
    big = labels[truth == 0]
    assert len(np.unique(big[big >= 0])) != 1 or np.any(big == -1)
    # without a limit it is one cluster
    labels = find_clusters(pts, min_fraction=0.02, max_fraction=None)
    np.testing.assert_array_equal(labels, truth)


def test_few_points_drop_an_impossible_size_limit():
    pts, truth = _blobs(5, sizes=(6, 6, 0), spread=0.5)
    # N = 12: min_cluster_size 2, floor(12 / 8) = 1 < 2 -> no upper limit instead of all-noise
    labels = find_clusters(pts)
    assert len(np.unique(labels[labels >= 0])) >= 2
    for blob in (0, 1):
        members = labels[truth == blob]
        assert not np.isin(members[members >= 0], labels[truth == 1 - blob]).any()


def test_two_points_are_enough():
    labels = find_clusters([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    assert labels.shape == (2,)


def test_dbscan_path():
    pts, truth = _blobs(6, sizes=(120, 240, 180), noise=0)
    labels = find_clusters(pts, algorithm="dbscan", eps_mm=5.0)
    np.testing.assert_array_equal(labels, np.array([2, 0, 1])[truth])
    # an isolated far point is noise
    far = np.vstack([pts, [[500.0, 500.0, 500.0]]])
    labels = find_clusters(far, algorithm="DBSCAN", eps_mm=5.0, min_samples=5)
    assert labels[-1] == -1
    np.testing.assert_array_equal(labels[:-1], np.array([2, 0, 1])[truth])


@pytest.mark.parametrize(
    ("coords", "kwargs", "match"),
    [
        ([[0.0, 0.0, 0.0]], {}, "at least 2"),
        (np.zeros((0, 3)), {}, "at least 2"),
        ([[0.0, np.nan, 0.0], [1.0, 1.0, 1.0]], {}, "NaN"),
        ([[0.0, 0.0], [1.0, 1.0]], {}, r"\(N, 3\)"),
        (np.zeros((2, 2, 3)), {}, r"\(N, 3\)"),
        (np.zeros((5, 3)), {"algorithm": "kmeans"}, "hdbscan"),
        (np.zeros((5, 3)), {"algorithm": "dbscan"}, "eps_mm"),
        (np.zeros((5, 3)), {"algorithm": "dbscan", "eps_mm": 0}, "eps_mm"),
        (np.zeros((5, 3)), {"min_fraction": 0}, "min_fraction"),
        (np.zeros((5, 3)), {"min_fraction": 1.5}, "min_fraction"),
        (np.zeros((5, 3)), {"max_fraction": -0.1}, "max_fraction"),
        (np.zeros((5, 3)), {"min_samples": 6}, "min_samples"),
        (np.zeros((5, 3)), {"min_samples": 0}, "min_samples"),
    ],
)
def test_errors(coords, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        find_clusters(coords, **kwargs)
