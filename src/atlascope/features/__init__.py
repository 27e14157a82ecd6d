"""Multimodal features of brain regions and locations.

``features.get(concept, type, **kwargs)`` returns the features of a type for a Region, a region name,
a Volume, a PointCloud or a Point, best match first (exact region, then the feature's region
contains or is contained in the queried one, then overlapping volume or location)::

    import atlascope as siibra
    hoc1 = siibra.get_region("julich 3.0.3", "hOc1 left")
    fp = siibra.features.get(hoc1, "receptor")[0]        # ReceptorDensityFingerprint
    fp.data                                               # index receptor; mean, std (fmol/mg protein)
    conn = siibra.features.get(hoc1, "StreamlineCounts")[0]
    conn.get_profile(hoc1, max_rows=15)
    genes = siibra.features.get(hoc1, "GeneExpressions", gene=["MAOA", "TAC1"])[0]

Catalogue features come from the registry (``Registry.features``, filled by the configuration
loader through the builders of :mod:`atlascope.features.from_configuration`, and by the offline
pack of :mod:`atlascope.features.pack`); live features (:class:`GeneExpressions`) are queried when
asked for.
"""

from __future__ import annotations

from types import MappingProxyType, SimpleNamespace
from typing import Any

from ..commons import logger
from ..configuration.builtin import FEATURE_PACK_SOURCE
from ..core.names import words
from ..errors import NotFoundError
from ..retrieval.mirror import offline
from . import from_configuration  # noqa: F401  (registers the @type builders)
from .base import QUALIFICATIONS, Anchor, Feature, feature_types
from .cells import LayerwiseCellDensity, VonEconomoCellDensity
from .compound import CompoundFeature
from .connectivity_matrices import (
    AnatomoFunctionalConnectivity,
    ConnectivityProfile,
    FunctionalConnectivity,
    RegionalConnectivity,
    StreamlineCounts,
    StreamlineLengths,
    TracingConnectivity,
)
from .genes import AllenClient, GeneExpressions
from .images import CellbodyStainedSection, ImageFeature, RegionalTimeseriesActivity, VolumeOfInterest
from .query import rank_features, registry_of
from .receptors import ReceptorDensityFingerprint, ReceptorDensityProfile

#: siibra's grouping of feature classes, so ``siibra.features.molecular.ReceptorDensityFingerprint``
#: and friends work unchanged after ``import atlascope as siibra``.
molecular = SimpleNamespace(
    ReceptorDensityFingerprint=ReceptorDensityFingerprint,
    ReceptorDensityProfile=ReceptorDensityProfile,
    GeneExpressions=GeneExpressions,
)
cellular = SimpleNamespace(
    LayerwiseCellDensity=LayerwiseCellDensity, CellbodyStainedSection=CellbodyStainedSection
)
connectivity = SimpleNamespace(
    StreamlineCounts=StreamlineCounts,
    StreamlineLengths=StreamlineLengths,
    FunctionalConnectivity=FunctionalConnectivity,
    AnatomoFunctionalConnectivity=AnatomoFunctionalConnectivity,
    TracingConnectivity=TracingConnectivity,
    RegionalConnectivity=RegionalConnectivity,
)

__all__ = [
    "get",
    "molecular",
    "cellular",
    "connectivity",
    "resolve_type",
    "Feature",
    "CompoundFeature",
    "ConnectivityProfile",
    "VonEconomoCellDensity",
    "Anchor",
    "QUALIFICATIONS",
    "ReceptorDensityFingerprint",
    "ReceptorDensityProfile",
    "LayerwiseCellDensity",
    "RegionalConnectivity",
    "StreamlineCounts",
    "StreamlineLengths",
    "FunctionalConnectivity",
    "AnatomoFunctionalConnectivity",
    "TracingConnectivity",
    "GeneExpressions",
    "AllenClient",
    "ImageFeature",
    "VolumeOfInterest",
    "CellbodyStainedSection",
    "RegionalTimeseriesActivity",
]

_ALIASES = MappingProxyType(
    {
        "receptor": "ReceptorDensityFingerprint",
        "receptors": "ReceptorDensityFingerprint",
        "cells": "LayerwiseCellDensity",
        "celldensity": "LayerwiseCellDensity",
        "cell density": "LayerwiseCellDensity",
        "connectivity": "RegionalConnectivity",
        "gene": "GeneExpressions",
        "genes": "GeneExpressions",
        "gene expression": "GeneExpressions",
    }
)


