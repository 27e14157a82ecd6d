"""Reference spaces (MNI152 2009c, MNI152 6th generation, Colin27, ...)."""

from __future__ import annotations

from typing import Any

from ..errors import NotFoundError
from .names import matches_loosely
from .provenance import Provenance

__all__ = ["Space"]


class Space:
    """A reference space: a coordinate system in mm with one or more template images.

    Parameters
    ----------
    id : str
        Stable identifier (the siibra-configurations ``@id`` where there is one).
    name : str
        Full name, e.g. ``"MNI 152 ICBM 2009c Nonlinear Asymmetric"``.
    shortname : str
        Short name, e.g. ``"ICBM 2009c nonl asym"``.
    family : str, optional
        Spaces of one family (e.g. ``"mni152"``) are related by the identity, with a warning;
        other pairs need a real transformation.
    aliases : list of str, optional
        Further names that find the space.
    template : object, optional
        A ``atlascope.volumes.Volume`` (or anything with ``fetch()``) for the template image.
    species : str
        ``"homo sapiens"`` by default.
    provenance : Provenance, optional
        Origin of the template.
    extent_mm : tuple, optional
        ``((xmin, ymin, zmin), (xmax, ymax, zmax))`` in mm of the brain, used to recognise
        images that cannot be in this space.
    """

    def __init__(
        self,
        id: str,
        name: str,
        shortname: str = "",
        family: str | None = None,
        aliases: list[str] | None = None,
        template: Any = None,
        species: str = "homo sapiens",
        provenance: Provenance | None = None,
        description: str = "",
        extent_mm: tuple | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.shortname = shortname or name
        self.family = family
        self.aliases = list(aliases or [])
        self._template = template
        self.species = species
        self.provenance = provenance or Provenance()
        self.description = description
        #: ((xmin, ymin, zmin), (xmax, ymax, zmax)) in mm covering the brain, when known
        self.extent_mm = extent_mm

    def matches(self, spec: str | Space) -> bool:
        """Whether ``spec`` designates this space: its id or a name, or every spec word found in its
        short name, name or aliases (:func:`~atlascope.core.names.matches_loosely`)."""
        if isinstance(spec, Space):
            return spec is self or spec.id == self.id
        spec = str(spec)
        if spec in (self.id, self.name, self.shortname):
            return True
        return matches_loosely(spec, self.shortname, self.name, self.aliases)

    def get_template(self) -> Any:
        """The template as a Volume.

        Raises
        ------
        atlascope.errors.NotFoundError
            The space has no template image.
        """
        if self._template is None:
            raise NotFoundError(f"Space {self.name!r} has no template image in the loaded configuration.")
        return self._template

    @property
    def has_template(self) -> bool:
        """Whether a template image is available."""
        return self._template is not None

    def set_template(self, template: Any) -> None:
        """Attach a template volume (used by configuration loaders)."""
        self._template = template

    def is_compatible(self, other: Space) -> bool:
        """Whether coordinates can pass between the two spaces (same space or same family)."""
        return (
            other is self or other.id == self.id or (self.family is not None and self.family == other.family)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Space {self.name!r}>"
