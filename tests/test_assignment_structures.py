"""The fast paths of volume assignment agree with the plain computations they replace: components of
an input (``image_structures``), row lookup of the sparse index (table and binary search), and
resampling onto grids whose voxels sit on source voxel centres."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from atlascope.analysis.assignment import image_structures
from atlascope.analysis.sparse import SparseIndex
from atlascope.volumes.resampling import _axis_aligned, _axis_table


def _blobs(rng: np.random.Generator, shape=(14, 11, 9)) -> np.ndarray:
    sub = rng.random(shape).astype(np.float32)
    sub[sub < 0.7] = 0
    return sub


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("minsize", [0, 1, 3])
def test_image_structures_match_labels_boxes_and_centroids(seed, minsize):
    rng = np.random.default_rng(seed)
    sub = _blobs(rng)
    offset, shape = np.array([3, 5, 2]), (30, 25, 20)
    made = image_structures(sub, offset, shape, True, minsize)
    lab, n = ndimage.label(sub > 0, structure=ndimage.generate_binary_structure(3, 2))
    kept = [c for c in range(1, n + 1) if (lab == c).sum() > minsize]
    if not kept:
        assert made is None
        return
    structs, centroids = made
    assert structs.n == len(kept)
    for s, c in enumerate(kept):
        ijk = np.argwhere(lab == c) + offset
        mine = structs.owner == s
        np.testing.assert_array_equal(np.sort(structs.flat[mine]), np.sort(np.ravel_multi_index(ijk.T, shape)))
        np.testing.assert_array_equal(structs.lo[s], ijk.min(0))
        np.testing.assert_array_equal(structs.hi[s], ijk.max(0))
        np.testing.assert_allclose(centroids[s], ijk.mean(0), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(np.sort(structs.value[mine]), np.sort(sub[lab == c].astype(np.float64)))


def test_image_structures_unsplit_is_one_structure():
    sub = _blobs(np.random.default_rng(5))
    structs, centroids = image_structures(sub, (0, 0, 0), sub.shape, False, 10**6)
    ijk = np.argwhere(sub > 0)
    assert structs.n == 1 and len(structs.flat) == len(ijk)
    np.testing.assert_array_equal(structs.lo[0], ijk.min(0))
    np.testing.assert_array_equal(structs.hi[0], ijk.max(0))
    np.testing.assert_allclose(centroids[0], ijk.mean(0), atol=1e-12)


def test_rows_of_table_and_binary_search_agree():
    rng = np.random.default_rng(3)
    shape = (40, 30, 20)
    n = int(np.prod(shape))
    cols = [(c, np.sort(rng.choice(n, 3000, replace=False)), rng.random(3000).astype(np.float32) + 0.01) for c in range(4)]
    idx = SparseIndex.from_columns(shape, np.eye(4), iter(cols), 4)
    dense = np.arange(5000, 9000)  # a compact span: the table
    scattered = np.sort(rng.choice(n, 5, replace=False))  # a few voxels: the binary search
    for flat in (dense, scattered, np.array([0, n - 1])):
        rows, hit = idx.rows_of(flat)
        pos = np.searchsorted(idx.voxels, flat)
        want = (pos < len(idx.voxels)) & (idx.voxels[np.minimum(pos, len(idx.voxels) - 1)] == flat)
        np.testing.assert_array_equal(hit, want)
        np.testing.assert_array_equal(rows[hit], pos[hit])
    rows, hit = idx.rows_of(np.zeros(0, np.int64))
    assert len(rows) == len(hit) == 0


@pytest.mark.parametrize("scale, shift", [(1.0, 2.0), (-1.0, 20.0), (1.0, -2.0), (0.5, 1.0), (1.0, 0.25)])
def test_resampling_on_source_centres_equals_interpolation(scale, shift):
    data = np.random.default_rng(4).random((24, 9, 7)).astype(np.float32)
    vox = np.diag([scale, 1.0, 1.0, 1.0])
    vox[0, 3] = shift
    tlo, thi = np.array([0, 0, 0]), np.array([26, 9, 7])
    got = _axis_aligned(data, vox, tlo, thi, False)
    want = data
    for ax in range(3):  # the separable interpolation written out, one axis at a time
        i0, i1, w, inside = _axis_table(data.shape[ax], float(vox[ax, ax]), float(vox[ax, 3]), int(thi[ax]), False)
        shape = [1, 1, 1]
        shape[ax] = -1
        a0, a1 = np.take(want, i0, axis=ax), np.take(want, i1, axis=ax)
        want = (a0 + (a1 - a0) * w.reshape(shape)) * inside.reshape(shape).astype(np.float32)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(6))
def test_run_components_number_voxels_as_ndimage_label(seed):
    # components from the run graph: the same voxels and the same numbering (raster order of each
    # component's first voxel) as scipy.ndimage.label with 18-connectivity, on boxes of any shape,
    # thin ones included, from sparse to dense
    rng = np.random.default_rng(seed)
    for _ in range(40):
        box = tuple(int(x) for x in rng.integers(1, 13, 3))
        sub = (rng.random(box) < rng.uniform(0.05, 0.9)) * rng.uniform(0.1, 1.0, box)
        if not (sub > 0).any():
            continue
        structs, _c = image_structures(sub.astype(np.float32), np.zeros(3, int), box, True, 0)
        lab, n = ndimage.label(sub > 0, structure=ndimage.generate_binary_structure(3, 2))
        assert structs.n == n
        np.testing.assert_array_equal(structs.owner, lab[sub > 0] - 1)
