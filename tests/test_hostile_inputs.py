"""Regression tests of issue 11 items 10-12 and issue 8 item 1: images whose header lies about their
size, gzip bombs, every NIfTI dtype through ``from_array``/``from_nifti`` -> ``Map.assign``, extreme
float64 values, non-finite affines and absurd location uncertainties give results or clear errors."""

from __future__ import annotations

import gzip
import logging
import struct

import nibabel as nib
import numpy as np
import pytest

import atlascope
from atlascope import maps, volumes
from atlascope.errors import InvalidInputError
from atlascope.locations.point import MAX_SIGMA_MM
from atlascope.maps.map import METRIC_COLUMNS
from atlascope.volumes import providers

AFF = np.diag([2.0, 2.0, 2.0, 1.0])
AFF[:3, 3] = -10.0

METRICS = list(METRIC_COLUMNS)  # the metric columns of an assignment table


@pytest.fixture(scope="module")
def cube_map():
    m = np.zeros((10, 10, 10), np.float32)
    m[2:8, 2:8, 2:8] = np.linspace(0.1, 0.9, 216).reshape(6, 6, 6)
    return maps.from_nifti([nib.Nifti1Image(m, AFF)], ["Cube"], "mni152", name="hostile input map")


def _box(dtype=np.float64, value=1.0) -> np.ndarray:
    d = np.zeros((10, 10, 10), dtype)
    d[3:6, 3:6, 3:6] = value
    return d


def _header_bytes(dims: tuple[int, ...], dtype=np.float32) -> bytes:
    """A NIfTI-1 header (348 bytes + 4 extension bytes) declaring ``dims`` voxels of ``dtype``."""
    hdr = nib.Nifti1Image(np.zeros((2, 2, 2), dtype), np.eye(4)).header
    hdr.set_data_offset(352)
    raw = bytearray(hdr.binaryblock)
    struct.pack_into("<8h", raw, 40, len(dims), *dims, *([1] * (7 - len(dims))))
    return bytes(raw) + b"\0" * 4


def _finite_metrics(df) -> None:
    cols = [c for c in METRICS if c in df.columns]
    assert cols, df.columns
    values = df[cols].to_numpy(float)
    assert np.isfinite(values).all(), df[cols]


# ------------------------------------------------------------------ item 10: declared sizes
def test_header_claiming_30000_cubed_voxels_is_refused_before_reading(tmp_path):
    p = tmp_path / "liar.nii"
    p.write_bytes(_header_bytes((30000, 30000, 30000)))
    assert p.stat().st_size == 352
    with pytest.raises(InvalidInputError, match=r"declares 108000000000000 bytes.*holds only 352 bytes"):
        volumes.from_nifti(p, "mni152")


def test_negative_dimension_is_a_clear_error(tmp_path):
    p = tmp_path / "negative.nii"
    p.write_bytes(_header_bytes((-5, 10, 10)) + b"\0" * 4000)
    with pytest.raises(InvalidInputError, match=r"negative dimension.*\(-5, 10, 10\)"):
        volumes.from_nifti(p, "mni152")


def test_gzip_bomb_is_refused_before_decompressing(tmp_path):
    p = tmp_path / "bomb.nii.gz"
    # declares 2048^3 float32 voxels (32 GiB); the file itself is a few kB
    with gzip.open(p, "wb") as fh:
        fh.write(_header_bytes((2048, 2048, 2048)))
        fh.write(b"\0" * 1_000_000)
    assert p.stat().st_size < 10_000
    with pytest.raises(InvalidInputError, match=r"32 GiB decoded.*memory budget of 4 GiB.*ATLASCOPE_MAX_IMAGE_BYTES"):
        volumes.from_nifti(p, "mni152")


def test_small_gzip_declaring_a_gigabyte_is_refused_before_allocating(tmp_path):
    p = tmp_path / "small-bomb.nii.gz"
    # 1 GiB declared (within the default budget), 1 MB of zeros actually compressed: the array is
    # never allocated, the stream is measured first
    with gzip.open(p, "wb") as fh:
        fh.write(_header_bytes((1024, 1024, 256)))
        fh.write(b"\0" * 1_000_000)
    assert p.stat().st_size < 10_000
    with pytest.raises(InvalidInputError, match=r"expands to only 1000352.*gzip bomb with a lying header"):
        volumes.from_nifti(p, "mni152")


