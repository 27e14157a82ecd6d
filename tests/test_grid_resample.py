"""Volume assignment resamples only the input's support, in float32, with nilearn's values."""

from __future__ import annotations

import numpy as np
import pytest
from nilearn.image.resampling import BoundingBoxError

from atlascope.volumes.resampling import _axis_table, crop_resample, resample_to_grid


def _case(rng: np.random.Generator, labels: bool):
    shape = tuple(int(v) for v in rng.integers(5, 20, 3))
    data = np.zeros(shape)
    box = tuple(slice(int(rng.integers(0, 3)), int(s - rng.integers(0, 3))) for s in shape)
    data[box] = rng.uniform(0.1, 1.0, data[box].shape)
    if labels:
        data = (data > 0.5).astype(np.int16) * 3
    src = np.diag([*rng.choice([1.0, 2.0, 3.0, -2.0], 3), 1.0])
    src[:3, 3] = rng.uniform(-10, 10, 3)
    tgt = np.diag([*rng.choice([1.0, 0.5, 1.5, 2.0], 3), 1.0])
    tgt[:3, 3] = rng.uniform(-15, 5, 3)
    return data, src, tuple(int(v) for v in rng.integers(10, 40, 3)), tgt


def _paste(sub: np.ndarray, offset: np.ndarray, shape) -> np.ndarray:
    out = np.zeros(shape)
    if sub.size:
        out[tuple(slice(int(o), int(o) + n) for o, n in zip(offset, sub.shape))] = sub
    return out


@pytest.mark.parametrize("labels", [False, True])
def test_axis_aligned_grids_match_nilearn(labels):
    rng = np.random.default_rng(11 if labels else 12)
    compared = 0
    for _ in range(25):
        data, src, shape, tgt = _case(rng, labels)
        sub, offset = crop_resample(data, src, shape, tgt)
        if sub.size:  # resampled values (an input missing the grid gives an empty array)
            assert sub.dtype == (np.int16 if labels else np.float32)
        try:
            ref = resample_to_grid(data, src, shape, tgt)
        except BoundingBoxError:  # nilearn refuses grids that miss the data; ours is empty
            assert not np.any(sub)
            continue
        np.testing.assert_allclose(_paste(sub, offset, shape), ref, atol=1e-5)
        compared += 1
    assert compared >= 10


def test_oblique_grid_falls_back_to_nilearn_in_float32():
    data = np.zeros((12, 12, 12))
    data[3:9, 4:8, 2:10] = np.linspace(0.1, 1.0, 6 * 4 * 8).reshape(6, 4, 8)
    c, s = np.cos(0.3), np.sin(0.3)
    tgt = np.array([[c, -s, 0, -2.0], [s, c, 0, 1.0], [0, 0, 1, 0.5], [0, 0, 0, 1]])
    sub, offset = crop_resample(data, np.eye(4), (16, 16, 16), tgt)
    assert sub.dtype == np.float32
    np.testing.assert_allclose(
        _paste(sub, offset, (16, 16, 16)), resample_to_grid(data, np.eye(4), (16, 16, 16), tgt), atol=1e-5
    )


def test_grid_mapping_is_reused_between_calls():
    data = np.zeros((20, 20, 20))
    data[5:12, 6:14, 4:9] = 1.5
    src = np.diag([3.0, 3.0, 3.0, 1.0])
    _axis_table.cache_clear()
    crop_resample(data, src, (60, 60, 60), np.eye(4))
    first = _axis_table.cache_info()
    crop_resample(data * 2, src, (60, 60, 60), np.eye(4))
    second = _axis_table.cache_info()
    assert first.misses == 3 and second.misses == 3 and second.hits == first.hits + 3


@pytest.mark.parametrize("same_grid", [False, True])
def test_positive_only_equals_zeroing_first(same_grid):
    rng = np.random.default_rng(7)
    data = rng.normal(size=(20, 22, 18))  # a t-map: negative values are not part of the support
    data[:4] = 0
    src = np.diag([3.0, 3.0, 3.0, 1.0]) if not same_grid else np.eye(4)
    shape = (60, 66, 54) if not same_grid else data.shape
    got, off = crop_resample(data, src, shape, np.eye(4), positive=True)
    ref, ref_off = crop_resample(np.where(data > 0, data, 0), src, shape, np.eye(4))
    np.testing.assert_array_equal(off, ref_off)
    np.testing.assert_allclose(got, ref, atol=1e-6)
    assert (got >= 0).all()
