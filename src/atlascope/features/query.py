"""Matching features to a query concept and ranking them.

Ranking: ``exact`` region first, then the feature's region ``contains`` or is ``contained`` in the
queried one (closest relatives first), then features whose region or location ``overlaps`` a queried
volume or location. Among equals, features of the queried region's own parcellation come first,
then catalogue order.

Region relations are decided on *names*, so that they work across versions of one parcellation
(Julich-Brain 2.9 and 3.0.3 share "Area hOc1 (V1, 17, CalcS)") and for regions known only by the
name a catalogue entry gives: a name is compared by its words (case, punctuation and a trailing
"left"/"right" handled as in :mod:`atlascope.core.names`) with the names and aliases of the queried
region, of its ancestors (the feature's region *contains* the query) and of its descendants (the
feature's region is *contained*).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..affines import nearest_voxel
from ..commons import logger
from ..core.names import matches_words, name_key, normalize_hemisphere
from ..core.region import Region
from ..core.registry import REGISTRY
from ..errors import AmbiguousNameError, AtlascopeError, NotFoundError
from ..locations.point import Point, PointCloud
from ..locations.spaces import check_compatible
from ..volumes.volume import Volume
from .base import QUALIFICATIONS, Feature

__all__ = ["RegionQuery", "Match", "resolve_region", "rank_features", "name_key"]

_HEMI = ("left", "right")


def _strip_hemi(key: tuple[str, ...]) -> tuple[str, ...] | None:
    return key[:-1] if key and key[-1] in _HEMI else None


@dataclass
class Match:
    """One feature matched to the query."""

    feature: Feature
    qualification: str
    region: Region | None
    distance: int = 0
    same_parcellation: bool = False

    @property
    def sort_key(self) -> tuple:
        return (QUALIFICATIONS.index(self.qualification), self.distance, not self.same_parcellation)


class RegionQuery:
    """Pre-computed name keys of a queried region and its relatives.

    Parameters
    ----------
    region : Region
        The queried region (of any parcellation, or detached).
    spec : str, optional
        The words the user typed when the region could not be resolved in the registry; a feature
        name containing all of them matches.
    """

    def __init__(self, region: Region, spec: str | None = None) -> None:
        self.region = region
        self.spec = spec
        #: key -> (qualification, distance, Region)
        self.keys: dict[tuple[str, ...], tuple[str, int, Region]] = {}

        def put(key: tuple[str, ...] | None, qual: str, dist: int, reg: Region) -> None:
            if not key:
                return
            old = self.keys.get(key)
            if old is None or (QUALIFICATIONS.index(qual), dist) < (QUALIFICATIONS.index(old[0]), old[1]):
                self.keys[key] = (qual, dist, reg)

        for n in region.names:
            k = name_key(n)
            put(k, "exact", 0, region)
            stripped = _strip_hemi(k)
            if stripped is not None:
                parent = (
                    region.parent
                    if region.parent is not None and _same_core(region.parent, stripped)
                    else None
                )
                put(stripped, "contains", 1, parent or Region(" ".join(stripped)))
            elif not region.children:
                for h in _HEMI:
                    put((*k, h), "contained", 1, Region(f"{n} {h}"))
        for dist, anc in enumerate(region.ancestors, start=1):
            if anc.parent is None and region.parcellation is not None:
                break  # the root is the parcellation itself
            for n in anc.names:
                put(name_key(n), "contains", dist, anc)
        depth0 = len(region.ancestors)
        for d in region.descendants:
            dist = len(d.ancestors) - depth0
            for n in d.names:
                put(name_key(n), "contained", dist, d)
        self.parcellation_id = getattr(region.parcellation, "id", None)

    def qualify(self, name: str) -> tuple[str, int, Region] | None:
        """How the region called ``name`` relates to the query: (qualification, distance, Region)."""
        k = name_key(name)
        hit = self.keys.get(k)
        if hit is not None:
            return hit
        if self.spec and matches_words(self.spec, [name]):
            sk = name_key(self.spec)
            if (sk and sk[-1] in _HEMI) and not (k and k[-1] in _HEMI):
                return ("contains", 1, Region(name))
            return ("exact", 0, Region(name))
        return None


def _same_core(region: Region, key: tuple[str, ...]) -> bool:
    return any(name_key(n) == key for n in region.names)


def same_parcellation(a: str | None, b: str | None) -> bool:
    """Whether two parcellation ids designate the same parcellation (exact, or one ends with the other)."""
    if not a or not b:
        return False
    a, b = str(a).lower().rstrip("/"), str(b).lower().rstrip("/")
    return a == b or a.endswith(b) or b.endswith(a)


def registry_of(concept: Any, registry: Any = None) -> Any:
    """The registry a feature query on ``concept`` searches.

    An explicit ``registry`` wins; otherwise a Region's parcellation's registry (the one it was added
    to), and the global registry for everything else (names, locations, detached regions).
    """
    if registry is not None:
        return registry
    owner = getattr(getattr(concept, "parcellation", None), "registry", None) if isinstance(concept, Region) else None
    return owner if owner is not None else REGISTRY


def resolve_region(spec: str, registry: Any = None) -> tuple[Region, str | None]:
    """The Region designated by the name ``spec``, searched in every known parcellation.

    Returns
    -------
    (Region, str or None)
        The region and ``None``; or, when no parcellation knows the name, a detached Region called
        ``spec`` and ``spec`` itself (features are then matched by the words of the name).
    """
    registry = registry_of(None, registry)
    wanted = normalize_hemisphere(str(spec)).strip().lower()
    newest_first = sorted(registry.parcellations, key=lambda p: p.version_key, reverse=True)
    for parc in newest_first:  # a region carrying exactly this name beats alias and word matches
        for r in parc.regions:
            if r.name.lower() == wanted:
                return r, None
    for parc in registry.parcellations:
        try:
            if parc.find(spec):
                return parc.get_region(spec), None
        except (NotFoundError, AmbiguousNameError) as exc:
            logger.debug("region %r in %s: %s", spec, parc.name, exc)
    return Region(spec), spec


def _points_in_volume(coords: np.ndarray, img: Any) -> np.ndarray:
    """Boolean mask of the points (mm) falling on non-zero voxels of ``img``."""
    arr = np.asarray(img.dataobj)
    if arr.ndim > 3:
        arr = arr[..., 0]
    ijk = nearest_voxel(coords, img.affine)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(arr.shape[:3])), axis=1)
    out = np.zeros(len(coords), dtype=bool)
    if inside.any():
        i = ijk[inside]
        out[inside] = arr[i[:, 0], i[:, 1], i[:, 2]] != 0
    return out


def _overlapping_regions(concept: Any, registry: Any) -> list[Region]:
    """Regions of the registry's labelled maps (in the concept's space) that the concept overlaps."""
    space = getattr(concept, "space", None)
    found: list[Region] = []
    for m in registry.maps:
        if m.maptype != "labelled":
            continue
        try:
            check_compatible(space, m.space)
            table = m.assign(concept)
        except AtlascopeError as exc:
            logger.debug("overlap of %r with %s skipped: %s", concept, m.name, exc)
            continue
        if "region" not in table:
            continue
        for name in dict.fromkeys(table["region"].astype(str)):
            try:
                found.append(m.parcellation.get_region(name))
            except AtlascopeError:
                found.append(Region(name))
    return found


def _location_overlaps(feature: Feature, concept: Any) -> bool:
    """Whether the feature's points fall into the concept (a Volume) or lie near its points."""
    coords = feature.anchor.coordinates
    if coords is None or not len(coords):
        return False
    cspace = getattr(concept, "space", None)
    fspace = feature.anchor.space
    if (
        cspace is not None
        and fspace
        and not (
            same_parcellation(getattr(cspace, "id", ""), fspace)
            or matches_words(fspace, [cspace.name, cspace.id])
        )
    ):
        return False
    if isinstance(concept, Volume):
        return bool(_points_in_volume(np.asarray(coords, float), concept.fetch()).any())
    if isinstance(concept, Point):
        concept = concept.as_pointcloud()
    if isinstance(concept, PointCloud):
        pts = concept.coordinates
        radius = np.maximum(concept.sigma_mm, 1.0)
        d = np.linalg.norm(pts[:, None, :] - np.asarray(coords, float)[None, :, :], axis=2)
        return bool((d <= radius[:, None] * 3).any())
    return False