def test_memory_budget_is_configurable(tmp_path, monkeypatch):
    p = tmp_path / "ok.nii.gz"
    nib.save(nib.Nifti1Image(_box(np.float32), AFF), p)  # 4000 bytes decoded
    monkeypatch.setenv("ATLASCOPE_MAX_IMAGE_BYTES", "3999")
    with pytest.raises(InvalidInputError, match="raise ATLASCOPE_MAX_IMAGE_BYTES"):
        volumes.from_nifti(p, "mni152")
    monkeypatch.setenv("ATLASCOPE_MAX_IMAGE_BYTES", "4000")
    assert volumes.from_nifti(p, "mni152").fetch().shape == (10, 10, 10)
    monkeypatch.setenv("ATLASCOPE_MAX_IMAGE_BYTES", "lots")
    with pytest.raises(InvalidInputError, match=r"ATLASCOPE_MAX_IMAGE_BYTES='lots' is not a positive number"):
        volumes.from_nifti(p, "mni152")


def test_header_scaling_counts_eight_bytes_per_voxel(tmp_path, monkeypatch):
    img = nib.Nifti1Image(_box(np.int16, 3), AFF)
    img.header.set_slope_inter(0.5, 0)
    p = tmp_path / "scaled.nii"
    nib.save(img, p)
    monkeypatch.setenv("ATLASCOPE_MAX_IMAGE_BYTES", str(1000 * 4))  # int16 fits, float64 does not
    with pytest.raises(InvalidInputError, match="memory budget"):
        volumes.from_nifti(p, "mni152")


def test_huge_expansion_of_a_small_file_warns(tmp_path, monkeypatch, caplog):
    p = tmp_path / "zeros.nii.gz"
    d = np.zeros((64, 64, 64), np.float32)
    d[30:34, 30:34, 30:34] = 1
    nib.save(nib.Nifti1Image(d, AFF), p)
    # the rule at a smaller scale: 1 MB decoded from a few kB (a 1 MB file giving 3.2 GB is this x 3000)
    monkeypatch.setattr(providers, "EXPANSION_WARN_BYTES", 100_000)
    with caplog.at_level(logging.WARNING, logger="atlascope"):
        volumes.from_nifti(p, "mni152")
    assert any("expands to" in r.getMessage() and "zeros.nii.gz" in r.getMessage() for r in caplog.records)


def test_truncated_uncompressed_file_is_refused(tmp_path):
    p = tmp_path / "short.nii"
    nib.save(nib.Nifti1Image(_box(np.float32), AFF), p)
    p.write_bytes(p.read_bytes()[:2000])
    with pytest.raises(InvalidInputError, match="truncated or its header is corrupt"):
        volumes.from_nifti(p, "mni152")


# ------------------------------------------------------------ item 11 / issue 8.1: dtypes
ALL_DTYPES = [bool, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
              np.float16, np.float32, np.float64, np.longdouble]  # fmt: skip


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda t: np.dtype(t).name)
def test_every_dtype_assigns_like_float(cube_map, dtype):
    reference = cube_map.assign(volumes.from_array(_box(np.float64), AFF, "mni152"))
    got = cube_map.assign(volumes.from_array(_box(dtype), AFF, "mni152"))
    assert len(got) == len(reference) == 1
    np.testing.assert_allclose(got[METRICS].to_numpy(float), reference[METRICS].to_numpy(float))


@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.int8, np.uint32], ids=lambda t: np.dtype(t).name)
def test_integer_nifti_files_and_images_assign(cube_map, tmp_path, dtype):
    img = nib.Nifti1Image(_box(dtype, 7), AFF, dtype=dtype)
    p = tmp_path / f"{np.dtype(dtype).name}.nii.gz"
    nib.save(img, p)
    from_file = cube_map.assign(volumes.from_nifti(p, "mni152"))
    from_image = cube_map.assign(img)  # a nibabel image straight into Map.assign
    unit = cube_map.assign(volumes.from_array(_box(), AFF, "mni152"))
    assert len(from_file) == len(from_image) == 1
    # the input weighted mean is in the input's units: 7 times that of a box of ones
    assert from_file["input weighted mean"].iloc[0] == pytest.approx(7 * unit["input weighted mean"].iloc[0])
    np.testing.assert_allclose(from_file[METRICS].to_numpy(float), from_image[METRICS].to_numpy(float))


def test_signed_integer_map_keeps_its_sign():
    d = _box(np.int64, -4)
    d[0, 0, 0] = 9
    v = volumes.from_array(d, AFF, "mni152")
    data = np.asarray(v.fetch().dataobj)
    assert data.dtype == np.int32 and data.min() == -4 and data.max() == 9  # exact: the values fit
    big = _box(np.int64, 2**40)
    big[0, 0, 0] = -(2**40)
    data = np.asarray(volumes.from_array(big, AFF, "mni152").fetch().dataobj)
    assert data.dtype == np.float64 and data.max() == 2**40 and data.min() == -(2**40)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64, bool], ids=lambda t: np.dtype(t).name)
