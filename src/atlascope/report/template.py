"""The anatomical background of the report's figures: the MNI152 template nilearn ships, read once.

The file (ICBM 2009a nonlinear symmetric T1, 1 mm) is read with nibabel from nilearn's package data,
without importing nilearn: ``nilearn.datasets`` pulls scikit-learn, seconds of start-up the report
does not need. The slices use the 1 mm grid; the glass brains and the slice viewer a 2 mm grid
(means of 2x2x2 blocks), on which an input is sampled in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np

from ..affines import as_affine
from ..configuration.package_data import package_file

__all__ = ["TEMPLATE_FILE", "Template", "load_template"]

#: nilearn's MNI152 template (path parts inside the nilearn package).
TEMPLATE_FILE = ("datasets", "data", "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")

#: Fraction of the template's maximum above which a voxel counts as inside the head (silhouettes).
_INSIDE = 0.1


@dataclass(frozen=True)
class Template:
    """The background template on a 1 mm and a 2 mm grid.

    Attributes
    ----------
    data : numpy.ndarray, shape (197, 233, 189)
        T1 intensities on the 1 mm grid, as stored (uint8: no float copy of 35 MB is made).
    affine : numpy.ndarray, shape (4, 4)
        Voxel-to-mm matrix of ``data`` (MNI mm, axes parallel to x, y, z).
    data2 : numpy.ndarray, shape (98, 116, 94), float32
        The same on the 2 mm grid (means of 2x2x2 blocks), scaled to 0…1.
    affine2 : numpy.ndarray, shape (4, 4)
        Voxel-to-mm matrix of ``data2``.
    """

    data: np.ndarray
    affine: np.ndarray
    data2: np.ndarray
    affine2: np.ndarray

    def silhouette(self, axis: int) -> np.ndarray:
        """Projection of the head along ``axis`` on the 2 mm grid: bool, shape of the two other axes."""
        return (self.data2 > _INSIDE).any(axis=axis)


def load_template() -> Template:
    """Read nilearn's MNI152 template with nibabel and derive its 2 mm grid.

    Returns
    -------
    Template
    """
    img = nib.load(str(package_file("nilearn", *TEMPLATE_FILE)))
    data = np.asanyarray(img.dataobj)
    affine = as_affine(img.affine)
    data2 = _block_mean(data)
    data2 /= max(float(data2.max()), 1e-12)
    # the centre of 2 mm voxel (0, 0, 0) is the centre of 1 mm voxels 0..1: index 0.5 of the 1 mm grid
    affine2 = affine @ np.array([[2.0, 0, 0, 0.5], [0, 2.0, 0, 0.5], [0, 0, 2.0, 0.5], [0, 0, 0, 1.0]])
    return Template(data, affine, data2, affine2)


def _block_mean(data: np.ndarray) -> np.ndarray:
    """Means of the 2x2x2 blocks of ``data`` (odd last planes dropped), float32.

    Pairs are summed one axis at a time, the first sum already at half the size (uint8 sums stay exact
    in uint16), so no copy of the whole 1 mm volume is made.
    """
    even = [n - n % 2 for n in data.shape]
    acc: np.ndarray = data[: even[0], : even[1], : even[2]]
    wide = np.uint16 if acc.dtype == np.uint8 else np.float32
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, None, 2), slice(1, None, 2)
        acc = acc[tuple(lo)].astype(wide) + acc[tuple(hi)]
    return acc.astype(np.float32) / np.float32(8.0)