def rank_features(features: list[Feature], concept: Any, registry: Any = None) -> list[Match]:
    """Match ``features`` against ``concept`` (Region, name, Volume, PointCloud or Point), best first.

    Every returned feature's ``anchor.regions`` is set to {Region: qualification} of this query.
    """
    registry = registry_of(concept, registry)
    queries: list[tuple[RegionQuery, str | None]] = []
    spatial = isinstance(concept, Volume | PointCloud | Point)
    if isinstance(concept, Region):
        queries.append((RegionQuery(concept), None))
    elif isinstance(concept, str):
        region, spec = resolve_region(concept, registry)
        queries.append((RegionQuery(region, spec), None))
    elif spatial:
        needs_regions = any(f.anchor.region or f.anchor.region_names for f in features)
        if needs_regions:
            for r in _overlapping_regions(concept, registry):
                queries.append((RegionQuery(r), "overlaps"))
    else:
        raise NotFoundError(
            f"Cannot query features for {concept!r}: give a Region, a region name, a Volume, a PointCloud or a Point."
        )

    matches: list[tuple[Match, int]] = []
    for order, f in enumerate(features):
        best: Match | None = None
        names = [f.anchor.region] if f.anchor.region else list(f.anchor.region_names)
        for q, forced in queries:
            for n in names:
                hit = q.qualify(n)
                if hit is None:
                    continue
                qual, dist, reg = hit
                if forced:
                    qual, reg = forced, q.region
                qual = getattr(f, "match_qualification", None) or qual
                m = Match(f, qual, reg, dist, same_parcellation(q.parcellation_id, f.anchor.parcellation))
                if best is None or m.sort_key < best.sort_key:
                    best = m
        if best is None and spatial and _location_overlaps(f, concept):
            best = Match(f, "overlaps", None, 0)
        if best is not None:
            matches.append((best, order))
    matches.sort(key=lambda t: (*t[0].sort_key, t[1]))
    out = [m for m, _ in matches]
    for m in out:  # each query answers with its own views: the registry's features stay untouched
        m.feature = m.feature.with_matches({m.region: m.qualification} if m.region is not None else {})
    return out