def test_integer_input_on_another_grid_assigns(cube_map, dtype):
    aff = np.eye(4)  # 1 mm grid, slightly rotated: the input is resampled through nibabel
    aff[:3, :3] = [[0.99, -0.14, 0], [0.14, 0.99, 0], [0, 0, 1.0]]
    aff[:3, 3] = -10
    d = np.zeros((20, 20, 20), dtype)
    d[8:14, 8:14, 8:14] = 1
    df = cube_map.assign(volumes.from_array(d, aff, "mni152"))
    assert len(df) == 1
    _finite_metrics(df)


def test_values_beyond_float32_on_another_grid_are_finite_or_refused(cube_map):
    aff = AFF.copy()
    aff[:3, 3] = -11.0  # shifted by half a voxel: resampled onto the map's grid
    try:
        df = cube_map.assign(volumes.from_array(_box(np.float64, 1e300), aff, "mni152"))
    except InvalidInputError as exc:
        assert "Rescale the input" in str(exc)
    else:
        _finite_metrics(df)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_affine_is_a_clear_error(bad):
    aff = AFF.copy()
    aff[0, 3] = bad
    with pytest.raises(InvalidInputError, match="affine contains NaN or infinite values"):
        volumes.from_array(_box(), aff, "mni152")


def test_from_array_refuses_non_numbers():
    with pytest.raises(InvalidInputError, match="real numbers are required"):
        volumes.from_array(np.full((4, 4, 4), "a"), AFF, "mni152")
    with pytest.raises(InvalidInputError, match="real numbers are required"):
        volumes.from_array(_box(np.complex64, 1 + 1j), AFF, "mni152")
    with pytest.raises(InvalidInputError, match="4x4"):
        volumes.from_array(_box(), np.eye(3), "mni152")


def test_nan_background_spm_style(cube_map, caplog):
    d = np.full((10, 10, 10), np.nan)
    d[2:8, 2:8, 2:8] = 0.0
    d[3:6, 3:6, 3:6] = 4.5
    d[7, 7, 7] = -2.0  # signed values inside the brain stay
    with caplog.at_level(logging.INFO, logger="atlascope"):
        df = cube_map.assign(volumes.from_array(d, AFF, "mni152", name="spm t-map"))
    msgs = [r.getMessage() for r in caplog.records if "treated as background" in r.getMessage()]
    assert msgs == [f"spm t-map: {1000 - 216} NaN or infinite voxels are treated as background (no data)."]
    assert len(df) == 1
    _finite_metrics(df)


# ------------------------------------------------------------------ item 12: extreme values
@pytest.mark.parametrize("value", [1.79e308, np.finfo(np.float64).max, 1e300, 5e-324])
def test_extreme_float64_values_give_finite_metrics(cube_map, value):
    reference = cube_map.assign(volumes.from_array(_box(), AFF, "mni152"))
    df = cube_map.assign(volumes.from_array(_box(np.float64, value), AFF, "mni152"))
    _finite_metrics(df)
    scale_free = [c for c in METRICS if c != "input weighted mean"]
    np.testing.assert_allclose(df[scale_free].to_numpy(float), reference[scale_free].to_numpy(float))
    expected = value * reference["input weighted mean"].iloc[0]
    assert df["input weighted mean"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_mixed_extreme_signs_give_finite_metrics(cube_map):
    d = _box(np.float64, 1.7e308)
    d[4, 4, 4] = -1.7e308
    d[5, 5, 5] = 1e-300
    df = cube_map.assign(volumes.from_array(d, AFF, "mni152"))
    _finite_metrics(df)
    assert df["correlation"].between(-1, 1).all()


# ------------------------------------------------------------------------- item 11: sigmas
@pytest.mark.parametrize("sigma", [1e3, 1e6, MAX_SIGMA_MM * 1.01])
def test_huge_sigma_is_a_clear_error(cube_map, sigma):
    with pytest.raises(InvalidInputError, match=r"sigma_mm must be at most 20 mm"):
        atlascope.PointCloud([[0.0, 0.0, 0.0]], "mni152", sigma_mm=sigma)
    with pytest.raises(InvalidInputError, match=r"sigma_mm must be at most 20 mm"):
        atlascope.Point([0.0, 0.0, 0.0], "mni152", sigma_mm=sigma)
    from atlascope.analysis.kde import points_to_density

    with pytest.raises(InvalidInputError, match=r"sigma_mm must be at most 20 mm"):
        points_to_density([[0.0, 0.0, 0.0]], sigma, (10, 10, 10), AFF)


def test_largest_sigma_still_assigns(cube_map):
    df = cube_map.assign(atlascope.Point([0.0, 0.0, 0.0], "mni152", sigma_mm=MAX_SIGMA_MM))
    assert len(df) == 1
    _finite_metrics(df)
