"""Mirrors: where a URL's file lives in a mirror, the mirror manifest, the offline switch.

Building and verifying a mirror (which downloads) is :mod:`atlascope.retrieval.mirror_build`.

A mirror is a folder (or an http(s) site serving such a folder) in which the file of
``https://HOST/PATH`` lives at ``HOST/PATH``::

    MIRROR/data-proxy.ebrains.eu/api/v1/public/buckets/x/y.nii.gz
    MIRROR/manifest.json        {url: {"path": "HOST/PATH", "size": bytes, "sha256": hex}}

Mapping of a URL to its path in the mirror (:func:`mirror_relpath`), deterministic:

* ``HOST`` is the lower-cased host name; a non-default port is appended as ``HOST_PORT``
  (``127.0.0.1_8000``; no ``:`` so that the folder works on Windows); user info is dropped.
* ``PATH`` is the URL path, percent-decoded and split on ``/``; empty and ``.`` segments are
  dropped; a path ending in ``/`` gets the file name ``index``.
* A query string is kept in the file name, percent-encoded with nothing safe: ``a/b.json?x=1&y=2``
  becomes ``a/b.json%3Fx%3D1%26y%3D2``. The fragment is dropped.
* A segment longer than 200 bytes (UTF-8; Allen API queries reach 690) is shortened to a readable
  prefix and a digest of the whole segment (:func:`atlascope.files.fit_name`), because file
  systems refuse names over 255 bytes; builder and reader both compute it here.
* Paths that :func:`atlascope.files.safe_relpath` refuses (a ``..`` segment, a ``\\`` or NUL, a
  drive letter) and paths that leave the mirror root after normalisation are refused with
  :class:`~atlascope.errors.InvalidInputError`. So are paths whose existing parts are symbolic
  links leading outside the mirror folder, for reading and writing (:func:`atlascope.files.contained`).

``manifest.json`` is atlascope's only when it maps http(s) URLs to ``{"path", "size", "sha256"}``
entries; a folder holding any other ``manifest.json`` is refused as a mirror target (never rewritten).

In an http(s) mirror every segment is percent-encoded again, so ``MIRROR_URL/HOST/a/b.json%253Fx...``
is asked for, which a plain static file server maps back to the same file name.

Environment (read at every call):

``ATLASCOPE_MIRROR``
    Folder or http(s) base URL of a mirror, looked up before the original URL.
``ATLASCOPE_OFFLINE``
    ``1``/``true``/``yes``/``on``: use only the cache and the mirror; a miss raises
    :class:`~atlascope.errors.OfflineError`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from urllib.parse import quote, unquote, urlsplit

from ..errors import InvalidInputError
from ..files import contained, fit_name, safe_relpath
from ..settings import env_flag

__all__ = [
    "offline",
    "mirror_setting",
    "mirror_relpath",
    "mirror_file",
    "mirror_url",
    "mirror_path",
    "read_manifest",
    "MANIFEST",
]

#: Name of the manifest file at a mirror's root.
MANIFEST = "manifest.json"

#: Ports that are not written into a host folder name.
_DEFAULT_PORTS = MappingProxyType({"http": 80, "https": 443})


def offline() -> bool:
    """Whether ``$ATLASCOPE_OFFLINE`` forbids the network (``1``, ``true``, ``yes``, ``on``)."""
    return env_flag("ATLASCOPE_OFFLINE")


def mirror_setting() -> Path | str | None:
    """``$ATLASCOPE_MIRROR`` as a folder path, an http(s) base URL (no trailing ``/``), or ``None``.

    ``file://`` URLs are accepted as folders.
    """
    env = os.environ.get("ATLASCOPE_MIRROR", "").strip()
    if not env:
        return None
    parts = urlsplit(env)
    if parts.scheme in ("http", "https"):
        return env.rstrip("/")
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return Path(env).expanduser()


def _host_folder(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"{url} is not an http(s) URL with a host, so it has no place in a mirror.")
    host = parts.hostname.lower()
    try:
        port = parts.port
    except ValueError:
        raise InvalidInputError(f"{url} has an invalid port; check the URL.") from None
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}_{port}"
    return host


def mirror_relpath(url: str) -> PurePosixPath:
    """Relative path of ``url``'s file in a mirror (see the module documentation for the rules).

    Raises
    ------
    InvalidInputError
        Not an http(s) URL, or a path that tries to leave the mirror (``..``, ``\\``, NUL).
    """
    host = _host_folder(url)
    parts = urlsplit(url)
    path = unquote(parts.path)
    segments = [s for s in path.split("/") if s not in ("", ".")]
    try:
        safe_relpath("/".join([host, *segments]), "mirror path")
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc} It is the path of {url}; check where the URL came from.") from None
    if not segments or path.endswith("/"):
        segments.append("index")
    if parts.query:
        segments[-1] += quote("?" + parts.query, safe="")
    return PurePosixPath(host, *(fit_name(seg) for seg in segments))


def mirror_path(root: Path, rel: str | PurePosixPath) -> Path:
    """``root/rel`` for a path read from a mirror manifest (or computed by :func:`mirror_relpath`).

    Raises
    ------
    InvalidInputError
        ``rel`` is refused by :func:`atlascope.files.safe_relpath`, leaves ``root``, or passes through a
        symbolic link leading outside ``root``.
    """
    return contained(root, safe_relpath(str(rel), "mirror path"), "mirror folder")


def mirror_file(url: str, root: Path) -> Path:
    """Path of ``url``'s file in the mirror folder ``root`` (which may not exist)."""
    return mirror_path(Path(root), mirror_relpath(url))


def mirror_url(url: str, base: str) -> str:
    """URL of ``url``'s file in the http(s) mirror at ``base``; segments are percent-encoded."""
    rel = mirror_relpath(url)
    return base.rstrip("/") + "/" + "/".join(quote(s, safe="") for s in rel.parts)


def read_manifest(root: Path) -> dict:
    """The manifest of the mirror folder ``root`` (``{}`` if it has none), refusing a foreign ``manifest.json``.

    Raises
    ------
    InvalidInputError
        The file cannot be read or is not an atlascope mirror manifest.
    """
    path = root / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"The mirror manifest {path} cannot be read ({exc}); delete it and run build_mirror again."
        ) from exc
    if not isinstance(data, dict) or not all(_is_entry(url, entry) for url, entry in data.items()):
        raise InvalidInputError(
            f"{path} is not an atlascope mirror manifest (it must map http(s) URLs to path/size/sha256 "
            "entries), so the folder is not an atlascope mirror and is left untouched. Choose another "
            "(new or empty) folder for the mirror."
        )
    return data


def _is_entry(url: object, entry: object) -> bool:
    """Whether ``url: entry`` is a manifest entry as :func:`build_mirror` writes it."""
    return (
        isinstance(url, str)
        and url.startswith(("http://", "https://"))
        and isinstance(entry, dict)
        and {"path", "size", "sha256"} <= entry.keys()
    )
