"""The registry: every atlas, space, parcellation, map and feature atlascope knows about.

Configuration sources (the builtin offline pack, a siibra-configurations folder, ...) register
*loaders*; a loader runs the first time anything is looked up, so importing atlascope reads no file.

The process-wide :data:`REGISTRY` holds what atlascope knows (atlases, spaces, parcellations,
maps, features, and which MNI152-identity warnings were already given). Nothing below it imports
it: a parcellation or an atlas learns its registry when it is added
(:meth:`Registry.add_parcellation`, :meth:`Registry.add_atlas`), and locations resolve space specs
through the registry handed to :func:`atlascope.locations.spaces.use_registry` at the end of this
module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..commons import logger
from ..errors import AmbiguousNameError, AtlascopeError, NotFoundError
from ..locations.spaces import use_registry
from .atlas import Atlas
from .maptype import normalize_maptype
from .names import closest
from .parcellation import Parcellation
from .region import Region
from .space import Space

__all__ = ["Registry", "REGISTRY", "normalize_maptype"]


class Registry:
    """Holds atlases, spaces, parcellations, maps and features; filled lazily by loaders."""

    def __init__(self) -> None:
        self._atlases: list[Atlas] = []
        self._spaces: list[Space] = []
        self._parcellations: list[Parcellation] = []
        self._maps: list[Any] = []
        self._features: list[Any] = []
        self._loaders: list[tuple[str, Callable[[Registry], None]]] = []
        self._feature_loaders: list[tuple[str, Callable[[Registry], None]]] = []
        self._loaded: set[str] = set()
        self._failed: dict[str, str] = {}
        self._identity_warned: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._loading = False

    # -------------------------------------------------------------- loading
    def add_loader(self, name: str, loader: Callable[[Registry], None]) -> None:
        """Register a configuration source; it runs at the next lookup (once per name)."""
        with self._lock:
            if name not in self._loaded and all(n != name for n, _ in self._loaders):
                self._loaders.append((name, loader))

    def add_feature_loader(self, name: str, loader: Callable[[Registry], None]) -> None:
        """Register a source of features only: it runs at the first feature lookup (once per name).

        Map and region lookups (``atlascope assign``) then never load the feature tables, nor pandas.
        """
        with self._lock:
            if name not in self._loaded and all(n != name for n, _ in self._feature_loaders):
                self._feature_loaders.append((name, loader))

    def remove_source(self, name: str) -> None:
        """Forget a pending loader (objects it already added stay)."""
        with self._lock:
            self._loaders = [(n, f) for n, f in self._loaders if n != name]
            self._feature_loaders = [(n, f) for n, f in self._feature_loaders if n != name]

    @property
    def sources(self) -> list[str]:
        """Names of the configuration sources loaded so far and pending."""
        return sorted(self._loaded) + [n for n, _ in self._loaders + self._feature_loaders]

    def ensure_loaded(self, features: bool = False) -> None:
        """Run pending loaders, and with ``features`` the pending feature loaders too.

        A loader's error names the source and does not stop the others.
        """
        with self._lock:
            if self._loading:
                return
            self._loading = True
            try:
                while self._loaders or (features and self._feature_loaders):
                    queue = self._loaders if self._loaders else self._feature_loaders
                    name, loader = queue.pop(0)
                    self._loaded.add(name)
                    try:
                        loader(self)
                    except AtlascopeError as exc:
                        self._failed[name] = str(exc)
                        logger.error("configuration source %r could not be loaded: %s", name, exc)
            finally:
                self._loading = False

    def failure_note(self) -> str:
        """Text naming configuration sources that failed to load (appended to not-found errors)."""
        if not self._failed:
            return ""
        return " Note: " + " ".join(
            f"configuration source {n!r} failed to load: {m}" for n, m in self._failed.items()
        )

    # ---------------------------------------------------------------- adding
    def add_atlas(self, atlas: Atlas) -> Atlas:
        """Add an atlas and give it this registry; one with a known id merges into the known one
        (``Atlas.merge``: the newcomer's spaces and parcellations come first), which is returned."""
        with self._lock:
            for a in self._atlases:
                if a.id == atlas.id:
                    a.merge(atlas)
                    return a
            atlas.registry = self
            self._atlases.append(atlas)
            return atlas

    def add_space(self, space: Space) -> Space:
        """Add a space; a space with a known id merges into the existing one (template kept or added)."""
        with self._lock:
            for s in self._spaces:
                if s.id == space.id:
                    if not s.has_template and space.has_template:
                        s.set_template(space.get_template())
                    return s
            self._spaces.append(space)
            return space

    def add_parcellation(self, parcellation: Parcellation) -> Parcellation:
        """Add a parcellation and give it this registry (for its maps); one with a known id is not
        added twice (the known one is returned, and the given one looks its maps up here too)."""
        with self._lock:
            if parcellation.registry is None:
                parcellation.registry = self
            for p in self._parcellations:
                if p.id == parcellation.id:
                    return p
            self._parcellations.append(parcellation)
            return parcellation

    def add_map(self, map_: Any) -> Any:
        """Add a map (an ``atlascope.maps.Map``)."""
        with self._lock:
            for m in self._maps:
                if getattr(m, "id", None) == getattr(map_, "id", object()):
                    return m
            self._maps.append(map_)
            return map_

    def add_feature(self, feature: Any) -> Any:
        """Add a feature (see ``atlascope.features``)."""
        with self._lock:
            self._features.append(feature)
            return feature

    def by_id(self, kind: str, oid: str | None) -> Any:
        """The space, parcellation or map (``kind``) with identifier ``oid``, or None.

        Does not trigger loading, so configuration builders may call it while a source loads.
        """
        items = {"space": self._spaces, "parcellation": self._parcellations, "map": self._maps}[kind]
        for it in items:
            if getattr(it, "id", None) == oid:
                return it
        return None

    def first_identity_use(self, source: Space, target: Space) -> bool:
        """Record that coordinates pass from ``source`` to ``target`` by the identity; True the first
        time for this pair (``check_compatible`` warns once per pair). At most one entry per pair of
        space ids."""
        key = (source.id, target.id)
        with self._lock:
            if key in self._identity_warned:
                return False
            self._identity_warned.add(key)
            return True

    # --------------------------------------------------------------- listing
    @property
    def atlases(self) -> list[Atlas]:
        """All known atlases."""
        self.ensure_loaded()
        return list(self._atlases)

    @property
    def spaces(self) -> list[Space]:
        """All known spaces."""
        self.ensure_loaded()
        return list(self._spaces)

    @property
    def parcellations(self) -> list[Parcellation]:
        """All known parcellations."""
        self.ensure_loaded()
        return list(self._parcellations)

    @property
    def maps(self) -> list[Any]:
        """All known maps."""
        self.ensure_loaded()
        return list(self._maps)

    @property
    def features(self) -> list[Any]:
        """All known (configured) features."""
        self.ensure_loaded(features=True)
        return list(self._features)

    # ---------------------------------------------------------------- lookup
    def get_atlas(self, spec: str | Atlas) -> Atlas:
        """The atlas designated by ``spec`` (``"human"``, a name, an id); the first registered wins.

        Raises
        ------
        NotFoundError
            No atlas matches; the message lists the known atlases.
        """
        if isinstance(spec, Atlas):
            return spec
        found = [a for a in self.atlases if a.matches(spec)]
        if not found:
            raise NotFoundError(
                f"No atlas matches {spec!r}. Known atlases: "
                + ", ".join(repr(a.name) for a in self.atlases)
                + ". Use words of a name or species, e.g. 'human'."
                + self.failure_note()
            )
        return found[0]

    def find_spaces(self, spec: str | Space) -> list[Space]:
        """Every space matching ``spec``, in registration order (exact names first)."""
        if isinstance(spec, Space):
            return [spec]
        found = [s for s in self.spaces if s.matches(spec)]
        exact = [s for s in found if str(spec).lower() in (s.id.lower(), s.name.lower(), s.shortname.lower())]
        return exact + [s for s in found if s not in exact]

    def get_space(self, spec: str | Space) -> Space:
        """The space designated by ``spec``; the first registered wins among several matches.

        Raises
        ------
        NotFoundError
            No space matches; the message lists the known spaces.
        """
        found = self.find_spaces(spec)
        if not found:
            raise NotFoundError(
                f"No reference space matches {spec!r}. Known spaces: "
                + ", ".join(repr(s.shortname) for s in self.spaces)
                + ". Use words of a name, e.g. 'mni152' or 'colin27'."
                + self.failure_note()
            )
        if len(found) > 1:
            logger.debug("space %r matches %s; using %s", spec, [s.name for s in found], found[0].name)
        return found[0]

    def find_parcellations(self, spec: str | Parcellation) -> list[Parcellation]:
        """Every parcellation matching ``spec``, newest version first."""
        if isinstance(spec, Parcellation):
            return [spec]
        found = [p for p in self.parcellations if p.matches(spec)]
        exact = [p for p in found if str(spec).lower() in (p.id.lower(), p.name.lower(), p.shortname.lower())]
        rest = sorted((p for p in found if p not in exact), key=lambda p: p.version_key, reverse=True)
        return exact + rest

    def get_parcellation(self, spec: str | Parcellation) -> Parcellation:
        """The parcellation designated by ``spec``; the newest version wins among several matches.

        Raises
        ------
        NotFoundError
            No parcellation matches; the message suggests close names.
        AmbiguousNameError
            Several unrelated parcellations (not versions of one family) match.
        """
        found = self.find_parcellations(spec)
        if not found:
            hints = closest(
                str(spec),
                [p.shortname for p in self.parcellations]
                + [p.name for p in self.parcellations]
                + [a for p in self.parcellations for a in p.aliases],
            )
            only_offline = all(p.id.startswith(("atlascope/", "custom/")) for p in self.parcellations)
            online = (
                ""
                if not only_offline
                else (
                    " Atlases of siibra-configurations (e.g. Julich-Brain 3.x, DiFuMo) need "
                    "atlascope.use_configuration(...) or ATLASCOPE_CONFIGURATION."
                )
            )
            raise NotFoundError(
                f"No parcellation matches {spec!r}. "
                + (f"Did you mean: {', '.join(repr(h) for h in hints)}? " if hints else "")
                + "Run `atlascope atlases` to list them."
                + online
                + self.failure_note()
            )
        first = found[0]
        if len(found) > 1:
            families = {p.family or p.id for p in found}
            if len(families) > 1 and str(spec).lower() not in (
                first.name.lower(),
                first.shortname.lower(),
                first.id.lower(),
            ):
                raise AmbiguousNameError(
                    f"{spec!r} matches several parcellations: "
                    + ", ".join(repr(p.shortname) for p in found)
                    + ". Add a word that tells them apart."
                )
            logger.debug("parcellation %r matches %s; using %s", spec, [p.name for p in found], first.name)
        return first

    def region_maps(self, region: Region, space: Any = None, maptype: str | None = None) -> list[Any]:
        """Maps of ``region``'s parcellation that hold the region or a descendant.

        Parameters
        ----------
        region : Region
            A region of a parcellation (a detached tree has no maps).
        space : str or Space, optional
            Only maps in the spaces matching this spec; a Space object also admits the spaces of
            its family (the MNI152 variants, related by the identity). None: every space.
        maptype : str, optional
            Only maps of this type (any spelling of :func:`normalize_maptype`). None: both.
        """
        parc = region.parcellation
        if parc is None:
            return []
        spaces = self.find_spaces(space) if space is not None else None
        if spaces is not None and len(spaces) == 1 and isinstance(space, Space):
            # a Space object: also the spaces of its family (identity, with check_compatible's warning)
            spaces += [s for s in self.spaces if s is not space and space.is_compatible(s)]
        names = {r.name for r in region}
        out = []
        for m in self.maps:
            if m.parcellation != parc or (spaces is not None and m.space not in spaces):
                continue
            if maptype is not None and m.maptype != normalize_maptype(maptype):
                continue
            if names & set(m.indices):
                out.append(m)
        return out

    def get_region(self, parcellation: str | Parcellation, region: str | Region) -> Region:
        """Region ``region`` of ``parcellation``."""
        return self.get_parcellation(parcellation).get_region(region)

    def get_map(
        self,
        parcellation: str | Parcellation | None = None,
        space: str | Space | None = None,
        maptype: str = "labelled",
        spec: str = "",
    ) -> Any:
        """The map of ``parcellation`` in ``space`` of type ``maptype``.

        Parcellation and space specs are resolved as by :meth:`get_parcellation` and
        :meth:`find_spaces` (maps of the first matching space first). ``spec`` words narrow several
        candidates (``Map.matches``); if several remain, the first is returned and a warning names
        the others.

        Raises
        ------
        NotFoundError
            No map fits; the message lists the maps the parcellation has.
        """
        mtype = normalize_maptype(maptype)
        maps = [m for m in self.maps if m.maptype == mtype]
        if parcellation is not None:
            parc = self.get_parcellation(parcellation)
            maps = [m for m in maps if m.parcellation is parc or m.parcellation == parc]
        else:
            parc = None
        spaces: list[Space] = []
        if space is not None:
            spaces = self.find_spaces(space)
            if not spaces:
                self.get_space(space)  # raises a helpful NotFoundError
            maps = [m for m in maps if m.space in spaces]
            maps.sort(key=lambda m: spaces.index(m.space))
        if spec and maps:
            narrowed = [m for m in maps if m.matches(spec)]
            if not narrowed:
                raise NotFoundError(
                    f"spec={spec!r} matches none of the {len(maps)} {mtype} maps that fit: "
                    + "; ".join(_describe_map(m) for m in maps)
                    + ". Use words of one of these keys."
                )
            maps = narrowed
        if not maps:
            have = [m for m in self.maps if parc is None or m.parcellation == parc]
            listing = "; ".join(f"{m.maptype} in {m.space.shortname}" for m in have) or "none"
            raise NotFoundError(
                f"No {mtype} map of {parc.name if parc else 'any parcellation'!s}"
                + (f" in space {space!s}" if space is not None else "")
                + f". Available maps of it: {listing}."
                + self.failure_note()
            )
        if len(maps) > 1:
            logger.warning(
                "Several maps fit; using %s (others: %s). Pass spec=... with words of a key to choose.",
                _describe_map(maps[0]),
                "; ".join(_describe_map(m) for m in maps[1:]),
            )
        return maps[0]


def _describe_map(m: Any) -> str:
    """``'key' (name; N regions, space)`` — what tells maps of one parcellation apart."""
    n = len(getattr(m, "indices", ()) or ())
    return f"{getattr(m, 'key', m.id)!r} ({m.name}; {n} regions, {m.space.shortname})"


#: The process-wide registry.
REGISTRY = Registry()
use_registry(REGISTRY)  # Point("...", space="mni152") and friends resolve space specs here
