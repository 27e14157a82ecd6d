"""Builders for the siibra-configurations JSON ``@type`` values of atlases, spaces, parcellations
and maps (registered with :func:`~atlascope.configuration.factory.register_type`).

Formats as found in the catalogue itself:

* ``siibra/space/v0.0.1``: ``@id``, ``name``, ``shortName``, ``volumes`` (template providers).
* ``siibra/parcellation/v0.0.1``: ``regions`` (a tree of ``name``/``rgb``/``children``/``ebrains``),
  ``@version`` (``name``, ``@prev``, ``@next``), ``publications``, ``ebrains``.
* ``siibra/map/v0.0.1``: ``space``/``parcellation`` (``{"@id": ...}``), ``volumes`` (each with a
  ``providers`` dict: ``nii``, ``zip/nii`` = ``"URL member"``, ``neuroglancer/precomputed``; a value
  may be a dict ``{fragment: URL}``), ``indices`` (region name -> ``[{volume, label, z, fragment}]``),
  ``represented_as_sparsemap`` (true for statistical maps).
* ``juelich/iav/atlas/v1.0.0``: an atlas grouping spaces and parcellations by id.

Nothing here downloads or decodes an image: volumes get lazy providers.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.atlas import Atlas
from ..core.parcellation import Parcellation
from ..core.provenance import Provenance
from ..core.region import Region
from ..core.space import Space
from ..errors import ConfigurationError
from ..maps.map import Map, MapIndex
from ..volumes.precomputed import PrecomputedProvider
from ..volumes.providers import NiftiProvider, Provider, ZipNiftiProvider
from ..volumes.volume import Volume
from .factory import BuildContext, Unsupported, register_type

__all__ = [
    "Atlas",
    "provenance_of",
    "make_provider",
    "PROVIDER_PREFERENCE",
    "TYPE_ATLAS",
    "TYPE_SPACE",
    "TYPE_PARCELLATION",
    "TYPE_MAP",
]

TYPE_ATLAS = "juelich/iav/atlas/v1.0.0"
TYPE_SPACE = "siibra/space/v0.0.1"
TYPE_PARCELLATION = "siibra/parcellation/v0.0.1"
TYPE_MAP = "siibra/map/v0.0.1"

#: Volume providers in order of preference; surface formats (gii-*) and meshes are not read.
PROVIDER_PREFERENCE = ("nii", "zip/nii", "neuroglancer/precomputed")

_KG = "https://search.kg.ebrains.eu/instances/"


def _require(spec: dict, key: str, ctx: BuildContext) -> Any:
    if key not in spec:
        raise ConfigurationError(
            f"{ctx.path}: entry of @type {spec.get('@type')!r} lacks {key!r}. Fix the file."
        )
    return spec[key]


def provenance_of(spec: dict, ctx: BuildContext, version: str = "") -> Provenance:
    """Provenance from ``publications`` (citation, url, license) and ``ebrains`` ids (KG links)."""
    cites, urls, licences = [], [], []
    for pub in spec.get("publications") or []:
        if not isinstance(pub, dict):
            continue
        if pub.get("citation"):
            cites.append(str(pub["citation"]).strip())
        if pub.get("url"):
            urls.append(str(pub["url"]))
        if pub.get("license"):
            licences.append(str(pub["license"]).strip())
    for key, val in (spec.get("ebrains") or {}).items():
        if key.startswith("openminds/Dataset"):
            for v in val if isinstance(val, list) else [val]:
                urls.append(_KG + str(v))
    if spec.get("license"):
        licences.append(str(spec["license"]))
    src = ctx.source or "siibra-configurations"
    return Provenance(
        source=src,
        dataset=str(spec.get("name", "")),
        citation="; ".join(dict.fromkeys(cites)),
        licence="; ".join(dict.fromkeys(licences)),
        urls=tuple(dict.fromkeys(urls)),
        version=version,
        files=(str(ctx.path),) if ctx.path else (),
    )


def _space_family(name: str, short: str, sid: str) -> str:
    text = f"{name} {short}".lower().replace(" ", "")
    if "mni152" in text or "icbm" in text:
        return "mni152"
    if "colin" in text:
        return "colin27"
    return sid


# ------------------------------------------------------------------ providers
def make_provider(kind: str, value: str) -> Provider:
    """A lazy provider for one ``providers`` entry (``kind`` = the key, ``value`` = the URL string).

    Raises
    ------
    Unsupported
        Surface and mesh formats.
    """
    if kind == "nii":
        return NiftiProvider(value)
    if kind == "zip/nii":
        url, _, member = value.strip().partition(" ")
        if not member:
            raise ConfigurationError(f"zip/nii provider {value!r} lacks the member name ('URL member').")
        return ZipNiftiProvider(url, member.strip())
    if kind == "neuroglancer/precomputed":
        return PrecomputedProvider(value)
    raise Unsupported(f"provider kind {kind!r}")


def _pick_provider(providers: dict) -> tuple[str, Any]:
    for kind in PROVIDER_PREFERENCE:
        if kind in providers:
            return kind, providers[kind]
    kinds = ", ".join(providers) or "none"
    raise Unsupported(f"no volumetric provider (has: {kinds})")


# -------------------------------------------------------------------- atlases
@register_type(TYPE_ATLAS)
def build_atlas(spec: dict, ctx: BuildContext) -> Atlas:
    """An :class:`~atlascope.core.atlas.Atlas`, added to the registry (``atlascope.atlases``).

    It names its spaces and parcellations by id and finds them in the registry when asked, so the
    atlases/ folder can load before spaces/ and parcellations/. The offline human atlas has the
    catalogue's id: the catalogue's atlas merges into it, its spaces and parcellations first.
    """
    return ctx.registry.add_atlas(
        Atlas(
            id=str(_require(spec, "@id", ctx)),
            name=str(spec.get("name", "")),
            species=str(spec.get("species", "")),
            space_ids=_ids(spec, "spaces", ctx),
            parcellation_ids=_ids(spec, "parcellations", ctx),
        )
    )


def _ids(spec: dict, key: str, ctx: BuildContext) -> list[str]:
    """The ids an atlas lists under ``key``: strings or ``{"@id": ...}`` references."""
    refs = spec.get(key) or []
    if not isinstance(refs, list):
        raise ConfigurationError(f"{ctx.path}: {key!r} of an atlas must be a list of ids. Fix the file.")
    return [str(r.get("@id")) if isinstance(r, dict) else str(r) for r in refs]


# --------------------------------------------------------------------- spaces
@register_type(TYPE_SPACE)
def build_space(spec: dict, ctx: BuildContext) -> Space:
    """A :class:`Space`; an id the registry knows merges into the existing space."""
    sid = str(_require(spec, "@id", ctx))
    name = str(_require(spec, "name", ctx))
    short = str(spec.get("shortName") or name)
    prov = provenance_of(spec, ctx)
    space = Space(
        sid,
        name,
        short,
        family=_space_family(name, short, sid),
        species=str(spec.get("species", "homo sapiens")),
        provenance=prov,
        description=str(spec.get("description", "")),
    )
    for vol in spec.get("volumes") or []:
        providers = vol.get("providers") or {}
        try:
            kind, value = _pick_provider(providers)
        except Unsupported:
            continue
        if isinstance(value, dict):  # per-hemisphere templates: not a single image
            continue
        space.set_template(Volume(make_provider(kind, value), space, f"{short} template", provenance=prov))
        break
    return ctx.registry.add_space(space)


# -------------------------------------------------------------- parcellations
#: Deepest region tree accepted (siibra's deepest is about 10 levels); deeper files are malformed.
MAX_REGION_DEPTH = 100

#: Largest label, volume number or ``z`` an index entry may hold (label images are at most int32).
MAX_INDEX_VALUE = 2**31 - 1


def _whole_number(value: Any, what: str, ctx: BuildContext, upper: int) -> int:
    """``value`` as an int in ``0..upper``; JSON floats such as ``1e400`` (inf) or ``2.5`` are refused."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and isinstance(value, float):
        ok = value == value and abs(value) != float("inf") and value.is_integer()
    if ok and 0 <= int(value) <= upper:
        return int(value)
    raise ConfigurationError(
        f"{ctx.path}: {what} must be a whole number from 0 to {upper}, got {value!r}. Fix the file."
    )


