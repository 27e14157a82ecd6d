"""Logging, verbosity switches and progress bars shared by every atlascope room.

atlascope logs through ``logging.getLogger("atlascope")`` and never prints from library code.
``QUIET`` and ``VERBOSE`` are re-entrant context managers that change the log level (and switch
progress bars off or on) for the duration of a ``with`` block, as in siibra.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import TypeVar

from .errors import MissingExtraError

logger = logging.getLogger("atlascope")

T = TypeVar("T")

_state = threading.local()


def _ensure_handler() -> None:
    """Give the atlascope logger one stderr handler unless the application configured logging."""
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[atlascope:%(levelname)s] %(message)s"))
    logger.addHandler(handler)
    level = os.environ.get("ATLASCOPE_LOG_LEVEL", "INFO").upper()
    logger.setLevel(getattr(logging, level, logging.INFO))


_ensure_handler()


class _LevelContext:
    """Context manager that sets the atlascope log level temporarily (re-entrant, nestable)."""

    def __init__(self, level: int, progress: bool) -> None:
        self.level = level
        self.progress = progress
        self._saved: list[tuple[int, bool]] = []

    def __enter__(self) -> _LevelContext:
        self._saved.append((logger.level, progress_enabled()))
        logger.setLevel(self.level)
        _state.progress = self.progress
        return self

    def __exit__(self, *exc) -> None:
        level, progress = self._saved.pop()
        logger.setLevel(level)
        _state.progress = progress

    def __repr__(self) -> str:
        return f"<atlascope log level {logging.getLevelName(self.level)}>"


#: ``with atlascope.QUIET:`` silences info and warning messages and progress bars.
QUIET = _LevelContext(logging.ERROR, progress=False)
#: ``with atlascope.VERBOSE:`` shows debug messages.
VERBOSE = _LevelContext(logging.DEBUG, progress=True)


def set_log_level(level: int | str) -> None:
    """Set the level of the ``atlascope`` logger (e.g. ``"WARNING"`` or ``logging.DEBUG``)."""
    logger.setLevel(level.upper() if isinstance(level, str) else level)


def progress_enabled() -> bool:
    """Whether progress bars are shown: off under ``QUIET``, ``ATLASCOPE_PROGRESS=0`` or above INFO."""
    explicit = getattr(_state, "progress", None)
    if explicit is not None:
        return explicit
    if os.environ.get("ATLASCOPE_PROGRESS", "1") == "0":
        return False
    return logger.getEffectiveLevel() <= logging.INFO


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm progress bar on stderr when progress bars are enabled.

    Parameters
    ----------
    iterable : iterable
        The items to iterate over.
    desc : str
        Label shown in front of the bar.
    total : int, optional
        Number of items, when ``len(iterable)`` is not available.
    unit : str
        Unit name shown by tqdm.
    """
    if not progress_enabled():
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr)


def require_extra(module: str, extra: str, purpose: str) -> ModuleType:
    """Import an optional package, or raise :class:`~atlascope.errors.MissingExtraError` naming its extra.

    Parameters
    ----------
    module : str
        Module to import (``"distributed"``, ``"compressed_segmentation"``).
    extra : str
        The pip extra that installs it (``"batch"`` for ``pip install "atlascope[batch]"``).
    purpose : str
        What needs it, for the message (``"batch mode"``).

    Returns
    -------
    module
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the optional package {module!r}, which is not installed ({exc}). "
            f'Install it with: python3 -m pip install "atlascope[{extra}]"'
        ) from exc
