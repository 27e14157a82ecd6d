"""``@type`` -> factory dispatch for siibra-configurations JSON entries.

Each room that understands a kind of entry registers a builder with :func:`register_type`::

    @register_type("siibra/feature/fingerprint/receptor/v0.1")
    def _receptor(spec: dict, ctx: BuildContext) -> ReceptorDensityFingerprint: ...

The loader calls :func:`build` for every JSON file; unknown types are skipped with one debug line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..commons import logger
from ..core.registry import Registry

__all__ = ["BuildContext", "register_type", "build", "known_types", "Unsupported"]

Builder = Callable[[dict, "BuildContext"], Any]
_BUILDERS: dict[str, Builder] = {}


class Unsupported(Exception):
    """Raised by a builder for an entry of a known type that atlascope cannot use (e.g. a mouse map
    in a format it does not read); counted, not reported as an error."""


@dataclass
class BuildContext:
    """What a builder may need: the registry, the JSON file's path and source root, the source name."""

    registry: Registry
    path: Path | None = None
    root: Path | None = None
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def register_type(*types: str) -> Callable[[Builder], Builder]:
    """Decorator registering a builder for one or more ``@type`` values."""

    def deco(fn: Builder) -> Builder:
        for t in types:
            _BUILDERS[t] = fn
        return fn

    return deco


def known_types() -> list[str]:
    """Every ``@type`` a builder is registered for."""
    return sorted(_BUILDERS)


def build(spec: dict, ctx: BuildContext) -> Any:
    """Build the object of one JSON entry, or return None for an unknown ``@type`` (logged at debug)."""
    t = spec.get("@type")
    fn = _BUILDERS.get(t)
    if fn is None:
        logger.debug("skipping %s: no builder for @type %r", ctx.path, t)
        return None
    return fn(spec, ctx)
