"""Relating reference spaces: resolution of space specs and the MNI152 identity policy."""

from __future__ import annotations

import threading

from ..commons import logger
from ..core.registry import REGISTRY
from ..core.space import Space
from ..errors import SpaceMismatchError

__all__ = ["resolve_space", "check_compatible"]

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def resolve_space(space: str | Space | None) -> Space | None:
    """A Space from a spec (``"mni152"``), a Space, or None."""
    if space is None or isinstance(space, Space):
        return space
    return REGISTRY.get_space(space)


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
        key = (source.id, target.id)
        with _warned_lock:
            if key not in _warned:
                _warned.add(key)
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
