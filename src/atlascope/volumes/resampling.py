"""Resampling onto a map's voxel grid, restricted to where the input has signal."""

from __future__ import annotations

import functools
import warnings

import nibabel as nib
import numpy as np

from ..affines import subgrid_affine, transform_box, voxel_to_voxel

__all__ = ["resample_to_grid", "crop_resample"]


def _is_label_like(arr: np.ndarray) -> bool:
    """Integer, boolean, or binary (one non-zero value) images are resampled with nearest neighbour."""
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        return True
    nonzero = arr != 0
    flat = nonzero.ravel(order="K")  # memory order: a view of C- or F-ordered images
    first = int(flat.argmax())  # the first non-zero voxel (0 when there is none)
    if not flat[first]:
        return False
    # every non-zero voxel holds the first one's value (counts only: no copy of the values)
    value = arr.ravel(order="K")[first]
    return int(np.count_nonzero(arr == value)) == int(np.count_nonzero(nonzero))


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
        binary (a single non-zero value) data, linear otherwise.
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
    data: np.ndarray,
    affine: np.ndarray,
    shape,
    target_affine: np.ndarray,
    labels: bool | None = None,
    positive: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample only the part of the target grid that the input's non-zero voxels reach.

    With ``positive=True`` only voxels > 0 count (the others are taken as 0); the input is cropped to
    their box before anything else, so no pass over the rest of the image allocates memory. The
    result is then exactly 0 where the exact linear interpolant is 0 (and > 0 wherever it is > 0,
    however small): on grids with parallel axes, target voxels within 1e-6 voxel of a source centre
    take that centre's value; on oblique grids, voxels outside the resampled support of the
    positive voxels (weight <= 1e-6) are set to 0. Float error of the grid mapping therefore adds
    no voxels to the input's support.

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
    box = _support_box(data > 0 if positive else data)
    if box is None:
        return np.zeros((0, 0, 0), data.dtype), np.zeros(3, int)
    same_grid = data.shape == tuple(shape) and np.allclose(affine, target_affine, atol=1e-6)
    if same_grid:
        clo, chi = box[0], box[1] + 1
    else:  # the support with one voxel of margin (interpolation reads the neighbours)
        clo, chi = np.maximum(box[0] - 1, 0), np.minimum(box[1] + 2, data.shape[:3])
    data = data[clo[0] : chi[0], clo[1] : chi[1], clo[2] : chi[2]]
    if positive:
        data = np.where(data > 0, data, 0)
    if same_grid:
        return data, clo
    affine = subgrid_affine(affine, clo)
    tmin, tmax = transform_box(box[0] - clo - 1, box[1] - clo + 1, voxel_to_voxel(affine, target_affine))
    tlo = np.maximum(np.floor(tmin).astype(int) - 1, 0)
    thi = np.minimum(np.ceil(tmax).astype(int) + 2, shape)
    if (thi <= tlo).any():
        return np.zeros((0, 0, 0), data.dtype), np.zeros(3, int)
    if labels is None:
        labels = _is_label_like(data)
    vox = voxel_to_voxel(target_affine, affine)  # target voxel -> source voxel
    if np.allclose(vox[:3, :3], np.diag(np.diag(vox[:3, :3])), atol=1e-9):
        sub = _axis_aligned(data, vox, tlo, thi, labels)
        return sub, tlo
    sub_affine = subgrid_affine(target_affine, tlo)
    sub = resample_to_grid(data, affine, tuple(thi - tlo), sub_affine, labels=labels)
    if labels:
        return sub, tlo
    sub = sub.astype(np.float32, copy=False)
    if positive:  # exactly 0 where the exact interpolant is: outside the resampled support of data > 0
        with warnings.catch_warnings():  # nilearn warns on linear resampling of a binary image: intended
            warnings.simplefilter("ignore", UserWarning)
            weight = resample_to_grid((data > 0).astype(np.float32), affine, tuple(thi - tlo), sub_affine, labels=False)
        sub = np.where(weight > _SUPPORT_WEIGHT, sub, 0).astype(np.float32, copy=False)
    return sub, tlo


