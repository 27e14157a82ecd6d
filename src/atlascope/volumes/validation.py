"""Checks that turn any image a user hands in into a clean 3D array, or a clear error."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np

from ..commons import logger
from ..errors import InvalidInputError
from .providers import load_nifti, read_dataobj

__all__ = ["as_nifti", "analysis_dtype", "validated_image"]


def as_nifti(
    img: nib.spatialimages.SpatialImage | str | os.PathLike, what: str = "input image"
) -> nib.Nifti1Image:
    """A nibabel image from an image object or a path (``str``/``PathLike``)."""
    if isinstance(img, str | os.PathLike):
        return load_nifti(img)
    if isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        return img
    if isinstance(img, nib.spatialimages.SpatialImage):
        try:
            return nib.Nifti1Image.from_image(img)
        except Exception as exc:
            raise InvalidInputError(f"{what}: cannot convert {type(img).__name__} to NIfTI ({exc}).") from exc
    raise InvalidInputError(
        f"{what} must be a NIfTI file path or a nibabel image, got {type(img).__name__}. "
        "Use nibabel.load(path) or pass the path."
    )


def analysis_dtype(data: np.ndarray, what: str) -> np.ndarray:
    """The array in a dtype that nibabel wraps without an explicit header and numpy computes with.

    bool becomes uint8; int64/uint64 become int32 when every value fits (float64 otherwise, exact
    up to 2**53); float16 and extended floats become float64 (values beyond float64's range are
    refused); the other integer types and float32/float64 are kept.

    Parameters
    ----------
    data : ndarray
        Voxel values of any shape.
    what : str
        How to name the image in error messages.

    Returns
    -------
    ndarray
        Same shape; the same array when its type is kept.

    Raises
    ------
    InvalidInputError
        Non-numeric, complex or structured (RGB) data, or extended floats beyond float64's range.
    """
    if data.dtype == bool:
        return data.astype(np.uint8)
    if data.dtype.kind in "iu" and data.dtype.itemsize == 8:
        # nibabel (and the tools that resample through it) refuse 64-bit integer images without an
        # explicit header: hold them as int32 when every value fits, as float64 otherwise
        info = np.iinfo(np.int32)
        if not data.size or (int(data.min()) >= info.min and int(data.max()) <= info.max):
            return data.astype(np.int32)
        return data.astype(np.float64)
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise InvalidInputError(
            f"{what} has data type {data.dtype}; real numbers are required (RGB or complex images "
            "are not statistical maps). Convert it, e.g. to its magnitude or one channel."
        )
    if np.issubdtype(data.dtype, np.floating) and data.dtype not in (np.float32, np.float64):
        with np.errstate(over="ignore"):
            wide = data.astype(np.float64)
        if np.count_nonzero(np.isinf(wide)) > np.count_nonzero(np.isinf(data)):
            raise InvalidInputError(
                f"{what} has {data.dtype} values beyond the float64 range (about 1.8e308); rescale it."
            )
        return wide
    return data


def _nonfinite_as_background(data: np.ndarray, what: str) -> np.ndarray:
    """NaN and ±inf voxels become 0 ("no data"), with one INFO line; an image without any finite
    voxel is refused."""
    if not np.issubdtype(data.dtype, np.floating):
        return data
    finite = np.isfinite(data)
    n_finite = int(np.count_nonzero(finite))
    if n_finite == data.size:
        return data
    if n_finite == 0:
        raise InvalidInputError(
            f"{what} holds no finite value: all {data.size} voxels are NaN or infinite. "
            "Check the file, or the step that produced it."
        )
    n_bad = data.size - n_finite
    logger.info("%s: %d NaN or infinite voxels are treated as background (no data).", what, n_bad)
    return np.where(finite, data, data.dtype.type(0))


def validated_image(img, what: str = "input image", allow_zero: bool = False) -> nib.Nifti1Image:
    """Load and check an image; return a 3D image of real numbers with a finite affine.

    NaN and ±inf voxels are the background (SPM writes NaN outside the brain): they become 0 and
    one INFO line gives their count. Integer images (int8 … int64, uint8 … uint64) and bool
    work: see :func:`analysis_dtype` for the type each is held in. Signed values are kept.

    Parameters
    ----------
    img : nibabel image or path
        The image.
    what : str
        How to name it in error messages.
    allow_zero : bool
        Accept an image whose voxels are all zero.

    Returns
    -------
    nibabel.Nifti1Image
        Shape (X, Y, Z), data in memory, finite values.

    Raises
    ------
    InvalidInputError
        Wrong dimensionality (2D, 4D with several volumes, 5D), empty, non-numeric or complex data,
        no finite voxel at all, all-zero data, a singular / non-finite affine, or a declared size
        beyond the memory budget (``ATLASCOPE_MAX_IMAGE_BYTES``).
    """
    nimg = as_nifti(img, what)
    shape = nimg.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) == 4:
        raise InvalidInputError(
            f"{what} is 4D with {nimg.shape[3]} volumes; atlascope needs one 3D map. "
            "Select a volume first, e.g. nilearn.image.index_img(img, 0)."
        )
    if len(shape) != 3:
        raise InvalidInputError(
            f"{what} has {len(nimg.shape)} dimensions (shape {nimg.shape}); a 3D volume is required."
        )
    if 0 in shape:
        raise InvalidInputError(f"{what} is empty (shape {nimg.shape}); it holds no voxels.")
    affine = np.asarray(nimg.affine, dtype=float)
    with np.errstate(all="ignore"):
        finite_affine = affine.shape == (4, 4) and bool(np.isfinite(affine).all())
        singular = not finite_affine or abs(np.linalg.det(affine[:3, :3])) < 1e-9
    if singular:
        raise InvalidInputError(
            f"{what} has an unusable affine (not finite or singular): {affine.tolist()}. "
            "Fix the image header (sform/qform) so that voxels map to mm."
        )
    data = read_dataobj(nimg, (), what)
    data = _nonfinite_as_background(analysis_dtype(data.reshape(shape), what), what)
    if not allow_zero and not np.any(data):
        raise InvalidInputError(
            f"{what} is all zero: there is nothing to characterise. Check the threshold or file."
        )
    hdr = nimg.header.copy() if isinstance(nimg, nib.Nifti1Image) else None
    if hdr is not None:
        hdr.set_data_dtype(data.dtype)
        hdr.set_slope_inter(None, None)  # the data is already scaled
    return nib.Nifti1Image(data, affine, hdr, dtype=data.dtype)
