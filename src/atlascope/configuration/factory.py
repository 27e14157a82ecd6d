"""``@type`` -> factory dispatch for siibra-configurations JSON entries.

Each room that understands a kind of entry registers a builder with :func:`register_type`::

    @register_type("siibra/feature/fingerprint/receptor/v0.1")
    def _receptor(spec: dict, ctx: BuildContext) -> ReceptorDensityFingerprint: ...

The loader calls :func:`build` for every JSON file; unknown types are skipped with one debug line.

Builders of a package above configuration (the features) register when that package is imported;
the top-level package announces them with :func:`register_type_family`, so that configuration never
imports the packages built on it and the (pandas-heavy) features load only at the first feature entry.
The builders by ``@type`` and the announced families are this module's only state: a registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..commons import logger
from ..core.registry import Registry

__all__ = [
    "BuildContext",
    "register_type",
    "register_type_family",
    "builder_for",
    "build",
    "Unsupported",
]

Builder = Callable[[dict, "BuildContext"], Any]
#: ``@type`` -> builder.
_BUILDERS: dict[str, Builder] = {}
#: ``@type`` prefix -> what registers the builders of that family (run once, at the first such type).
_FAMILIES: dict[str, Callable[[], object]] = {}
#: Held while a family registers, so that a concurrent lookup waits for its builders.
_FAMILY_LOCK = threading.RLock()


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


def register_type_family(prefixes: str | tuple[str, ...], register: Callable[[], object]) -> None:
    """Announce builders that ``register()`` adds (typically by importing the package defining them)
    for every ``@type`` starting with one of ``prefixes``; it runs at the first such ``@type``."""
    for prefix in (prefixes,) if isinstance(prefixes, str) else prefixes:
        _FAMILIES[prefix] = register


def builder_for(type_: str) -> Builder | None:
    """The builder of ``type_`` (registering its announced family first), or None when there is none."""
    fn = _BUILDERS.get(type_)
    if fn is None:
        with _FAMILY_LOCK:
            pending = [p for p in _FAMILIES if type_.startswith(p)]
            for register in dict.fromkeys(_FAMILIES.pop(p) for p in pending):
                register()
            fn = _BUILDERS.get(type_)
    return fn


def build(spec: dict, ctx: BuildContext) -> Any:
    """Build the object of one JSON entry, or return None for an unknown ``@type`` (logged at debug)."""
    t = spec.get("@type")
    fn = builder_for(str(t)) if t is not None else None
    if fn is None:
        logger.debug("skipping %s: no builder for @type %r", ctx.path, t)
        return None
    return fn(spec, ctx)
