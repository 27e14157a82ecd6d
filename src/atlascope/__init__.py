"""atlascope: brain atlases for people with an activation map or a list of coordinates."""

from __future__ import annotations

__version__ = "0.1.0"

from .commons import QUIET, VERBOSE, logger, set_log_level  # noqa: E402
from . import errors  # noqa: E402

__all__ = ["QUIET", "VERBOSE", "logger", "set_log_level", "errors", "__version__"]
