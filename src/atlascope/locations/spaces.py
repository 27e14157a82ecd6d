"""Relating reference spaces: resolution of space specs and the MNI152 identity policy.

Locations sit below the registry: they do not import it. The registry hands itself over once,
when it is created (:func:`use_registry`, called by ``atlascope.core.registry``); space specs are
resolved there, and the registry remembers which identity warnings were given.
"""

from __future__ import annotations

from typing import Protocol

from ..commons import logger
from ..core.space import Space
from ..errors import NotFoundError, SpaceMismatchError

__all__ = ["resolve_space", "check_compatible", "use_registry", "SpaceDirectory"]


class SpaceDirectory(Protocol):
    """What locations need of the registry (``atlascope.core.registry.Registry``)."""

    def get_space(self, spec: str | Space) -> Space:
        """The space designated by ``spec``."""
        ...

    def first_identity_use(self, source: Space, target: Space) -> bool:
        """True the first time coordinates pass from ``source`` to ``target`` by the identity."""
        ...


#: The registry that resolves space specs, set once by :func:`use_registry` (a reference to the
#: registry, not state of its own).
_directory: SpaceDirectory | None = None


def use_registry(registry: SpaceDirectory) -> None:
    """Resolve space specs in ``registry`` from now on (the process-wide registry calls this once)."""
    global _directory
    _directory = registry


def resolve_space(space: str | Space | None) -> Space | None:
    """A Space from a spec (``"mni152"``), a Space, or None.

    Raises
    ------
    NotFoundError
        No space matches the spec (the message lists the known spaces).
    """
    if space is None or isinstance(space, Space):
        return space
    if _directory is None:
        raise NotFoundError(f"Cannot resolve the space {space!r}: no registry is in use; pass a Space object.")
    return _directory.get_space(space)


def check_compatible(source: Space | None, target: Space | None, *, strict: bool = False) -> None:
    """Check that coordinates in ``source`` may be used in ``target`` unchanged.

    Spaces of one family (the MNI152 variants: ICBM 2009c asymmetric, 2009a symmetric, FSL 6th
    generation) differ by a few millimetres; atlascope relates them by the identity and warns once per
    pair. With ``strict=True`` such a pair is refused.

    Raises
    ------
    SpaceMismatchError
        The spaces are unrelated (e.g. Colin27 and BigBrain), or differ and ``strict`` is set.
    """
    if source is None or target is None or source is target or source.id == target.id:
        return
    if source.is_compatible(target):
        if strict:
            raise SpaceMismatchError(
                f"{source.name!r} and {target.name!r} are different spaces and strict=True refuses the "
                "identity between them. Register the input to the map's space first, or pass strict=False "
                "to accept the identity (differences of a few mm)."
            )
        if _directory is None or _directory.first_identity_use(source, target):
            logger.warning(
                "Using the identity between %r and %r (both MNI152 variants; they differ by a few mm). "
                "Pass strict=True to refuse this.",
                source.name,
                target.name,
            )
        return
    raise SpaceMismatchError(
        f"Cannot relate {source.name!r} to {target.name!r}: atlascope has no transformation between them. "
        f"Use a map in {source.name!r}, or register your data to {target.name!r} first."
    )