def _support_box(data: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Inclusive voxel bounding box ``(lo, hi)``, shape (3,) each, of the non-zero voxels (None if none).

    Reductions of one boolean mask, each over contiguous memory where it can (the first axis
    over whole slabs, the other two over the slab range only): no index array per voxel is built.
    """
    mask = data if data.dtype == bool else data != 0
    if mask.ndim != 3:
        mask = mask.reshape(mask.shape[:3] + (-1,)).any(axis=3)
    if mask.flags.f_contiguous and not mask.flags.c_contiguous:  # e.g. nibabel's arrays: work on the C view
        box = _support_box(mask.T)
        return None if box is None else (box[0][::-1].copy(), box[1][::-1].copy())
    mask = np.ascontiguousarray(mask)
    slabs = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
    if not len(slabs):
        return None
    plane = mask[slabs[0] : slabs[-1] + 1].any(axis=0)  # (Y, Z): OR of the slabs
    rows = np.flatnonzero(plane.any(axis=1))
    cols = np.flatnonzero(plane.any(axis=0))
    lo = np.array([slabs[0], rows[0], cols[0]], int)
    hi = np.array([slabs[-1], rows[-1], cols[-1]], int)
    return lo, hi


#: Most target voxels per axis interpolated by :func:`_on_centres` (the others are copied).
_FEW = 2

#: Tolerance (source voxels) at the grid's edges, so that edge voxels of a matching grid stay in.
_EDGE = 1e-6

#: Distance (source voxels) within which a target voxel counts as sitting on a source voxel centre.
_SNAP = 1e-6

#: Weight of the input's support below which an obliquely resampled voxel is outside it.
_SUPPORT_WEIGHT = 1e-6


@functools.lru_cache(maxsize=128)
def _axis_table(
    n_src: int, scale: float, shift: float, n_target: int, nearest: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The grid mapping along one axis, for a whole target axis (kept between calls on the same grids).

    Target voxel ``t`` sits at source voxel coordinate ``c = scale * t + shift``.

    Returns
    -------
    i0, i1 : ndarray of intp, shape (n_target,)
        Source voxels on either side of ``c`` (equal for nearest neighbour).
    w : ndarray of float32, shape (n_target,)
        Weight of ``i1`` (linear interpolation; 0 for nearest neighbour).
    inside : ndarray of bool, shape (n_target,)
        Whether ``c`` lies within the source grid (outside, the value is 0, as nilearn/scipy's
        ``mode="constant"``).
    """
    c = scale * np.arange(n_target, dtype=np.float64) + shift
    if nearest:
        i = np.floor(c + 0.5)
        inside = (c >= -_EDGE) & (c <= n_src - 1 + _EDGE)  # scipy's constant mode, also for order 0
        i0 = np.clip(i, 0, n_src - 1).astype(np.intp)
        out = (i0, i0, np.zeros(n_target, np.float32), inside)
    else:
        inside = (c >= -_EDGE) & (c <= n_src - 1 + _EDGE)
        i0 = np.clip(np.floor(c), 0, max(n_src - 2, 0)).astype(np.intp)
        i1 = np.minimum(i0 + 1, n_src - 1)
        w = np.clip(c - i0, 0.0, 1.0)
        # a target voxel within _SNAP of a source centre sits on it: its weight is exactly 0 or 1,
        # so the value there is the source's (no 1e-17 x neighbour left by float error in ``c``)
        w[w < _SNAP] = 0.0
        w[w > 1.0 - _SNAP] = 1.0
        out = (i0, i1, w.astype(np.float32), inside)
    for a in out:
        a.setflags(write=False)
    return out


def _axis_aligned(
    data: np.ndarray, vox: np.ndarray, tlo: np.ndarray, thi: np.ndarray, labels: bool
) -> np.ndarray:
    """Separable resampling (one 1D pass per axis) of ``data`` onto target voxels ``tlo..thi``.

    Parameters
    ----------
    data : ndarray (X, Y, Z)
        Source voxels.
    vox : ndarray (4, 4)
        Target-voxel to source-voxel matrix with a diagonal 3x3 part (grids with parallel axes).
    tlo, thi : ndarray of int, shape (3,)
        Target sub-box (``thi`` exclusive).
    labels : bool
        Nearest neighbour (keeps the dtype) instead of linear interpolation (float32).

    Returns
    -------
    ndarray, shape ``thi - tlo``
        The same values as nilearn's ``resample_img`` (scipy ``affine_transform``, constant 0
        outside), computed on the sub-box only.
    """
    tables = []
    for ax in range(3):
        i0, i1, w, inside = _axis_table(
            int(data.shape[ax]), float(vox[ax, ax]), float(vox[ax, 3]), int(thi[ax]), bool(labels)
        )
        sl = slice(int(tlo[ax]), int(thi[ax]))
        tables.append((i0[sl], i1[sl], w[sl], inside[sl]))
    # read only the source range the sub-box needs
    lo = [int(t[0].min()) if len(t[0]) else 0 for t in tables]
    hi = [int(t[1].max()) + 1 if len(t[1]) else 0 for t in tables]
    arr = data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    if not labels:
        arr = arr.astype(np.float32, copy=False)
    for ax, (i0, i1, w, inside) in enumerate(tables):
        j0, j1 = i0 - lo[ax], i1 - lo[ax]
        shape = [1, 1, 1]
        shape[ax] = -1
        if labels:
            arr = _take(arr, j0, ax)
        elif (copied := _on_centres(arr, j0, j1, w, inside, ax)) is not None:
            arr = copied
            continue
        else:
            wb = w.reshape(shape)
            a0 = np.take(arr, j0, axis=ax)
            a1 = np.take(arr, j1, axis=ax)
            a1 -= a0
            a1 *= wb
            a0 += a1
            arr = a0
        if not inside.all():  # outside the source grid the value is 0 (a range at either end)
            arr = _zero_outside(arr, inside, ax)
    return np.ascontiguousarray(arr)


def _zero_outside(arr: np.ndarray, inside: np.ndarray, axis: int) -> np.ndarray:
    """``arr`` with 0 where ``inside`` is False along ``axis`` (in place on the outside slabs when
    ``inside`` is one range, as the tables of monotonic mappings are)."""
    ins = np.flatnonzero(inside)
    if not len(ins) or ins[-1] - ins[0] + 1 != len(ins) or not arr.flags.writeable or arr.base is not None:
        shape = [1] * arr.ndim
        shape[axis] = -1
        return arr * inside.reshape(shape).astype(arr.dtype)
    sl = [slice(None)] * arr.ndim
    for part in (slice(0, int(ins[0])), slice(int(ins[-1]) + 1, None)):
        sl[axis] = part
        arr[tuple(sl)] = 0
    return arr


def _take(arr: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """``np.take(arr, index, axis)``, as a view (a slice) when ``index`` steps by +1 or -1."""
    if len(index) > 1:
        step = int(index[1] - index[0])
        if step in (1, -1) and bool((np.diff(index) == step).all()):
            stop = int(index[-1]) + step
            sl = [slice(None)] * arr.ndim
            sl[axis] = slice(int(index[0]), None if stop < 0 else stop, step)
            return arr[tuple(sl)]
    return np.take(arr, index, axis=axis)


def _on_centres(
    arr: np.ndarray, j0: np.ndarray, j1: np.ndarray, w: np.ndarray, inside: np.ndarray, axis: int
) -> np.ndarray | None:
    """Linear resampling along ``axis`` when the target voxels inside the source grid sit on the
    centres (weight 0) of consecutive source voxels, but for at most :data:`_FEW` of them (the
    grid's edge, where the table's weight is 1): a slice, those few interpolated, 0 outside.

    Returns None when that is not the case (the caller interpolates every voxel). The values are
    the interpolation's, ``a0 + (a1 - a0) * w``, for finite inputs.
    """
    on = inside & (w == 0)
    at = np.flatnonzero(on)
    few = np.flatnonzero(inside & (w != 0))
    if not len(at) or at[-1] - at[0] + 1 != len(at) or len(few) > _FEW:
        return None
    part = _take(arr, j0[at], axis)
    if part.base is None and len(at) > 1:  # not a slice: interpolate as usual
        return None
    shape = list(arr.shape)
    shape[axis] = len(inside)
    # the memory order of the source (nibabel's are F-ordered): the copy then runs along memory
    fortran = np.argsort(np.abs(part.strides), kind="stable").tolist() == list(range(part.ndim))
    out = np.zeros(shape, arr.dtype, order="F" if fortran and part.ndim > 1 else "C")
    sl = [slice(None)] * arr.ndim
    sl[axis] = slice(int(at[0]), int(at[-1]) + 1)
    out[tuple(sl)] = part
    if len(few):
        wb = w[few].reshape([-1 if a == axis else 1 for a in range(arr.ndim)])
        pick = [slice(None)] * arr.ndim
        pick[axis] = j0[few]
        a0 = arr[tuple(pick)]  # indexing, not np.take: no contiguous copy of a strided view
        pick[axis] = j1[few]
        a1 = arr[tuple(pick)]
        a1 -= a0
        a1 *= wb
        a0 += a1
        sl[axis] = few
        out[tuple(sl)] = a0
    return out
