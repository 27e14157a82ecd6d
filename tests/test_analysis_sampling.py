"""Tests of atlascope.analysis.draw_samples and the voxel grid helpers."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from atlascope.analysis import draw_samples, mm_to_voxel, nearest_voxel, voxel_sizes, voxel_to_mm
from atlascope.errors import InvalidInputError

# Three voxels along k: values 0, 1, 3 -> P0 = 0, 1/3, 1.
LINE = np.array([0.0, 1.0, 3.0]).reshape(1, 1, 3)


def _voxel_shares(samples_mm: np.ndarray, affine: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    ijk = nearest_voxel(samples_mm, affine)
    flat = np.ravel_multi_index(ijk.T, shape)
    return np.bincount(flat, minlength=int(np.prod(shape))) / len(samples_mm)


FLIP_2MM = np.array(
    [
        [-2.0, 0.0, 0.0, 90.0],
        [0.0, 2.0, 0.0, -126.0],
        [0.0, 0.0, 2.0, -72.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


# ----------------------------------------------------------------------------- grid helpers


def test_grid_helpers_round_trip_and_voxel_sizes():
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([1.0, 2.0, 3.0])
    aff[:3, 3] = [5.0, -7.0, 11.0]
    np.testing.assert_allclose(voxel_sizes(aff), [1.0, 2.0, 3.0])
    ijk = np.array([[0, 0, 0], [1, 2, 3], [-4.5, 0.25, 9]])
    xyz = voxel_to_mm(ijk, aff)
    np.testing.assert_allclose(xyz[0], [5.0, -7.0, 11.0])
    np.testing.assert_allclose(xyz[1], aff[:3, :3] @ [1, 2, 3] + aff[:3, 3])
    np.testing.assert_allclose(mm_to_voxel(xyz, aff), ijk, atol=1e-12)
    # a single coordinate keeps its shape
    assert voxel_to_mm([1, 2, 3], aff).shape == (3,)


def test_nearest_voxel_rounds_halves_up():
    v = np.array([[0.5, 0.49, -0.5], [-0.51, 1.5, 2.4999]])
    np.testing.assert_array_equal(nearest_voxel(v, np.eye(4)), [[1, 0, 0], [-1, 2, 2]])


def test_grid_helpers_reject_bad_affine():
    with pytest.raises(InvalidInputError, match="4x4"):
        voxel_to_mm([[0, 0, 0]], np.eye(3))
    with pytest.raises(InvalidInputError, match="NaN"):
        voxel_to_mm([[0, 0, 0]], np.full((4, 4), np.nan))
    with pytest.raises(InvalidInputError, match="singular"):
        mm_to_voxel([[0, 0, 0]], np.diag([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(InvalidInputError, match=r"\(N, 3\)"):
        mm_to_voxel([[0, 0]], np.eye(4))


# ----------------------------------------------------------------------------- distribution


def test_probability_proportional_to_normalised_image():
    s = draw_samples(LINE, np.eye(4), 200_000, rng=1)
    shares = _voxel_shares(s, np.eye(4), LINE.shape)
    # P = 0, 1/3, 1 -> 0 : 25 % : 75 %
    assert shares[0] == 0.0
    assert shares[1] == pytest.approx(0.25, abs=0.01)
    assert shares[2] == pytest.approx(0.75, abs=0.01)


def test_exponent_sharpens_distribution():
    s = draw_samples(LINE, np.eye(4), 200_000, e=2, rng=2)
    shares = _voxel_shares(s, np.eye(4), LINE.shape)
    # P = 0, 1/9, 1 -> 1 : 9
    assert shares[0] == 0.0
    assert shares[1] == pytest.approx(0.1, abs=0.01)
    assert shares[2] == pytest.approx(0.9, abs=0.01)


def test_invert_then_power():
    s = draw_samples(LINE, np.eye(4), 200_000, invert=True, rng=3)
    shares = _voxel_shares(s, np.eye(4), LINE.shape)
    # 1 - P0 = 1, 2/3, 0 -> 60 % : 40 % : 0
    assert shares[2] == 0.0
    assert shares[0] == pytest.approx(0.6, abs=0.01)
    assert shares[1] == pytest.approx(0.4, abs=0.01)
    s = draw_samples(LINE, np.eye(4), 200_000, invert=True, e=2, rng=4)
    shares = _voxel_shares(s, np.eye(4), LINE.shape)
    # (1 - P0)**2 = 1, 4/9, 0 -> 9 : 4
    assert shares[0] == pytest.approx(9 / 13, abs=0.01)
    assert shares[1] == pytest.approx(4 / 13, abs=0.01)


def test_negative_values_are_normalised():
    a = np.array([-2.0, 0.0, 2.0]).reshape(3, 1, 1)  # P0 = 0, 1/2, 1
    shares = _voxel_shares(draw_samples(a, np.eye(4), 100_000, rng=5), np.eye(4), a.shape)
    np.testing.assert_allclose(shares, [0.0, 1 / 3, 2 / 3], atol=0.01)


def test_samples_stay_within_half_a_voxel_of_nonzero_voxels():
    rng = np.random.default_rng(0)
    a = np.zeros((12, 9, 7), dtype=np.float32)
    idx = rng.integers(0, a.size, 15)
    a.ravel()[idx] = rng.uniform(0.1, 1.0, idx.size)
    s = draw_samples(a, np.eye(4), 20_000, rng=6)
    v = mm_to_voxel(s, np.eye(4))
    ijk = nearest_voxel(s, np.eye(4))
    assert np.all(np.abs(v - ijk) <= 0.5)
    assert np.all(a[tuple(ijk.T)] > 0)
    # the offsets fill the voxel: uniform on [-0.5, 0.5)
    off = v - ijk
    assert off.min() < -0.49 and off.max() > 0.49
    np.testing.assert_allclose(off.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(off.var(axis=0), 1 / 12, atol=0.005)


def test_output_in_mm_with_flipped_2mm_affine():
    a = np.zeros((6, 7, 8))
    a[2, 3, 4] = 5.0
    s = draw_samples(a, FLIP_2MM, 5000, rng=7)
    centre = FLIP_2MM @ [2, 3, 4, 1]
    np.testing.assert_allclose(centre[:3], [86.0, -120.0, -64.0])
    d = s - centre[:3]
    assert np.all(np.abs(d) <= 1.0)  # half of a 2 mm voxel
    assert np.all(d.min(axis=0) < -0.95) and np.all(d.max(axis=0) > 0.95)


def test_memory_order_and_dtypes_do_not_matter():
    rng = np.random.default_rng(1)
    a = rng.random((5, 6, 7))
    a[a < 0.6] = 0
    ref = draw_samples(a, FLIP_2MM, 100, rng=11)
    np.testing.assert_array_equal(draw_samples(np.asfortranarray(a), FLIP_2MM, 100, rng=11), ref)
    np.testing.assert_array_equal(draw_samples(a.astype(np.float32), FLIP_2MM, 100, rng=11).shape, (100, 3))
    # strided view (neither C- nor F-contiguous)
    big = np.zeros((10, 6, 7))
    big[::2] = a
    np.testing.assert_array_equal(draw_samples(big[::2], FLIP_2MM, 100, rng=11), ref)
    mask = a > 0
    s = draw_samples(mask, np.eye(4), 1000, rng=12)
    assert np.all(mask[tuple(nearest_voxel(s, np.eye(4)).T)])
    labels = (a * 10).astype(np.uint8)
    s = draw_samples(labels, np.eye(4), 1000, rng=13)
    assert np.all(labels[tuple(nearest_voxel(s, np.eye(4)).T)] > 0)


# ----------------------------------------------------------------------------- randomness


def test_global_rng_is_used_and_seedable():
    a = np.random.default_rng(0).random((4, 5, 6))
    np.random.seed(25)
    first = draw_samples(a, FLIP_2MM, 50)
    np.random.seed(25)
    second = draw_samples(a, FLIP_2MM, 50)
    np.testing.assert_array_equal(first, second)
    third = draw_samples(a, FLIP_2MM, 50)  # the global state moved on
    assert not np.array_equal(first, third)


def test_int_seed_generator_and_randomstate():
    a = np.random.default_rng(0).random((4, 5, 6))
    np.testing.assert_array_equal(
        draw_samples(a, np.eye(4), 30, rng=42), draw_samples(a, np.eye(4), 30, rng=42)
    )
    assert not np.array_equal(draw_samples(a, np.eye(4), 30, rng=42), draw_samples(a, np.eye(4), 30, rng=43))
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(
        draw_samples(a, np.eye(4), 30, rng=g1), draw_samples(a, np.eye(4), 30, rng=g2)
    )
    # an int seed is the same as a fresh default_rng(seed)
    np.testing.assert_array_equal(
        draw_samples(a, np.eye(4), 30, rng=9), draw_samples(a, np.eye(4), 30, rng=np.random.default_rng(9))
    )
    r1, r2 = np.random.RandomState(3), np.random.RandomState(3)
    np.testing.assert_array_equal(
        draw_samples(a, np.eye(4), 30, rng=r1), draw_samples(a, np.eye(4), 30, rng=r2)
    )


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.full((3, 3, 3), np.nan), "NaN"),
        (np.where(np.eye(3, dtype=bool)[None].repeat(3, 0), np.inf, 1.0), "NaN or infinite"),
        (np.zeros((3, 3, 3)), "constant"),
        (np.full((3, 3, 3), 7.0), "constant"),
        (np.ones((3, 3, 3, 2)), "3D"),
        (np.ones((3, 3)), "3D"),
        (np.zeros((0, 3, 3)), "empty"),
        (np.ones((2, 2, 2), dtype=complex), "real"),
    ],
)
def test_bad_images_raise(array, match):
    with pytest.raises(InvalidInputError, match=match):
        draw_samples(array, np.eye(4), 10)


def test_nan_anywhere_raises():
    a = np.arange(27.0).reshape(3, 3, 3)
    a[1, 2, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        draw_samples(a, np.eye(4), 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "positive integer"),
        ({"n": -3}, "positive integer"),
        ({"n": 2.5}, "positive integer"),
        ({"n": True}, "positive integer"),
        ({"n": 5, "e": 0}, "e must be"),
        ({"n": 5, "e": -1}, "e must be"),
        ({"n": 5, "e": float("nan")}, "e must be"),
        ({"n": 5, "rng": "seed"}, "rng"),
        ({"n": 5, "rng": -1}, "rng"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        draw_samples(LINE, np.eye(4), **kwargs)


def test_numpy_int_n_is_accepted():
    assert draw_samples(LINE, np.eye(4), np.int64(4), rng=0).shape == (4, 3)


def test_bad_affine_raises():
    with pytest.raises(InvalidInputError, match="4x4"):
        draw_samples(LINE, np.eye(3), 10)


# ----------------------------------------------------------------------------- speed


def test_speed_10k_samples_from_mni_sized_map():
    x, y, z = np.ogrid[:193, :229, :193]
    a = np.exp(-((x - 96) ** 2 + (y - 110) ** 2 + (z - 90) ** 2) / (2 * 30.0**2)).astype(np.float32)
    a[a < 0.1] = 0
    draw_samples(a, FLIP_2MM, 10, rng=0)  # warm-up
    t = time.perf_counter()
    s = draw_samples(a, FLIP_2MM, 10_000, rng=0)
    elapsed = time.perf_counter() - t
    assert s.shape == (10_000, 3)
    # target is < 0.3 s; the bound is loose so that a loaded test machine does not fail spuriously
    assert elapsed < 1.0, f"draw_samples took {elapsed:.3f} s"


# ----------------------------------------------------------------------------- properties

affines = st.builds(
    lambda scales, signs, shift: np.block(
        [
            [np.diag(np.asarray(scales) * np.asarray(signs)), np.asarray(shift)[:, None]],
            [np.zeros((1, 3)), np.ones((1, 1))],
        ]
    ),
    st.lists(st.floats(0.1, 5.0), min_size=3, max_size=3),
    st.lists(st.sampled_from([-1.0, 1.0]), min_size=3, max_size=3),
    st.lists(st.floats(-200, 200), min_size=3, max_size=3),
)
images = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.int16, np.uint8]),
    shape=hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6),
    elements=st.integers(0, 100),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    image=images,
    affine=affines,
    n=st.integers(1, 50),
    e=st.floats(0.1, 4.0),
    invert=st.booleans(),
    poison=st.sampled_from([None, np.nan, np.inf, -np.inf]),
)
def test_property_samples_are_finite_and_inside_the_grid(image, affine, n, e, invert, poison):
    image = image.astype(np.float64) if poison is not None else image
    if poison is not None:
        image.flat[0] = poison
    try:
        s = draw_samples(image, affine, n, e=e, invert=invert, rng=0)
    except InvalidInputError:
        finite = np.isfinite(image.astype(np.float64)).all()
        assert not finite or image.min() == image.max()
        return
    assert s.shape == (n, 3)
    assert np.isfinite(s).all()
    v = mm_to_voxel(s, affine)
    assert np.all(v >= -0.5 - 1e-9) and np.all(v < np.array(image.shape) - 0.5 + 1e-9)
