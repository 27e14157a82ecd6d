"""The one exception family of atlascope.

Every error raised on purpose by atlascope derives from :class:`AtlascopeError`. Each message names
what was wrong and what to do about it, so that the command line can print it without a traceback.
"""

from __future__ import annotations

__all__ = [
    "AtlascopeError",
    "InvalidInputError",
    "SpaceMismatchError",
    "NotFoundError",
    "AmbiguousNameError",
    "ConfigurationError",
    "RetrievalError",
    "OfflineError",
    "IntegrityError",
    "CacheError",
    "ServiceUnavailableError",
    "MissingExtraError",
]


class AtlascopeError(Exception):
    """Base class of every error atlascope raises on purpose."""


class InvalidInputError(AtlascopeError, ValueError):
    """An image, coordinate or parameter cannot be used (wrong shape, NaN, empty, corrupt file...)."""


class SpaceMismatchError(AtlascopeError, ValueError):
    """Two objects live in reference spaces that cannot be related."""


class NotFoundError(AtlascopeError, LookupError):
    """No space, parcellation, region, map or feature matches a specification."""


class AmbiguousNameError(AtlascopeError, LookupError):
    """A specification matches several unrelated objects."""


class ConfigurationError(AtlascopeError):
    """An atlas configuration (JSON) is malformed or inconsistent."""


class RetrievalError(AtlascopeError, OSError):
    """A file could not be downloaded or read."""


class OfflineError(RetrievalError):
    """Data is needed that is neither cached nor mirrored, and the network is not to be used."""


class IntegrityError(RetrievalError):
    """Downloaded content failed validation (size, hash, gzip/NIfTI/JSON decoding)."""


class CacheError(AtlascopeError, OSError):
    """The cache folder cannot be used (permissions, disk full, corrupt entry)."""


class ServiceUnavailableError(RetrievalError):
    """A live web service (e.g. the Allen Brain Atlas API) did not answer."""


class MissingExtraError(AtlascopeError, ImportError):
    """An optional feature's package is not installed; the message names the pip extra to install."""
