"""Volume: an image with a reference space attached."""

from __future__ import annotations

import dataclasses
from typing import Any

import nibabel as nib
import numpy as np

from ..affines import voxel_to_mm
from ..analysis.peaks import find_peaks
from ..analysis.sampling import draw_samples
from ..core.provenance import Provenance
from ..core.space import Space
from ..errors import InvalidInputError
from ..locations.point import BoundingBox, Point, PointCloud
from ..locations.spaces import check_compatible, resolve_space
from .providers import ImageProvider, Provider, read_dataobj
from .resampling import resample_to_grid
from .spatial import (
    ComponentSpatialProperties,
    crop_to_box,
    iter_components,
    resolution_of,
    spatial_props,
    values_at,
)

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

    @property
    def validated(self) -> bool:
        """Whether the whole image (``fetch()``) is known to be 3D, finite and not all zero (a Volume
        made by ``volumes.from_nifti`` / ``from_array``): checks need not be repeated."""
        return self.z is None and bool(getattr(self.provider, "validated", False))

    def fetch(
        self,
        voi: BoundingBox | None = None,
        resolution_mm: float | None = None,
        format: str | None = None,
        **kwargs: Any,
    ) -> nib.Nifti1Image:
        """The image as a ``nibabel.Nifti1Image`` (same array and affine as the source).

        Parameters
        ----------
        voi : BoundingBox, optional
            Volume of interest in mm: only the voxels whose centres lie in the box (borders
            included), with the affine moved to the first of them.
        resolution_mm : float, optional
            Voxel size in mm. Multi-resolution (neuroglancer precomputed) sources read the nearest
            scale; an image of one resolution is resampled (nearest neighbour for labels, linear
            otherwise) unless it already has that voxel size. ``None`` or ``-1``: native.
        format : {None, "nii", "nifti", "image"}
            Only NIfTI images are produced.

        Raises
        ------
        InvalidInputError
            An unknown keyword, another format, a bad resolution, or a box that misses the image.
        """
        if kwargs:
            raise InvalidInputError(
                f"Volume.fetch does not know {sorted(kwargs)}; it takes voi=BoundingBox, resolution_mm= "
                "and format='nii'."
            )
        if format not in (None, "nii", "image", "nifti"):
            raise InvalidInputError(f"Volume.fetch gives NIfTI images only, not format={format!r}.")
        res = None
        if resolution_mm is not None and resolution_mm != -1:
            try:
                res = float(resolution_mm)
            except (TypeError, ValueError):
                raise InvalidInputError(f"resolution_mm must be a number of mm, got {resolution_mm!r}.") from None
            if not np.isfinite(res) or res <= 0:
                raise InvalidInputError(f"resolution_mm must be a finite number > 0 (mm), got {resolution_mm!r}.")
        if voi is not None:
            if not isinstance(voi, BoundingBox):
                raise InvalidInputError(f"voi must be a BoundingBox, got {type(voi).__name__}.")
            check_compatible(voi.space, self.space)
        if hasattr(self.provider, "choose_scale"):  # multi-resolution source: read only what is asked
            return self.provider.fetch(self.z, resolution_mm=res, bbox_mm=voi)
        img = self.provider.fetch(self.z)
        if voi is not None:
            img = crop_to_box(img, voi.minpoint, voi.maxpoint)
        if res is not None and not np.allclose(resolution_of(img), res, rtol=1e-3):
            img = _resample_to_resolution(img, res)
        return img

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
        """Draw ``N`` points with probability proportional to the (normalised) image.

        Each point is drawn in a voxel chosen with probability proportional to its value (normalised
        to 0..1, raised to ``e``) and placed uniformly inside that voxel
        (:func:`atlascope.analysis.draw_samples`).

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
        arr, affine = self._array_affine()
        ijk, _values = find_peaks(arr, mindist=mindist, threshold=threshold)
        coords = voxel_to_mm(np.asarray(ijk, float).reshape(-1, 3), affine)
        return PointCloud(coords, self.space, sigma_mm=sigma_mm, labels=np.arange(len(ijk)))

    @property
    def boundingbox(self) -> BoundingBox:
        """Box of the non-zero voxels in mm."""
        arr, affine = self._array_affine()
        if not np.any(arr):
            raise InvalidInputError(f"{self.name or 'volume'} is empty; it has no bounding box.")
        return BoundingBox.from_image(arr.shape, affine, self.space, mask=arr != 0)

    def get_boundingbox(self, clip: bool = True, background: float = 0.0, **fetch_kwargs: Any) -> BoundingBox:
        """Box in mm of the voxels above ``background`` (``clip=True``) or of the whole grid.

        Raises
        ------
        InvalidInputError
            ``clip`` is set and no voxel is above ``background``.
        """
        img = self.fetch(**fetch_kwargs)
        arr = read_dataobj(img, (), self.name or "volume")
        if not clip:
            return BoundingBox.from_image(arr.shape, img.affine, self.space)
        mask = arr > background
        if not mask.any():
            raise InvalidInputError(f"{self.name or 'volume'} has no voxel above {background}; it has no bounding box.")
        return BoundingBox.from_image(arr.shape, img.affine, self.space, mask=mask)

    def evaluate_points(self, points: Point | PointCloud, outside_value: float = 0.0) -> np.ndarray:
        """The image values at the voxels containing the points, shape (N,); ``outside_value`` off the grid."""
        if isinstance(points, Point):
            points = points.as_pointcloud()
        if not isinstance(points, PointCloud):
            raise InvalidInputError(f"evaluate_points takes a Point or PointCloud, got {type(points).__name__}.")
        check_compatible(points.space, self.space)
        return values_at(self.fetch(), points.coordinates, outside_value)

    def intersection(self, other: Any) -> Any:
        """What this volume and ``other`` share, or None.

        A Point or PointCloud gives the points at non-zero voxels; a BoundingBox the volume cropped to
        the box (None if no non-zero voxel is in it); a Volume a 0/1 volume of the voxels non-zero in
        both (``other`` resampled to this grid).
        """
        if isinstance(other, Point):
            return other if self.evaluate_points(other)[0] != 0 else None
        if isinstance(other, PointCloud):
            keep = self.evaluate_points(other) != 0
            return other.subset(keep) if keep.any() else None
        if isinstance(other, BoundingBox):
            try:
                img = self.fetch(voi=other)
            except InvalidInputError:
                return None
            if not np.any(np.asanyarray(img.dataobj)):
                return None
            return volume_from_image(img, self.space, f"{self.name} in box")
        if isinstance(other, Volume):

            check_compatible(other.space, self.space)
            a = self.fetch()
            b = other.fetch()
            arr_b = np.asanyarray(b.dataobj)
            if arr_b.shape[:3] != a.shape[:3] or not np.allclose(a.affine, b.affine):
                arr_b = resample_to_grid(arr_b != 0, b.affine, a.shape[:3], a.affine, labels=True)
            both = (np.asanyarray(a.dataobj) != 0) & (arr_b != 0)
            if not both.any():
                return None
            return volume_from_image(
                nib.Nifti1Image(both.astype(np.uint8), a.affine), self.space, f"{self.name} ∩ {other.name}"
            )
        raise InvalidInputError(
            f"Cannot intersect a Volume with a {type(other).__name__}: use a Point, PointCloud, BoundingBox or Volume."
        )

    def compute_spatial_props(
        self, split_components: bool = True, background: float = 0.0, **fetch_kwargs: Any
    ) -> list[ComponentSpatialProperties]:
        """Connected components (18-connectivity) of the voxels above ``background``, largest first,
        each with its volume in mm³ and a centroid (a Point in mm) lying in the component."""
        img = self.fetch(**fetch_kwargs)
        props = spatial_props(np.asanyarray(img.dataobj) > background, img.affine, split_components)
        return [dataclasses.replace(p, centroid=Point(p.centroid, self.space)) for p in props]

    def fetch_connected_components(self, background: float = 0.0, **fetch_kwargs: Any):
        """Yield ``(label, 0/1 nibabel image)`` for each 18-connected component above ``background``."""
        yield from iter_components(self.fetch(**fetch_kwargs), background)

    def __repr__(self) -> str:
        sp = self.space.shortname if self.space else "no space"
        return f"<Volume {self.name!r} in {sp}>"


def _resample_to_resolution(img: nib.Nifti1Image, res: float) -> nib.Nifti1Image:
    """``img`` resampled to isotropic ``res`` mm voxels over the same extent.

    Interpolation is ``resample_to_grid``'s default: nearest neighbour for integer, boolean and
    binary (label-like) images, linear otherwise.
    """

    affine = np.asarray(img.affine, float)
    old = resolution_of(img)
    scale = res / old
    target = affine.copy()
    target[:3, :3] = affine[:3, :3] * scale[None, :]
    shape = tuple(int(max(1, np.floor((n - 1) * o / res) + 1)) for n, o in zip(img.shape[:3], old, strict=True))
    arr = resample_to_grid(np.asanyarray(img.dataobj), affine, shape, target)
    out = nib.Nifti1Image(arr, target)
    out.header.set_xyzt_units("mm")
    return out


def volume_from_image(
    img: nib.Nifti1Image, space, name: str, provenance: Provenance | None = None, validated: bool = False
) -> Volume:
    """Wrap an in-memory image as a Volume (no validation; see ``volumes.from_nifti``).

    ``validated=True`` records that ``img`` is the output of ``validated_image`` (3D, finite, not
    all zero), so that :attr:`Volume.validated` lets assignment skip checking it again.
    """
    return Volume(ImageProvider(img, name or "in-memory image", validated), space, name, provenance=provenance)
