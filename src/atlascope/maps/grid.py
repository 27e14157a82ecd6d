"""Resampling onto a map's voxel grid, restricted to where the input has signal."""

from __future__ import annotations

import nibabel as nib
import numpy as np

__all__ = ["resample_to_grid", "crop_resample"]


def _is_label_like(arr: np.ndarray) -> bool:
    """Integer, boolean, or binary (one non-zero value) images are resampled with nearest neighbour."""
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        return True
    nz = arr[arr != 0]
    return bool(nz.size) and bool((nz == nz.flat[0]).all())


def resample_to_grid(
    data: np.ndarray, affine: np.ndarray, shape, target_affine: np.ndarray, labels: bool | None = None
) -> np.ndarray:
    """Resample a whole 3D array onto a target grid with nilearn (nearest for labels, else linear).

    Parameters
    ----------
    data : ndarray (X, Y, Z)
        Source voxels.
    affine : ndarray (4, 4)
        Source voxel-to-mm affine.
    shape : tuple of int
        Target grid shape.
    target_affine : ndarray (4, 4)
        Target voxel-to-mm affine.
    labels : bool, optional
        Force nearest-neighbour (True) or linear (False); default: nearest for integer, boolean and
        binary (a single non-zero value) data, linear otherwise (SPEC section 4).
    """
    from nilearn.image import resample_img

    if labels is None:
        labels = _is_label_like(data)
    img = nib.Nifti1Image(np.asarray(data), np.asarray(affine, float))
    out = resample_img(
        img,
        target_affine=np.asarray(target_affine, float),
        target_shape=tuple(shape),
        interpolation="nearest" if labels else "linear",
        force_resample=True,
        copy_header=True,
    )
    return np.asanyarray(out.dataobj)


def crop_resample(
    data: np.ndarray, affine: np.ndarray, shape, target_affine: np.ndarray, labels: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Resample only the part of the target grid that the input's non-zero voxels reach.

    Returns
    -------
    sub : ndarray
        Resampled values on the sub-box of the target grid.
    offset : ndarray of int, shape (3,)
        Voxel index in the target grid of ``sub[0, 0, 0]``.
        An input without non-zero voxels inside the grid gives an empty ``sub``.
    """
    data = np.asarray(data)
    target_affine = np.asarray(target_affine, float)
    affine = np.asarray(affine, float)
    shape = np.asarray(shape, int)
    if data.shape == tuple(shape) and np.allclose(affine, target_affine, atol=1e-6):
        nz = np.argwhere(data != 0)
        if not len(nz):
            return np.zeros((0, 0, 0), data.dtype), np.zeros(3, int)
        lo, hi = nz.min(0), nz.max(0) + 1
        return data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], lo
    nz = np.argwhere(data != 0)
    if not len(nz):
        return np.zeros((0, 0, 0), data.dtype), np.zeros(3, int)
    lo, hi = nz.min(0) - 1, nz.max(0) + 1
    corners = np.array(
        [[x, y, z, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    tvox = (np.linalg.inv(target_affine) @ affine @ corners.T).T[:, :3]
    tlo = np.maximum(np.floor(tvox.min(0)).astype(int) - 1, 0)
    thi = np.minimum(np.ceil(tvox.max(0)).astype(int) + 2, shape)
    if (thi <= tlo).any():
        return np.zeros((0, 0, 0), data.dtype), np.zeros(3, int)
    sub_affine = target_affine.copy()
    sub_affine[:3, 3] = (target_affine @ np.r_[tlo, 1.0])[:3]
    sub = resample_to_grid(data, affine, tuple(thi - tlo), sub_affine, labels=labels)
    return sub, tlo
