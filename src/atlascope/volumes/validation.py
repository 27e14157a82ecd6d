"""Checks that turn any image a user hands in into a clean 3D array, or a clear error."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np

from ..errors import InvalidInputError
from .providers import load_nifti, read_dataobj

__all__ = ["as_nifti", "validated_image"]


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


def validated_image(img, what: str = "input image", allow_zero: bool = False) -> nib.Nifti1Image:
    """Load and check an image; return a 3D float32/float64/int image with a finite affine.

    Parameters
    ----------
    img : nibabel image or path
        The image.
    what : str
        How to name it in error messages.
    allow_zero : bool
        Accept an image whose voxels are all zero.

    Raises
    ------
    InvalidInputError
        Wrong dimensionality (2D, 4D with several volumes, 5D), empty, non-numeric or complex data,
        NaN or infinite values, all-zero data, or a singular / non-finite affine.
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
    if affine.shape != (4, 4) or not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise InvalidInputError(
            f"{what} has an unusable affine (not finite or singular): {affine.tolist()}. "
            "Fix the image header (sform/qform) so that voxels map to mm."
        )
    data = read_dataobj(nimg, (), what)
    data = data.reshape(shape)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise InvalidInputError(f"{what} has data type {data.dtype}; real numbers are required.")
    if np.issubdtype(data.dtype, np.floating):
        finite = np.isfinite(data)
        if not finite.all():
            n_bad = int(data.size - np.count_nonzero(finite))
            raise InvalidInputError(
                f"{what} contains {n_bad} NaN or infinite voxels. Replace them, e.g. "
                "nilearn.image.math_img('np.nan_to_num(img)', img=img)."
            )
    if not allow_zero and not np.any(data):
        raise InvalidInputError(
            f"{what} is all zero: there is nothing to characterise. Check the threshold or file."
        )
    hdr = nimg.header.copy() if isinstance(nimg, nib.Nifti1Image) else None
    out = nib.Nifti1Image(data, affine, hdr)
    out.header.set_data_dtype(data.dtype)
    return out
