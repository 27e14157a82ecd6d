"""Atlases: a species' reference spaces and parcellations, as siibra's ``siibra.atlases`` holds them.

An :class:`Atlas` names its spaces and parcellations by identifier and finds them in the registry it
was added to (:meth:`atlascope.core.registry.Registry.add_atlas`), so an atlas read from a catalogue
before its spaces and parcellations still sees them once they are loaded. The first space and the
first parcellation of an atlas are its defaults, as in siibra.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..commons import logger
from ..errors import AmbiguousNameError, NotFoundError
from .maptype import normalize_maptype
from .names import key_of, matches_loosely
from .parcellation import Parcellation
from .region import Region
from .space import Space
from .table import InstanceTable

__all__ = ["Atlas", "AtlasLookup", "species_name"]


class AtlasLookup(Protocol):
    """What an atlas needs of its registry (implemented by ``atlascope.core.registry.Registry``)."""

    @property
    def spaces(self) -> list[Space]: ...

    @property
    def parcellations(self) -> list[Parcellation]: ...

    @property
    def maps(self) -> list[Any]: ...

    def find_spaces(self, spec: str | Space) -> list[Space]: ...

    def find_parcellations(self, spec: str | Parcellation) -> list[Parcellation]: ...

    def get_map(
        self, parcellation: Any = None, space: Any = None, maptype: str = "labelled", spec: str = ""
    ) -> Any: ...


def species_name(species: str) -> str:
    """A species as siibra prints it: binomial name, first letter capital (``"Homo sapiens"``)."""
    return " ".join(str(species).split()).capitalize()


class Atlas:
    """An atlas: the reference spaces and parcellations of one species.

    Parameters
    ----------
    id : str
        Stable identifier (siibra-configurations' ``@id`` of the atlas).
    name : str
        Display name, e.g. ``"Multilevel Human Atlas"``.
    species : str
        Species, e.g. ``"homo sapiens"`` (stored as :func:`species_name` gives it).
    space_ids, parcellation_ids : list of str
        Identifiers of the atlas's spaces and parcellations; the first of each is the default.
        Identifiers the registry does not know (a surface space atlascope does not read) are left
        out of :attr:`spaces` / :attr:`parcellations`.

    Attributes
    ----------
    registry : AtlasLookup or None
        The registry the atlas was added to (set by ``Registry.add_atlas``); None before that, when
        the atlas has no spaces or parcellations.
    """

    def __init__(
        self,
        id: str,
        name: str,
        species: str = "",
        space_ids: list[str] | None = None,
        parcellation_ids: list[str] | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.species = species_name(species)
        self.space_ids: list[str] = list(dict.fromkeys(space_ids or []))
        self.parcellation_ids: list[str] = list(dict.fromkeys(parcellation_ids or []))
        self.registry: AtlasLookup | None = None

    # ------------------------------------------------------------ naming
    @property
    def key(self) -> str:
        """Identifier-like key (``MULTILEVEL_HUMAN_ATLAS``), the attribute name in ``atlases``."""
        return key_of(self.name)

    @property
    def shortname(self) -> str:
        """The name (siibra's atlases have no separate short name)."""
        return self.name

    def matches(self, spec: str | Atlas) -> bool:
        """Whether ``spec`` designates this atlas: its id, its name, or words of its name or species
        (``"human"``, ``"homo sapiens"``, ``"rat"``)."""
        if isinstance(spec, Atlas):
            return spec is self or spec.id == self.id
        spec = str(spec)
        if spec in (self.id, self.name, self.key):
            return True
        return matches_loosely(spec, self.name, self.name, [self.species])

    def merge(self, other: Atlas) -> None:
        """Take the spaces and parcellations of ``other`` (an atlas of the same id from a source
        loaded later, such as a catalogue after the offline pack): its identifiers come first, so its
        defaults become this atlas's defaults; identifiers already known keep one place."""
        self.space_ids = list(dict.fromkeys(other.space_ids + self.space_ids))
        self.parcellation_ids = list(dict.fromkeys(other.parcellation_ids + self.parcellation_ids))
        if other.species and not self.species:
            self.species = other.species

    # ----------------------------------------------------------- members
    def _registry(self) -> AtlasLookup:
        if self.registry is None:
            raise NotFoundError(
                f"Atlas {self.name!r} is in no registry, so it has no spaces or parcellations; add it "
                "first with Registry.add_atlas (atlascope.REGISTRY for the process-wide one)."
            )
        return self.registry

    def _spaces(self) -> list[Space]:
        if self.registry is None:
            return []
        known = {s.id: s for s in self.registry.spaces}
        return [known[i] for i in self.space_ids if i in known]

    def _parcellations(self) -> list[Parcellation]:
        if self.registry is None:
            return []
        known = {p.id: p for p in self.registry.parcellations}
        return [known[i] for i in self.parcellation_ids if i in known]

    @property
    def spaces(self) -> InstanceTable:
        """Table of the atlas's reference spaces (``atlas.spaces["mni152"]``, ``.get``, iteration),
        in the atlas's order; a spec resolves among them as ``atlascope.get_space`` does."""
        return InstanceTable("space", self._spaces, self._resolve_space)

    @property
    def parcellations(self) -> InstanceTable:
        """Table of the atlas's parcellations (``atlas.parcellations["julich"]``, iteration), in the
        atlas's order; a spec resolves among them as ``atlascope.get_parcellation`` does (the newest
        version of a family wins)."""
        return InstanceTable("parcellation", self._parcellations, self._resolve_parcellation)

    def _resolve_space(self, spec: str) -> Space:
        mine = self._spaces()
        found = [s for s in self._registry().find_spaces(spec) if s in mine]
        if not found:
            raise NotFoundError(
                f"No space of atlas {self.name!r} matches {spec!r}. Its spaces: "
                + (", ".join(repr(s.shortname) for s in mine) or "none")
                + "."
            )
        return found[0]

    def _resolve_parcellation(self, spec: str) -> Parcellation:
        mine = self._parcellations()
        found = [p for p in self._registry().find_parcellations(spec) if p in mine]
        if not found:
            raise NotFoundError(
                f"No parcellation of atlas {self.name!r} matches {spec!r}. Its parcellations: "
                + (", ".join(repr(p.shortname) for p in mine) or "none")
                + "."
            )
        first = found[0]
        exact = spec.lower() in (first.id.lower(), first.name.lower(), first.shortname.lower())
        if len({p.family or p.id for p in found}) > 1 and not exact:
            raise AmbiguousNameError(
                f"{spec!r} matches several parcellations of atlas {self.name!r}: "
                + ", ".join(repr(p.shortname) for p in found)
                + ". Add a word that tells them apart."
            )
        return first

    # ------------------------------------------------------------ access
    def get_space(self, space: str | Space | None = None) -> Space:
        """The atlas's space designated by ``space``; None: the default (the first) space.

        Raises
        ------
        NotFoundError
            ``space`` is not one of the atlas's spaces, or the atlas has none.
        """
        if space is None:
            spaces = self._spaces()
            if not spaces:
                raise NotFoundError(f"Atlas {self.name!r} has no space in the loaded configuration.")
            if len(spaces) > 1:
                logger.info("No space given; using the default of %s: %r.", self.name, spaces[0].name)
            return spaces[0]
        if isinstance(space, Space):
            if space not in self._spaces():
                raise NotFoundError(f"Space {space.name!r} is not a space of atlas {self.name!r}.")
            return space
        return self.spaces.get(space)

    def get_parcellation(self, parcellation: str | Parcellation | None = None) -> Parcellation:
        """The atlas's parcellation designated by ``parcellation``; None: the default (the first).

        The offline human atlas's default is the FSL Jülich atlas (``"julich fsl"``); with a
        siibra-configurations catalogue loaded it is the catalogue's first (Julich-Brain 3.1).

        Raises
        ------
        NotFoundError
            ``parcellation`` is not one of the atlas's parcellations, or the atlas has none.
        AmbiguousNameError
            The spec matches several unrelated parcellations of the atlas.
        """
        if parcellation is None:
            parcs = self._parcellations()
            if not parcs:
                raise NotFoundError(f"Atlas {self.name!r} has no parcellation in the loaded configuration.")
            if len(parcs) > 1:
                logger.info("No parcellation given; using the default of %s: %r.", self.name, parcs[0].name)
            return parcs[0]
        if isinstance(parcellation, Parcellation):
            if parcellation not in self._parcellations():
                raise NotFoundError(
                    f"Parcellation {parcellation.name!r} is not a parcellation of atlas {self.name!r}."
                )
            return parcellation
        return self.parcellations.get(parcellation)

    def get_region(self, region: str | Region, parcellation: str | Parcellation | None = None) -> Region:
        """Region ``region`` of ``parcellation`` (None: the default parcellation)."""
        return self.get_parcellation(parcellation).get_region(region)

    def get_template(self, space: str | Space | None = None) -> Any:
        """The template Volume of ``space`` (None: the default space)."""
        return self.get_space(space).get_template()

    def get_map(
        self,
        space: str | Space | None = None,
        parcellation: str | Parcellation | None = None,
        maptype: str = "labelled",
        spec: str = "",
    ) -> Any:
        """The map of ``parcellation`` in ``space`` of type ``maptype`` (as ``atlascope.get_map``).

        Parameters
        ----------
        space : str or Space, optional
            One of the atlas's spaces. None: the default space if the parcellation has a map of
            this type there, else the first of the atlas's spaces where it has one (siibra always
            takes the default space and fails there).
        parcellation : str or Parcellation, optional
            One of the atlas's parcellations; None: the default parcellation.
        maptype : str or MapType
            ``"labelled"`` or ``"statistical"`` (any spelling ``normalize_maptype`` accepts).
        spec : str
            Words of a map key to choose among several maps.

        Raises
        ------
        NotFoundError
            No map fits; the message lists the parcellation's maps.
        """
        parc = self.get_parcellation(parcellation)
        if space is None:
            mtype = normalize_maptype(maptype)
            spaces = self._spaces()
            mapped = {m.space for m in self._registry().maps if m.parcellation == parc and m.maptype == mtype}
            target = next((s for s in spaces if s in mapped), spaces[0] if spaces else None)
        else:
            target = self.get_space(space)
        return self._registry().get_map(parc, target, maptype=maptype, spec=spec)

    def find_regions(
        self,
        regionspec: str,
        all_versions: bool = False,
        filter_children: bool = True,
        find_topmost: bool = False,
    ) -> list[Region]:
        """Regions matching ``regionspec`` in the atlas's parcellations.

        Parameters
        ----------
        regionspec : str
            Region name words or a ``/regex/`` (as for ``get_region``).
        all_versions : bool
            Also search parcellations that have a newer version (a catalogue's ``@next``); by
            default only the newest versions are searched.
        filter_children : bool
            Drop matches whose parent region also matches.
        find_topmost : bool
            With ``filter_children``: a parent whose child regions all match replaces them, even if
            the parent itself does not match.

        Returns
        -------
        list of Region
            In the atlas's parcellation order, tree order within each.
        """
        out: list[Region] = []
        for parc in self._parcellations():
            if not all_versions and _has_newer_version(parc):
                continue
            found = parc.find(regionspec)
            if filter_children:
                if find_topmost:
                    found = _topmost(found, parc.root)
                ids = {id(r) for r in found}
                found = [r for r in found if not any(id(a) in ids for a in r.ancestors)]
            out.extend(found)
        return out

    # ------------------------------------------------------------ python
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Atlas) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return (
            f"<Atlas {self.name!r}: {len(self.space_ids)} spaces, {len(self.parcellation_ids)} parcellations>"
        )


def _has_newer_version(parc: Parcellation) -> bool:
    """Whether a catalogue names a next version of ``parc`` (its ``@version`` ``@next``)."""
    attrs = getattr(parc, "attrs", None)
    return isinstance(attrs, dict) and bool(attrs.get("next"))


def _topmost(found: list[Region], root: Region) -> list[Region]:
    """``found`` plus every parent (below ``root``) all of whose children are in it, bottom-up."""
    ids = {id(r) for r in found}
    out = list(found)
    changed = True
    while changed:
        changed = False
        for r in list(out):
            parent = r.parent
            if parent is None or parent is root or id(parent) in ids:
                continue
            if parent.children and all(id(c) in ids for c in parent.children):
                ids.add(id(parent))
                out.append(parent)
                changed = True
    return out
