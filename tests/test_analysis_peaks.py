"""Tests of atlascope.analysis.find_peaks."""

from __future__ import annotations

import numpy as np
import pytest

from atlascope.analysis import find_peaks, voxels_to_mm
from atlascope.errors import InvalidInputError


def _blobs(shape, centres, amplitudes, sigma=2.0):
    grid = np.indices(shape).astype(np.float64)
    img = np.zeros(shape)
    for c, a in zip(centres, amplitudes):
        d2 = sum((grid[i] - c[i]) ** 2 for i in range(3))
        img += a * np.exp(-d2 / (2 * sigma**2))
    return img


def test_two_blobs_give_two_peaks_strongest_first():
    img = _blobs((30, 30, 30), [(8, 9, 10), (20, 22, 18)], [1.0, 2.0])
    ijk, values = find_peaks(img)
    np.testing.assert_array_equal(ijk, [[20, 22, 18], [8, 9, 10]])
    assert ijk.dtype == np.int64 and ijk.shape == (2, 3)
    np.testing.assert_array_equal(values, img[tuple(ijk.T)])
    assert values[0] > values[1]


def test_values_keep_the_image_dtype():
    img = _blobs((20, 20, 20), [(5, 5, 5), (14, 14, 14)], [1.0, 3.0]).astype(np.float32)
    ijk, values = find_peaks(img)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, img[tuple(ijk.T)])


def test_mindist_suppresses_a_nearby_weaker_peak():
    img = _blobs((30, 30, 30), [(10, 10, 10), (10, 16, 10)], [2.0, 1.0], sigma=1.5)
    ijk, _ = find_peaks(img, mindist=2)
    np.testing.assert_array_equal(ijk, [[10, 10, 10], [10, 16, 10]])
    ijk, values = find_peaks(img, mindist=7)
    np.testing.assert_array_equal(ijk, [[10, 10, 10]])
    assert values[0] == img[10, 10, 10]


def test_returned_peaks_respect_mindist():
    rng = np.random.default_rng(0)
    from scipy import ndimage

    img = ndimage.gaussian_filter(rng.random((40, 40, 40)), 1.0)
    for mindist in (1, 3, 5):
        ijk, values = find_peaks(img, mindist=mindist)
        assert len(ijk) > 1
        d = np.abs(ijk[:, None, :] - ijk[None, :, :]).max(axis=2)
        d[np.diag_indices(len(ijk))] = mindist
        assert d.min() >= mindist
        assert np.all(np.diff(values) <= 0)
        # every peak is the maximum of the voxels within mindist - 1 (at least its 26 neighbours)
        mx = ndimage.maximum_filter(img, size=2 * max(1, mindist - 1) + 1, mode="nearest")
        assert np.all(img[tuple(ijk.T)] == mx[tuple(ijk.T)])


def test_constant_and_zero_images_have_no_peaks():
    for img in (np.zeros((10, 10, 10)), np.full((10, 10, 10), 3.5)):
        ijk, values = find_peaks(img)
        assert ijk.shape == (0, 3) and values.shape == (0,)


def test_peaks_must_be_strictly_above_the_minimum():
    img = np.full((9, 9, 9), 2.0)
    img[0, 0, 0] = 1.0  # the rest is a plateau above the minimum
    img[4, 4, 4] = 5.0
    ijk, _ = find_peaks(img, mindist=8)
    np.testing.assert_array_equal(ijk[0], [4, 4, 4])


def test_flat_topped_maximum_narrower_than_mindist_gives_one_peak():
    img = np.zeros((15, 15, 15))
    img[5:8, 6:9, 7:10] = 1.0
    ijk, values = find_peaks(img, mindist=5)
    assert len(ijk) == 1 and values[0] == 1.0
    assert img[tuple(ijk[0])] == 1.0
    # a plateau wider than mindist yields several peaks, all at least mindist apart
    img[:] = 0.0
    img[2:13, 2:13, 2:13] = 1.0
    ijk, _ = find_peaks(img, mindist=5)
    d = np.abs(ijk[:, None, :] - ijk[None, :, :]).max(axis=2) + 5 * np.eye(len(ijk), dtype=int)
    assert len(ijk) > 1 and d.min() >= 5


def test_threshold():
    img = _blobs((30, 30, 30), [(8, 9, 10), (20, 22, 18)], [1.0, 2.0])
    ijk, _ = find_peaks(img, threshold=1.5)
    np.testing.assert_array_equal(ijk, [[20, 22, 18]])
    ijk, _ = find_peaks(img, threshold=2.0)  # strictly above
    assert len(ijk) == 0
    # a threshold below the minimum does not make the background a peak
    ijk, _ = find_peaks(img + 1.0, threshold=-10.0)
    assert len(ijk) == 2


def test_ties_are_ordered_by_index_and_border_peaks_count():
    img = _blobs((30, 30, 30), [(20, 5, 5), (5, 20, 5), (5, 5, 20)], [1.0, 1.0, 1.0])
    ijk, values = find_peaks(img)
    np.testing.assert_array_equal(ijk, [[5, 5, 20], [5, 20, 5], [20, 5, 5]])
    assert values[0] == values[1] == values[2]
    corner = np.zeros((10, 10, 10))
    corner[0, 0, 0] = 1.0
    ijk, _ = find_peaks(corner)
    np.testing.assert_array_equal(ijk, [[0, 0, 0]])


def test_integer_and_boolean_images():
    img = np.zeros((12, 12, 12), dtype=np.uint8)
    img[3, 3, 3] = 7
    img[9, 9, 9] = 9
    ijk, values = find_peaks(img)
    np.testing.assert_array_equal(ijk, [[9, 9, 9], [3, 3, 3]])
    np.testing.assert_array_equal(values, [9, 7])
    ijk, values = find_peaks(img > 0)
    np.testing.assert_array_equal(ijk, [[3, 3, 3], [9, 9, 9]])
    assert values.dtype == np.bool_


def test_voxels_to_mm():
    aff = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])
    np.testing.assert_allclose(voxels_to_mm([[0, 0, 0], [45, 63, 36]], aff), [[90, -126, -72], [0, 0, 0]])


@pytest.mark.parametrize(
    ("array", "kwargs", "match"),
    [
        (np.full((5, 5, 5), np.nan), {}, "NaN"),
        (np.where(np.arange(125).reshape(5, 5, 5) == 7, np.inf, 0.0), {}, "infinite"),
        (np.zeros((5, 5)), {}, "3D"),
        (np.zeros((5, 5, 5, 2)), {}, "3D"),
        (np.zeros((5, 5, 5)), {"mindist": 0}, "mindist"),
        (np.zeros((5, 5, 5)), {"mindist": 2.5}, "mindist"),
        (np.zeros((5, 5, 5)), {"threshold": np.nan}, "threshold"),
    ],
)
def test_errors(array, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        find_peaks(array, **kwargs)


def test_peaks_exactly_mindist_apart_are_both_kept():
    """SPEC 3: peaks "separated by at least mindist voxels" — distance mindist is allowed."""
    img = np.zeros((30, 30, 30))
    img[10, 10, 10] = 2.0
    img[15, 10, 10] = 1.0  # 5 voxels away
    ijk, values = find_peaks(img, mindist=5)
    np.testing.assert_array_equal(ijk, [[10, 10, 10], [15, 10, 10]])
    img[15, 10, 10] = 0.0
    img[14, 10, 10] = 1.0  # 4 voxels away: suppressed
    ijk, _ = find_peaks(img, mindist=5)
    np.testing.assert_array_equal(ijk, [[10, 10, 10]])
