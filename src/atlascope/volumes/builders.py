"""Making Volumes: from NIfTI files or images, from arrays, and from point clouds (kernel density)."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np

from ..affines import as_affine
from ..analysis.kde import points_to_density
from ..commons import logger
from ..core.provenance import Provenance
from ..core.space import Space
from ..errors import InvalidInputError, SpaceMismatchError
from ..locations.point import BoundingBox, PointCloud
from ..locations.spaces import check_compatible, resolve_space
from .providers import read_dataobj
from .validation import analysis_dtype, validated_image
from .volume import Volume, volume_from_image

__all__ = ["from_nifti", "from_array", "from_pointcloud"]


def _check_in_space(img: nib.Nifti1Image, space: Space | None, name: str) -> None:
    """Refuse an image whose non-zero voxels lie entirely outside the space's brain extent."""
    if space is None or space.extent_mm is None:
        return
    data = read_dataobj(img, (), name)
    box = BoundingBox.from_image(data.shape, img.affine, space, mask=data != 0)
    lo, hi = (np.asarray(v, dtype=float) for v in space.extent_mm)
    if (box.maxpoint < lo).any() or (box.minpoint > hi).any():
        raise SpaceMismatchError(
            f"{name}: its non-zero voxels span {box.minpoint.round(1).tolist()} to {box.maxpoint.round(1).tolist()} mm, "
            f"entirely outside {space.name!r} ({lo.tolist()} to {hi.tolist()} mm). The image is in another space "
            "or its affine is wrong; pass the right space or fix the header."
        )


def from_nifti(
    img: nib.spatialimages.SpatialImage | str | os.PathLike,
    space: str | Space,
    name: str = "",
    allow_zero: bool = False,
) -> Volume:
    """A Volume from a NIfTI path or a nibabel image in ``space``.

    The image is read and checked once: it must be 3D (a 4D image with one volume is accepted),
    finite, not all zero, with a usable affine, and its non-zero voxels must lie in ``space``.

    Parameters
    ----------
    img : path or nibabel image
        The activation map or mask.
    space : str or Space
        Reference space spec, e.g. ``"mni152"``.
    name : str
        Display name (defaults to the file name).
    allow_zero : bool
        Accept an all-zero image.

    Raises
    ------
    InvalidInputError
        Corrupt file, wrong dimensionality, NaN/inf, all zero, bad affine.
    NotFoundError
        Unknown space.
    SpaceMismatchError
        The image lies outside the space.
    """
    if not name:
        name = os.path.basename(str(img)) if isinstance(img, str | os.PathLike) else "input volume"
    sp = resolve_space(space)
    clean = validated_image(img, what=name, allow_zero=allow_zero)
    if not allow_zero:
        _check_in_space(clean, sp, name)
    src = str(img) if isinstance(img, str | os.PathLike) else "nibabel image in memory"
    return volume_from_image(
        clean,
        sp,
        name,
        Provenance(source=src, files=(src,) if src.endswith((".nii", ".gz")) else ()),
        validated=not allow_zero,
    )


def from_array(
    data: np.ndarray, affine: np.ndarray, space: str | Space, name: str = "array", allow_zero: bool = False
) -> Volume:
    """A Volume from a 3D numpy array and a 4x4 voxel-to-mm affine (validated like ``from_nifti``).

    Parameters
    ----------
    data : array_like, shape (X, Y, Z)
        Voxel values: any integer type (int8 … int64, uint8 … uint64), bool (stored as uint8) or
        float; NaN/±inf voxels are background.
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix; must be finite.

    Raises
    ------
    InvalidInputError
        Non-numeric data, a non-finite or malformed affine, and everything ``from_nifti`` refuses.
    """
    aff = as_affine(affine, f"{name}: affine")
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name}: data is not an array of numbers ({exc}).") from exc
    arr = analysis_dtype(arr, name)
    try:
        img = nib.Nifti1Image(arr, aff, dtype=arr.dtype)
    except (ValueError, TypeError, nib.spatialimages.HeaderDataError) as exc:
        raise InvalidInputError(
            f"{name}: nibabel cannot hold an array of shape {arr.shape} and type {arr.dtype} ({exc})."
        ) from exc
    return from_nifti(img, space, name, allow_zero=allow_zero)


def _target_grid(target, space: Space | None) -> tuple[tuple[int, int, int], np.ndarray]:
    if target is None:
        if space is None:
            raise InvalidInputError(
                "from_pointcloud needs a target grid or points in a space with a template."
            )
        target = space.get_template()
    if isinstance(target, Volume):
        img = target.fetch()
    elif isinstance(target, nib.spatialimages.SpatialImage):
        img = target
    else:
        raise InvalidInputError(f"target must be a Volume or a nibabel image, got {type(target).__name__}.")
    return tuple(int(s) for s in img.shape[:3]), np.asarray(img.affine, dtype=float)


def from_pointcloud(
    points: PointCloud, label: int | None = None, target=None, normalize: bool = True, name: str = ""
) -> Volume:
    """Kernel-density map of (some of) a point cloud on a target grid.

    Points are counted per voxel of ``target`` (nearest voxel) and smoothed with a Gaussian of
    σ = the points' ``sigma_mm`` converted to voxels per axis, truncated at 4σ.

    Parameters
    ----------
    points : PointCloud
        The points (with ``sigma_mm``).
    label : int, optional
        Use only points with this cluster label.
    target : Volume or nibabel image, optional
        Output grid; default the template of the points' space.
    normalize : bool
        Divide by the sum, so the map sums to 1.

    Returns
    -------
    Volume
        Float32 density map in the points' space.
    """
    if not isinstance(points, PointCloud):
        raise InvalidInputError(f"from_pointcloud needs a PointCloud, got {type(points).__name__}.")
    sel = points
    if label is not None:
        if points.labels is None:
            raise InvalidInputError(
                "label given but the point cloud has no labels; run find_clusters() first."
            )
        mask = points.labels == label
        if not mask.any():
            raise InvalidInputError(
                f"No point has label {label}; labels present: {sorted(set(points.labels.tolist()))}."
            )
        sel = points.subset(mask)
    if isinstance(target, Volume):
        check_compatible(points.space, target.space)
    shape, affine = _target_grid(target, points.space)
    dens = points_to_density(sel.coordinates, sel.sigma_mm, shape, affine, normalize=normalize)
    if not np.any(dens):
        logger.warning(
            "None of the %d points falls inside the target grid; the density map is empty.", len(sel)
        )
    img = nib.Nifti1Image(dens.astype(np.float32), affine)
    nm = name or (f"kernel density of cluster {label}" if label is not None else "kernel density of points")
    return volume_from_image(img, points.space, nm)
