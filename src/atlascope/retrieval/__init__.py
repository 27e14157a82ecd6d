"""Every download of atlascope: HTTP with retries, a validated disk cache, mirrors, zip members.

Public API
----------
fetch(url, *, kind=None, sha256=None, size=None, desc=None) -> Path
    A validated local copy of a URL (cache → mirror → network); local paths pass through.
fetch_json(url) / fetch_text(url) / fetch_bytes(url)
    The same, read and decoded.
NotAtSourceError
    The :class:`~atlascope.errors.RetrievalError` raised for HTTP 404/410 (never retried).
zip_member(url, member) -> bytes / zip_member_path(url, member) -> Path / zip_members(url)
    Members of a zip archive downloaded once.
build_mirror(urls, out_dir, *, progress=True) -> Path / verify_mirror(out_dir) -> dict
    A folder usable as ``ATLASCOPE_MIRROR`` (``<host>/<path>`` plus ``manifest.json``).
cache_dir() / cache_info() / prune_cache(max_bytes) / clear_cache() / parse_size(text)
    The cache folder and its maintenance, on request only.

Environment variables (all read at call time, never at import)
--------------------------------------------------------------
``ATLASCOPE_CACHE``
    Cache folder (default ``platformdirs.user_cache_dir("atlascope")``).
``ATLASCOPE_MIRROR``
    Folder or http(s) base URL of a mirror, tried before the original URL.
``ATLASCOPE_OFFLINE``
    ``1`` to use only the cache and the mirror.
``ATLASCOPE_TIMEOUT``
    ``"60"`` (read timeout, s) or ``"10,60"`` (connect, read).
``ATLASCOPE_DEADLINE``
    Total seconds one download may take, retries included (default 1800).
``ATLASCOPE_LOCK_TIMEOUT``
    Seconds to wait for another process downloading the same file (default 600).

Modules, each importing only those before it (and :mod:`atlascope.files`,
:mod:`atlascope.settings`), never this package: ``validate`` (content checks), ``http`` (one
attempt), ``mirror`` (where a URL lives in a mirror), ``cache`` (entry names, locks, pruning),
``fetching`` (``fetch``), ``zipfiles`` and ``mirror_build`` (building and verifying mirrors).

Importing this package opens no socket, reads no large file and creates no folder; ``requests``,
``filelock``, ``nibabel`` and ``tqdm`` are imported when first needed.
"""

from __future__ import annotations

from ..settings import parse_size
from .cache import cache_dir, cache_info, clear_cache, prune_cache
from .fetching import NotAtSourceError, fetch, fetch_bytes, fetch_json, fetch_text
from .mirror import mirror_relpath
from .mirror_build import build_mirror, verify_mirror
from .validate import guess_kind
from .zipfiles import zip_member, zip_member_path, zip_members

__all__ = [
    "fetch",
    "fetch_json",
    "fetch_text",
    "fetch_bytes",
    "NotAtSourceError",
    "zip_member",
    "zip_member_path",
    "zip_members",
    "build_mirror",
    "verify_mirror",
    "mirror_relpath",
    "guess_kind",
    "cache_dir",
    "cache_info",
    "prune_cache",
    "clear_cache",
    "parse_size",
]
