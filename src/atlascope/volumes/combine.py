"""siibra's ``volumes.from_file`` and ``volumes.merge``."""

from __future__ import annotations

import os
from collections.abc import Sequence

import nibabel as nib
import numpy as np

from ..core.space import Space
from ..errors import InvalidInputError
from ..locations.spaces import check_compatible
from .builders import from_nifti
from .resampling import resample_to_grid
from .volume import Volume, volume_from_image

__all__ = ["from_file", "merge"]


def from_file(filename: str | os.PathLike, space: str | Space, name: str = "") -> Volume:
    """A Volume from a NIfTI file in ``space`` (siibra's name; checked as ``from_nifti``)."""
    return from_nifti(filename, space, name)


def merge(volumes: Sequence[Volume], labels: Sequence[int] | None = None, name: str = "") -> Volume:
    """Several volumes of one space as one volume on the first volume's voxel grid.

    Parameters
    ----------
    volumes : sequence of Volume
        The volumes; the others are resampled to the first one's grid (nearest neighbour for
        labels, linear otherwise).
    labels : sequence of int, optional
        One label per volume: the result is a labelled volume whose non-zero voxels of volume ``i``
        carry ``labels[i]`` (later volumes win where they overlap). Without labels, the voxel-wise
        maximum of the volumes.
    name : str
        Display name.

    Raises
    ------
    InvalidInputError
        No volumes, not all Volumes, or a number of labels that is not one per volume.
    SpaceMismatchError
        The volumes are in unrelated spaces.
    """

    vols = list(volumes)
    if not vols or not all(isinstance(v, Volume) for v in vols):
        raise InvalidInputError("merge takes a non-empty list of Volumes.")
    if labels is not None and len(labels) != len(vols):
        raise InvalidInputError(f"merge got {len(labels)} labels for {len(vols)} volumes; give one per volume.")
    first = vols[0].fetch()
    shape, affine = first.shape[:3], np.asarray(first.affine, float)
    out: np.ndarray | None = None
    for i, v in enumerate(vols):
        check_compatible(v.space, vols[0].space)
        img = first if i == 0 else v.fetch()
        arr = np.asanyarray(img.dataobj)
        if arr.shape[:3] != shape or not np.allclose(img.affine, affine):
            arr = resample_to_grid(arr, img.affine, shape, affine)
        if labels is not None:
            out = np.zeros(shape, np.int32) if out is None else out
            out[arr != 0] = int(labels[i])
        else:
            out = arr.astype(np.float32) if out is None else np.maximum(out, arr)
    merged = nib.Nifti1Image(out, affine)
    merged.header.set_xyzt_units("mm")
    return volume_from_image(merged, vols[0].space, name or "merged volume")
