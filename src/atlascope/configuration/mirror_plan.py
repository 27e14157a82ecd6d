"""What a mirror must hold: every file URL that maps, spaces and features need (the logic of
``atlascope mirror --map ... --space ... --features ... --out DIR``).

:func:`urls_for` lists the URLs; :func:`make_mirror` passes them to
:func:`atlascope.retrieval.build_mirror`, which writes ``<out>/<host>/<path>`` plus a manifest with
sizes and SHA-256 checksums. Carry the folder to an air-gapped machine and set
``ATLASCOPE_MIRROR`` (and ``ATLASCOPE_OFFLINE=1``) there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..commons import logger
from ..core.names import words
from ..core.registry import REGISTRY, Registry, normalize_maptype
from ..errors import NotFoundError
from ..maps.map import Map
from ..retrieval import build_mirror
from ..volumes.precomputed import PrecomputedProvider
from ..volumes.providers import NiftiProvider, ZipNiftiProvider
from .sources import active_source

__all__ = ["urls_for", "volume_urls", "feature_urls", "make_mirror"]

#: Neuroglancer precomputed volumes: chunks of the coarsest scale are mirrored up to this many.
MAX_PRECOMPUTED_CHUNKS = 4096


def _http(urls: Iterable[str]) -> list[str]:
    return [u for u in urls if isinstance(u, str) and u.startswith(("http://", "https://"))]


def volume_urls(volume: Any, precomputed_max_chunks: int = MAX_PRECOMPUTED_CHUNKS) -> list[str]:
    """URLs a Volume reads: the NIfTI, the zip archive, or a precomputed volume's info and chunks.

    A precomputed provider's ``info`` is downloaded to enumerate the chunks of its coarsest scale.
    """
    p = getattr(volume, "provider", volume)
    if isinstance(p, NiftiProvider):
        return _http([p.source])
    if isinstance(p, ZipNiftiProvider):
        return _http([p.url])
    if isinstance(p, PrecomputedProvider):
        return _http(p.chunk_urls(max_chunks=precomputed_max_chunks))
    inner = getattr(p, "src", None)  # derived providers (e.g. maximum probability of a NIfTI)
    return volume_urls(inner, precomputed_max_chunks) if inner is not None else []


def feature_urls(feature: Any) -> list[str]:
    """URLs of a configured feature: ``feature.mirror_urls()`` if it has one, else its ``urls``
    (or ``files``) attribute, http(s) only."""
    fn = getattr(feature, "mirror_urls", None)
    if callable(fn):
        return _http(fn())
    for attr in ("urls", "files"):
        val = getattr(feature, attr, None)
        if val:
            return _http(list(val) if not isinstance(val, str) else [val])
    return []


def _feature_matches(feature: Any, spec: str) -> bool:
    spec_l = spec.lower()
    names = [
        type(feature).__name__,
        str(getattr(feature, "modality", "")),
        str(getattr(feature, "category", "")),
    ]
    return any(spec_l == n.lower() for n in names) or all(
        any(w in n.lower() for n in names) for w in words(spec)
    )


def urls_for(
    map: str | Any | None = None,
    space: str | Any | None = None,
    maptype: str | None = None,
    features: Iterable[str] | str = (),
    *,
    templates: bool = False,
    registry: Registry | None = None,
    precomputed_max_chunks: int = MAX_PRECOMPUTED_CHUNKS,
) -> list[str]:
    """Every file URL needed by the maps of a parcellation in a space, and by features.

    Parameters
    ----------
    map : str or Parcellation or Map, optional
        A parcellation spec ("julich 3.0.3") or a Map.
    space : str or Space, optional
        Space spec ("mni152"); with ``map`` a parcellation, its maps in this space.
    maptype : {"labelled", "statistical"}, optional
        Restrict to one type; default both.
    features : str or iterable of str
        Feature type names or words ("receptor", "StreamlineCounts"); every configured feature of
        a matching type is included.
    templates : bool
        Include the space's template image.
    registry : Registry, optional
        Default: the process-wide registry.
    precomputed_max_chunks : int
        Refuse precomputed volumes whose coarsest scale has more chunks.

    Returns
    -------
    list of str
        Unique http(s) URLs in a stable order, plus the remote configuration archive if one is used.

    Raises
    ------
    NotFoundError
        Nothing matches ``map``/``space``/``features``.
    """
    reg = registry or REGISTRY
    urls: list[str] = []
    src = active_source()
    if src is not None:
        urls += src.urls()
    maps: list[Any] = []
    if isinstance(map, Map):
        maps = [map]
    elif map is not None:
        types = [normalize_maptype(maptype)] if maptype else ["labelled", "statistical"]
        parc = reg.get_parcellation(map)
        spaces = reg.find_spaces(space) if space is not None else []
        if space is not None and not spaces:
            reg.get_space(space)  # raises a helpful NotFoundError
        maps = [
            m
            for m in reg.maps
            if m.parcellation == parc and m.maptype in types and (not spaces or m.space in spaces)
        ]
        if not maps:
            raise NotFoundError(
                f"No map of {parc.name!r}" + (f" in {space!s}" if space else "") + " to mirror. "
                "Check the names with `atlascope atlases`."
            )
    for m in maps:
        for v in m.volumes:
            urls += volume_urls(v, precomputed_max_chunks)
    if templates or (map is None and space is not None):
        for s in reg.find_spaces(space) if space is not None else {m.space for m in maps}:
            if s.has_template:
                urls += volume_urls(s.get_template(), precomputed_max_chunks)
    specs = [features] if isinstance(features, str) else list(features)
    for spec in specs:
        found = [f for f in reg.features if _feature_matches(f, spec)]
        if not found:
            raise NotFoundError(
                f"No configured feature of type {spec!r}. Feature types are class names such as "
                "'ReceptorDensityFingerprint' or words of them ('receptor')."
            )
        for f in found:
            urls += feature_urls(f)
    out = list(dict.fromkeys(urls))
    logger.info("mirror plan: %d files for %d maps and %d feature types", len(out), len(maps), len(specs))
    return out


def make_mirror(
    out: str | os.PathLike,
    map: str | Any | None = None,
    space: str | Any | None = None,
    maptype: str | None = None,
    features: Iterable[str] | str = (),
    **kwargs: Any,
) -> Path:
    """Download everything :func:`urls_for` lists into the mirror folder ``out`` (with manifest).

    Returns
    -------
    pathlib.Path
        The mirror folder; use it as ``ATLASCOPE_MIRROR``.
    """
    urls = urls_for(map=map, space=space, maptype=maptype, features=features, **kwargs)
    return build_mirror(urls, out)