def resolve_type(spec: str | type) -> type[Feature]:
    """The Feature class designated by ``spec``: a class, its name, or one of the documented aliases.

    A name matches a class name ignoring case and spaces (``"streamline counts"`` →
    StreamlineCounts); the aliases are the keys of ``_ALIASES`` (``"receptor"`` →
    ReceptorDensityFingerprint, ``"gene"`` → GeneExpressions ...). Nothing else is accepted: a
    siibra type atlascope lacks (``"CellDensityProfile"``, ``"RegionalBOLD"``) is not replaced by a
    different modality.

    Raises
    ------
    NotFoundError
        No class matches; the message lists the known types and aliases.
    """
    if isinstance(spec, type) and issubclass(spec, Feature):
        return spec
    types = feature_types()
    text = str(spec).strip()
    key = text.lower().replace(" ", "").replace("_", "")
    if key == "feature":  # every catalogue feature (the default of ``get``)
        return Feature
    for name, cls in types.items():
        if name.lower() == key:
            return cls
    if text.lower() in _ALIASES:
        return types[_ALIASES[text.lower()]]
    known = sorted(n for n in types if n not in _INTERNAL_TYPES)
    raise NotFoundError(
        f"No feature type {spec!r}. Known types: {', '.join(known)}; aliases: {', '.join(sorted(_ALIASES))}. "
        "Give one of these names (atlascope does not substitute another modality)."
    )


#: Feature classes that are implementation details, not query types.
_INTERNAL_TYPES = frozenset(
    {"ImageFeature", "CompoundFeature", "ConnectivityProfile", "VonEconomoCellDensity"}
)


def _why_empty(cls: type[Feature], concept: Any, registry: Any, pool: list[Feature]) -> str:
    """The warning text of a query that found nothing: sources searched and why nothing matched."""
    sources = registry.sources
    only_builtin = all(s in ("builtin", FEATURE_PACK_SOURCE, "environment") for s in sources)
    if not pool:
        why = f"no {cls.__name__} feature is in these sources"
        if only_builtin:
            why += (
                " (only the offline pack is loaded; load the siibra-configurations catalogue with "
                "atlascope.use_configuration(...) for more"
                + ("; ATLASCOPE_OFFLINE is set" if offline() else "")
                + ")"
            )
    else:
        why = f"none of the {len(pool)} {cls.__name__} features is anchored at or overlaps {concept!s}"
    return (
        f"features.get({concept!s}, {cls.__name__!r}) found nothing. Sources searched: "
        f"{', '.join(sources) or 'none'}; {why}.{registry.failure_note()}"
    )


def get(concept: Any, type: str | type = "Feature", registry: Any = None, **kwargs: Any) -> list[Feature]:
    """Features of ``type`` for ``concept``, best match first.

    Connectivity matrices are answered as siibra does: one :class:`CompoundFeature` per cohort,
    modality and parcellation, whose elements are the subjects (``fts[0][0]`` is the first
    subject, ``fts[0].data`` the average).

    Parameters
    ----------
    concept : Region, str, Volume, PointCloud or Point
        What to find features for; a string is a region name (searched in every parcellation).
    type : str or type
        A Feature class, its name or an alias (``"receptor"``, ``"StreamlineCounts"``, ``"gene"``).
    registry : Registry, optional
        Where the catalogue features live (default: the global registry).
    **kwargs
        Live queries: ``gene=`` (symbols) and ``threshold=`` for :class:`GeneExpressions`; catalogue
        queries: ``cohort=`` and ``modality=`` filter by those attributes (word match).

    Returns
    -------
    list of Feature
        Each feature's ``anchor.regions`` holds {Region: qualification} of this query. When the list
        is empty, one WARNING names the sources searched and why nothing matched.

    Raises
    ------
    NotFoundError
        ``type`` names no feature type (the message lists them).
    """
    cls = resolve_type(type)
    registry = registry_of(concept, registry)
    if cls.LIVE:
        return list(cls.live_query(concept, registry=registry, **kwargs))  # type: ignore[attr-defined]
    pool = [f for f in registry.features if isinstance(f, cls)]
    for attr in ("cohort", "modality", "paradigm"):
        if attr in kwargs and kwargs[attr] is not None:
            want = set(words(str(kwargs[attr])))
            pool = [f for f in pool if want <= set(words(str(getattr(f, attr, ""))))]
    found = [m.feature for m in rank_features(pool, concept, registry)]
    if not found:
        logger.warning("%s", _why_empty(cls, concept, registry, pool))
    return [f.as_compound() if isinstance(f, RegionalConnectivity) else f for f in found]
