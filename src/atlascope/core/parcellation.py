"""Parcellations: a named, versioned region tree with maps in one or more spaces."""

from __future__ import annotations

from typing import Any

from ..errors import NotFoundError
from .names import matches_loosely, version_key
from .provenance import Provenance
from .region import MapLookup, Region

__all__ = ["Parcellation"]


class Parcellation:
    """A parcellation (brain atlas terminology): a region tree plus metadata.

    Parameters
    ----------
    id : str
        Stable identifier.
    name : str
        Full name, e.g. ``"Julich-Brain Cytoarchitectonic Atlas (v3.0.3)"``.
    shortname : str
        Short name, e.g. ``"Julich-Brain v3.0.3"``.
    regions : list of Region
        Top-level regions; they are placed below a root region named after the parcellation.
    version : str, optional
        Version string used to pick the newest of several matches.
    aliases : list of str, optional
        Further names ("julich fsl").
    modality, description : str
        Free text.
    provenance : Provenance, optional
        Origin (dataset, citation, licence).
    family : str, optional
        Versions of one parcellation share a family (several matches of one family are not ambiguous).

    Attributes
    ----------
    registry : Registry or None
        The registry the parcellation was added to (``Registry.add_parcellation`` sets it); maps of
        the parcellation and of its regions are looked up there. None until it is added.
    """

    def __init__(
        self,
        id: str,
        name: str,
        shortname: str = "",
        regions: list[Region] | None = None,
        version: str | None = None,
        aliases: list[str] | None = None,
        modality: str = "",
        description: str = "",
        provenance: Provenance | None = None,
        family: str | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.shortname = shortname or name
        self.version = version
        self.aliases = list(aliases or [])
        self.modality = modality
        self.description = description
        self.provenance = provenance or Provenance()
        self.family = family
        self.registry: MapLookup | None = None
        self.root = Region(self.name, children=list(regions or []))
        self.root._parcellation = self

    # ---------------------------------------------------------------- lookup
    def matches(self, spec: str | Parcellation) -> bool:
        """Whether ``spec`` designates this parcellation: its id or a name, or every spec word found
        in its short name, name or aliases (:func:`~atlascope.core.names.matches_loosely`)."""
        if isinstance(spec, Parcellation):
            return spec is self or spec.id == self.id
        spec = str(spec)
        if spec in (self.id, self.name, self.shortname):
            return True
        return matches_loosely(spec, self.shortname, self.name, self.aliases)

    @property
    def version_key(self) -> tuple:
        """Sortable key of the version (newest last)."""
        return version_key(self.version)

    @property
    def regions(self) -> list[Region]:
        """Every region of the tree below the root, depth-first."""
        return self.root.descendants

    @property
    def leaves(self) -> list[Region]:
        """Leaf regions (usually hemisphere-specific areas)."""
        return [r for r in self.root.leaves if r is not self.root]

    def find(self, spec: str | Region) -> list[Region]:
        """Every region matching ``spec``."""
        return [r for r in self.root.find(spec) if r is not self.root]

    def get_region(self, spec: str | Region) -> Region:
        """The region designated by ``spec`` (see :meth:`Region.get_region`)."""
        return self.root.get_region(spec)

    def get_map(self, space: Any = None, maptype: str = "labelled", spec: str = "") -> Any:
        """This parcellation's map in ``space`` (see :func:`atlascope.get_map`).

        Raises
        ------
        NotFoundError
            No map fits, or the parcellation was never added to a registry.
        """
        if self.registry is None:
            raise NotFoundError(
                f"Parcellation {self.name!r} is in no registry, so it has no maps; add it first with "
                "Registry.add_parcellation (atlascope.REGISTRY for the process-wide one)."
            )
        return self.registry.get_map(self, space, maptype=maptype, spec=spec)

    def __iter__(self):
        return iter(self.regions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Parcellation) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Parcellation {self.name!r}>"
