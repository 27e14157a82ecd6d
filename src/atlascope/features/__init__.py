"""Multimodal features of brain regions and locations (SPEC section 5).

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
loader through the builders of :mod:`atlascope.features.builders`); live features
(:class:`GeneExpressions`) are queried when asked for.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ..core.names import words
from ..errors import NotFoundError
from . import builders  # noqa: F401  (registers the @type builders)
from .base import QUALIFICATIONS, Anchor, Feature, feature_types
from .cells import LayerwiseCellDensity
from .connectivity_matrices import (
    AnatomoFunctionalConnectivity,
    FunctionalConnectivity,
    RegionalConnectivity,
    StreamlineCounts,
    StreamlineLengths,
    TracingConnectivity,
)
from .genes import AllenClient, GeneExpressions
from .images import CellbodyStainedSection, ImageFeature, RegionalTimeseriesActivity, VolumeOfInterest
from .query import rank_features
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

_ALIASES = {
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


def _split_camel(name: str) -> set[str]:
    import re

    return {w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)}


def resolve_type(spec: str | type) -> type[Feature]:
    """The Feature class designated by ``spec``: a class, its name, or words of its name.

    Words are matched against the words of class names (``"receptor"`` → ReceptorDensityFingerprint,
    ``"streamline counts"`` → StreamlineCounts); among several candidates the one whose name has the
    fewest extra words wins; fingerprints win over profiles.

    Raises
    ------
    NotFoundError
        No class matches; the message lists the types.
    """
    if isinstance(spec, type) and issubclass(spec, Feature):
        return spec
    types = feature_types()
    text = str(spec).strip()
    for name, cls in types.items():
        if name.lower() == text.lower().replace(" ", ""):
            return cls
    if text.lower() in _ALIASES:
        return types[_ALIASES[text.lower()]]
    wanted = set(words(text.replace("-", " ")))
    found = []
    for name, cls in types.items():
        have = _split_camel(name)
        if wanted and all(any(h.startswith(w) or w.startswith(h) for h in have) for w in wanted):
            found.append((len(have - wanted), "Profile" in name, name, cls))
    if not found:
        raise NotFoundError(
            f"No feature type matches {spec!r}. Types: {', '.join(sorted(n for n in types if n != 'ImageFeature'))}."
        )
    found.sort(key=lambda t: t[:3])
    return found[0][3]


def get(concept: Any, type: str | type = "Feature", registry: Any = None, **kwargs: Any) -> list[Feature]:
    """Features of ``type`` for ``concept``, best match first.

    Parameters
    ----------
    concept : Region, str, Volume, PointCloud or Point
        What to find features for; a string is a region name (searched in every parcellation).
    type : str or type
        A Feature class or words of its name (``"receptor"``, ``"StreamlineCounts"``, ``"gene"``).
    registry : Registry, optional
        Where the catalogue features live (default: the global registry).
    **kwargs
        Live queries: ``gene=`` (symbols) and ``threshold=`` for :class:`GeneExpressions`; catalogue
        queries: ``cohort=`` and ``modality=`` filter by those attributes (word match).

    Returns
    -------
    list of Feature
        Each feature's ``anchor.regions`` holds {Region: qualification} of this query.
    """
    cls = resolve_type(type)
    if registry is None:
        from ..core.registry import REGISTRY

        registry = REGISTRY
    if cls.LIVE:
        return list(cls.live_query(concept, registry=registry, **kwargs))  # type: ignore[attr-defined]
    pool = [f for f in registry.features if isinstance(f, cls)]
    for attr in ("cohort", "modality", "paradigm"):
        if attr in kwargs and kwargs[attr] is not None:
            want = set(words(str(kwargs[attr])))
            pool = [f for f in pool if want <= set(words(str(getattr(f, attr, ""))))]
    return [m.feature for m in rank_features(pool, concept, registry)]