def _rgb(value: Any, ctx: BuildContext, region: str = "") -> tuple[int, int, int] | None:
    if isinstance(value, str) and re.fullmatch(r"#?[0-9A-Fa-f]{6}", value.strip()):
        h = value.strip().lstrip("#")
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if isinstance(value, list | tuple) and len(value) == 3:
        what = f"the rgb colour of region {region!r}"
        return tuple(_whole_number(v, what, ctx, 255) for v in value)  # type: ignore[return-value]
    return None


def _region(node: dict, ctx: BuildContext, depth: int = 0) -> Region:
    if not isinstance(node, dict) or "name" not in node:
        raise ConfigurationError(f"{ctx.path}: a region entry has no 'name' (depth {depth}). Fix the file.")
    if depth >= MAX_REGION_DEPTH:
        raise ConfigurationError(
            f"{ctx.path}: the region tree is nested more than {MAX_REGION_DEPTH} levels deep "
            f"(at {str(node['name'])[:60]!r}); atlas hierarchies are far shallower. Fix the file."
        )
    attrs = {}
    if node.get("ebrains"):
        attrs["ebrains"] = node["ebrains"]
    if node.get("granularity"):
        attrs["granularity"] = node["granularity"]
    children = [_region(c, ctx, depth + 1) for c in node.get("children") or []]
    name = str(node["name"])
    return Region(name, children=children, rgb=_rgb(node.get("rgb"), ctx, name), attrs=attrs)


