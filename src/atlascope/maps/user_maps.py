"""Users' own maps: labelled or statistical maps from NIfTI files and region names."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import nibabel as nib

from ..core.parcellation import Parcellation
from ..core.provenance import Provenance
from ..core.registry import REGISTRY, normalize_maptype
from ..core.space import Space
from ..core.tree import regions_from_names
from ..errors import InvalidInputError
from ..files import short_digest
from ..locations.spaces import resolve_space
from ..volumes.providers import ImageProvider, NiftiProvider, Provider
from ..volumes.volume import Volume
from .map import Map, MapIndex

__all__ = ["from_nifti"]


def _provider(img) -> Provider:
    if isinstance(img, str | os.PathLike):
        return NiftiProvider(img)
    if isinstance(img, nib.spatialimages.SpatialImage):
        return ImageProvider(img if isinstance(img, nib.Nifti1Image) else nib.Nifti1Image.from_image(img))
    raise InvalidInputError(f"Map images must be NIfTI paths or nibabel images, got {type(img).__name__}.")


def from_nifti(
    images,
    regions: Sequence[str] | Mapping[int, str],
    space: str | Space,
    maptype: str = "statistical",
    name: str = "custom map",
    parcellation: Parcellation | None = None,
    register: bool = False,
    provenance: Provenance | None = None,
) -> Map:
    """Make a Map from NIfTI files or images, usable everywhere a built-in map is.

    Parameters
    ----------
    images : path, image, or sequence of them
        Statistical: one 3D image per region (same order as ``regions``), or a single 4D image whose
        volume ``z`` belongs to ``regions[z]``. Labelled: one 3D integer image.
    regions : sequence of str, or mapping of int to str
        Statistical: region names. Labelled: ``{label: region name}``.
    space : str or Space
        Reference space of the images.
    maptype : {"statistical", "labelled"}
        Map type.
    name : str
        Map (and parcellation) name.
    parcellation : Parcellation, optional
        Region tree to use; default a new one built from the names (areas with hemisphere children).
    register : bool
        Also add the map and parcellation to the registry so that ``get_map`` finds them.

    Returns
    -------
    Map
    """
    mtype = normalize_maptype(maptype)
    sp = resolve_space(space)
    imgs = list(images) if isinstance(images, list | tuple) else [images]
    if mtype == "labelled":
        if not isinstance(regions, Mapping):
            raise InvalidInputError("A labelled map needs regions as a mapping {label: name}.")
        if len(imgs) != 1:
            raise InvalidInputError("A labelled map is one 3D integer image.")
        labels = {int(k): str(v) for k, v in regions.items()}
        names = list(labels.values())
        indices = {n: [MapIndex(volume=0, label=lab)] for lab, n in labels.items()}
    else:
        names = [str(r) for r in (regions.values() if isinstance(regions, Mapping) else regions)]
        if len(imgs) == 1 and len(names) > 1:
            indices = {n: [MapIndex(volume=0, z=z)] for z, n in enumerate(names)}
        elif len(imgs) == len(names):
            indices = {n: [MapIndex(volume=i)] for i, n in enumerate(names)}
        else:
            raise InvalidInputError(
                f"{len(imgs)} images for {len(names)} regions: give one image per region or one 4D image."
            )
    if len(set(names)) != len(names):
        raise InvalidInputError("Region names of a map must be unique.")
    providers = [_provider(i) for i in imgs]
    digest = short_digest("|".join([name, mtype, *names, *(p.source for p in providers)]))
    if parcellation is None:
        parcellation = Parcellation(
            f"custom/parcellation/{digest}", name, name, regions_from_names(names), provenance=provenance
        )
    vols = [Volume(p, sp, name=f"{name} volume {i}") for i, p in enumerate(providers)]
    m = Map(
        f"custom/map/{digest}",
        name,
        sp,
        parcellation,
        mtype,
        vols,
        indices,
        provenance=provenance
        or Provenance(source="user-supplied images", files=tuple(p.source for p in providers)),
    )
    if register:
        REGISTRY.add_parcellation(parcellation)
        REGISTRY.add_map(m)
    return m
