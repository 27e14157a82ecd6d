"""Volume: an image with a reference space attached."""

from __future__ import annotations

from typing import Any

import nibabel as nib
import numpy as np

from ..core.provenance import Provenance
from ..core.space import Space
from ..errors import InvalidInputError
from ..locations.boundingbox import BoundingBox
from ..locations.point import PointCloud
from ..locations.spaces import resolve_space
from .providers import ImageProvider, Provider, read_dataobj

__all__ = ["Volume"]


class Volume:
    """A 3D image in a reference space.

    Parameters
    ----------
    provider : Provider
        Where the voxels come from (memory, file, URL...).
    space : str or Space
        Reference space.
    name : str
        Display name.
    z : int, optional
        For a 4D provider, the volume index.
    provenance : Provenance, optional
        Origin of the data.
    """

    def __init__(
        self,
        provider: Provider,
        space: str | Space | None,
        name: str = "",
        z: int | None = None,
        provenance: Provenance | None = None,
    ) -> None:
        self.provider = provider
        self.space = resolve_space(space)
        self.name = name
        self.z = z
        self.provenance = provenance or Provenance(source=provider.source)

    def fetch(self, **kwargs: Any) -> nib.Nifti1Image:
        """The image as a ``nibabel.Nifti1Image`` (same array and affine as the source)."""
        return self.provider.fetch(self.z)

    @property
    def identity(self) -> str:
        """Cache key of the content."""
        return self.provider.identity + ("" if self.z is None else f"#z={self.z}")

    def _array_affine(self) -> tuple[np.ndarray, np.ndarray]:
        img = self.fetch()
        return read_dataobj(img, (), self.name or "volume"), np.asarray(img.affine, dtype=float)

    # -------------------------------------------------------------- analysis
    def draw_samples(
        self, N: int, e: float = 1.0, sigma_mm: float | None = None, invert: bool = False, rng: Any = None
    ) -> PointCloud:
        """Draw ``N`` points with probability proportional to the (normalised) image (SPEC section 3).

        Parameters
        ----------
        N : int
            Number of samples.
        e : float
            Exponent applied to the normalised image; larger values focus samples on the maxima.
        sigma_mm : float, optional
            Uncertainty attached to every sample (mm); default 0.
        invert : bool
            Sample from ``1 - P`` instead (low values).
        rng : None, int or numpy.random.Generator
            Randomness; None uses numpy's global RNG, so ``np.random.seed`` makes runs repeatable.

        Returns
        -------
        PointCloud
            ``N`` points in mm in this volume's space.
        """
        from ..analysis.sampling import draw_samples

        arr, affine = self._array_affine()
        coords = draw_samples(arr, affine, N, e=e, invert=invert, rng=rng)
        return PointCloud(coords, self.space, sigma_mm=0.0 if sigma_mm is None else sigma_mm)

    def find_peaks(
        self, mindist: int = 5, sigma_mm: float = 0.0, threshold: float | None = None
    ) -> PointCloud:
        """Local maxima at least ``mindist`` voxels apart, strongest first, labelled 0..n-1.

        Returns
        -------
        PointCloud
            Peak coordinates (mm, voxel centres) with ``sigma_mm`` each; ``labels`` are 0..n-1.
        """
        from ..analysis.peaks import find_peaks

        arr, affine = self._array_affine()
        ijk, _values = find_peaks(arr, mindist=mindist, threshold=threshold)
        coords = (affine @ np.c_[ijk, np.ones(len(ijk))].T)[:3].T if len(ijk) else np.zeros((0, 3))
        return PointCloud(coords.reshape(-1, 3), self.space, sigma_mm=sigma_mm, labels=np.arange(len(ijk)))

    @property
    def boundingbox(self) -> BoundingBox:
        """Box of the non-zero voxels in mm."""
        arr, affine = self._array_affine()
        if not np.any(arr):
            raise InvalidInputError(f"{self.name or 'volume'} is empty; it has no bounding box.")
        return BoundingBox.from_image(arr.shape, affine, self.space, mask=arr != 0)

    def __repr__(self) -> str:
        sp = self.space.shortname if self.space else "no space"
        return f"<Volume {self.name!r} in {sp}>"


def volume_from_image(img: nib.Nifti1Image, space, name: str, provenance: Provenance | None = None) -> Volume:
    """Wrap an in-memory image as a Volume (no validation; see ``volumes.from_nifti``)."""
    return Volume(ImageProvider(img, name or "in-memory image"), space, name, provenance=provenance)