_VERSION_TAIL = re.compile(r"[\s(]*\bv?\d+(\.\d+)*\)?\s*$", re.IGNORECASE)


@register_type(TYPE_PARCELLATION)
def build_parcellation(spec: dict, ctx: BuildContext) -> Parcellation:
    """A :class:`Parcellation` with its region tree; versions come from ``@version``."""
    pid = str(_require(spec, "@id", ctx))
    name = str(_require(spec, "name", ctx))
    short = str(spec.get("shortName") or name)
    ver = spec.get("@version") or {}
    version = str(ver.get("name")) if isinstance(ver, dict) and ver.get("name") else None
    family = (_VERSION_TAIL.sub("", short).strip() or short) if version else None
    if family and family.lower().startswith(("julich", "juelich")):
        # the offline pack's FSL Juelich atlas is an earlier release of the same atlas: one family,
        # so "julich" gives the newest version instead of an ambiguity error
        family = "julich"
    regions = [_region(r, ctx) for r in _require(spec, "regions", ctx)]
    parc = Parcellation(
        pid,
        name,
        short,
        regions,
        version=version,
        modality=str(spec.get("modality", "")),
        description=str(spec.get("description", "")),
        provenance=provenance_of(spec, ctx, version or ""),
        family=family,
    )
    if isinstance(ver, dict):
        parc.attrs = {"prev": ver.get("@prev"), "next": ver.get("@next")}  # type: ignore[attr-defined]
    parc.species = str(spec.get("species", ""))  # type: ignore[attr-defined]
    return ctx.registry.add_parcellation(parc)


# ----------------------------------------------------------------------- maps
@register_type(TYPE_MAP)
def build_map(spec: dict, ctx: BuildContext) -> Map:
    """A :class:`~atlascope.maps.Map`; volumes with per-fragment providers become one volume each.

    Raises
    ------
    Unsupported
        Surface maps (gii) and maps without a volumetric provider.
    ConfigurationError
        Unknown space/parcellation ids or indices pointing at missing volumes.
    """
    mid = str(_require(spec, "@id", ctx))
    sref = (_require(spec, "space", ctx) or {}).get("@id")
    pref = (_require(spec, "parcellation", ctx) or {}).get("@id")
    reg = ctx.registry
    space = reg.by_id("space", sref)
    parc = reg.by_id("parcellation", pref)
    if space is None or parc is None:
        what = f"space {sref!r}" if space is None else f"parcellation {pref!r}"
        raise ConfigurationError(
            f"{ctx.path}: map {mid!r} refers to unknown {what}. Load the spaces/ and parcellations/ "
            "folders of the same configuration, or fix the id."
        )
    maptype = "statistical" if spec.get("represented_as_sparsemap") else "labelled"
    prov = provenance_of(spec, ctx, getattr(parc, "version", "") or "")
    name = str(spec.get("name") or mid)
    volumes: list[Volume] = []
    where: dict[tuple[int, str | None], int] = {}
    for j, vol in enumerate(_require(spec, "volumes", ctx)):
        kind, value = _pick_provider(vol.get("providers") or {})
        if isinstance(value, dict):
            for frag, url in value.items():
                where[(j, str(frag))] = len(volumes)
                volumes.append(Volume(make_provider(kind, url), space, f"{name} ({frag})", provenance=prov))
        else:
            where[(j, None)] = len(volumes)
            volumes.append(Volume(make_provider(kind, value), space, name, provenance=prov))
    indices: dict[str, list[MapIndex]] = {}
    for region, entries in (_require(spec, "indices", ctx) or {}).items():
        for e in entries if isinstance(entries, list) else [entries]:
            j = _whole_number(e.get("volume", 0), f"the volume of index {region!r}", ctx, MAX_INDEX_VALUE)
            frag = e.get("fragment")
            v = where.get((j, frag), where.get((j, None)))
            if v is None:
                raise ConfigurationError(
                    f"{ctx.path}: index of {region!r} points at volume {j}"
                    + (f" fragment {frag!r}" if frag else "")
                    + f", but the map has {len(spec['volumes'])} volumes. Fix the file."
                )
            label = e.get("label")
            z = e.get("z")
            if label is not None:
                label = _whole_number(label, f"the label of index {region!r}", ctx, MAX_INDEX_VALUE)
            if z is not None:
                z = _whole_number(z, f"the z of index {region!r}", ctx, MAX_INDEX_VALUE)
            indices.setdefault(str(Region(str(region)).name), []).append(
                MapIndex(
                    volume=v,
                    label=label,
                    z=z,
                    fragment=None if frag is None else str(frag),
                )
            )
    if not volumes:
        raise Unsupported("no volumes")
    m = Map(
        mid,
        name,
        space,
        parc,
        maptype,
        volumes,
        indices,
        provenance=prov,
        description=str(spec.get("description", "")),
    )
    return reg.add_map(m)
