"""Mirrors: where a URL's file lives in a mirror, the offline switch, building and verifying mirrors.

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
  prefix and a hash of the whole segment (:func:`atlascope.retrieval.cache.fit_name`), because file
  systems refuse names over 255 bytes; builder and reader both compute it here.
* Segments equal to ``..``, holding ``\\`` or NUL, and paths that leave the mirror root after
  normalisation are refused with :class:`~atlascope.errors.InvalidInputError`. So are paths whose
  existing parts are symbolic links leading outside the mirror folder, for reading and writing.

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
import posixpath
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from ..commons import logger
from ..commons import progress as progress_bar
from ..errors import InvalidInputError, RetrievalError
from .cache import fit_name

__all__ = [
    "offline",
    "mirror_setting",
    "mirror_relpath",
    "mirror_file",
    "mirror_url",
    "build_mirror",
    "verify_mirror",
    "MANIFEST",
]

#: Name of the manifest file at a mirror's root.
MANIFEST = "manifest.json"

_DEFAULT_PORTS = {"http": 80, "https": 443}


def offline() -> bool:
    """Whether ``$ATLASCOPE_OFFLINE`` forbids the network (``1``, ``true``, ``yes``, ``on``)."""
    return os.environ.get("ATLASCOPE_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


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
    for s in segments:
        if s == ".." or "\\" in s or "\x00" in s:
            raise InvalidInputError(
                f"Refusing {url}: its path has a {s!r} segment that could leave the mirror folder. "
                "Check where the URL came from."
            )
    if not segments or path.endswith("/"):
        segments.append("index")
    if parts.query:
        segments[-1] += quote("?" + parts.query, safe="")
    segments = [fit_name(seg) for seg in segments]
    rel = PurePosixPath(host, *segments)
    normal = posixpath.normpath(str(rel))
    if normal.startswith("../") or normal == ".." or posixpath.isabs(normal):
        raise InvalidInputError(f"Refusing {url}: its path leaves the mirror folder after normalisation.")
    return rel


def _inside(root: Path, rel: PurePosixPath) -> Path:
    """``root/rel``, refusing results that leave ``root`` after normalisation or through symbolic links."""
    root_n = os.path.normpath(os.path.abspath(root))
    full = os.path.normpath(os.path.join(root_n, *rel.parts))
    if os.path.commonpath([root_n, full]) != root_n or full == root_n:
        raise InvalidInputError(f"Refusing the mirror path {rel}: it leaves the mirror folder {root}.")
    real_root = os.path.realpath(root_n)
    real = os.path.realpath(full)
    if os.path.commonpath([real_root, real]) != real_root or real == real_root:
        raise InvalidInputError(
            f"Refusing the mirror path {full}: a symbolic link in it leads outside the mirror folder {root} "
            f"(to {real}). Replace the link by the file or folder itself."
        )
    return Path(full)


def mirror_file(url: str, root: Path) -> Path:
    """Path of ``url``'s file in the mirror folder ``root`` (which may not exist)."""
    return _inside(Path(root), mirror_relpath(url))


def mirror_url(url: str, base: str) -> str:
    """URL of ``url``'s file in the http(s) mirror at ``base``; segments are percent-encoded."""
    rel = mirror_relpath(url)
    return base.rstrip("/") + "/" + "/".join(quote(s, safe="") for s in rel.parts)


def _read_manifest(root: Path) -> dict:
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


def _write_manifest(root: Path, manifest: dict) -> None:
    from .cache import commit, discard, new_temp

    target = root / MANIFEST
    temp = new_temp(target)
    try:
        temp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    except BaseException:
        discard(temp)
        raise
    commit(temp, target)


def build_mirror(urls: Iterable[str], out_dir: str | os.PathLike, *, progress: bool = True) -> Path:
    """Download every URL (through :func:`~atlascope.retrieval.fetch`) into a mirror folder.

    Each file is copied atomically to ``out_dir/<host>/<path>`` and recorded in
    ``out_dir/manifest.json`` as ``{url: {"path", "size", "sha256"}}``. Idempotent: a URL already in
    the manifest whose file is present with the recorded size is skipped, so an interrupted build
    resumes. The manifest is written even when some URLs fail.

    Parameters
    ----------
    urls : iterable of str
        http(s) URLs (duplicates are fetched once).
    out_dir : path-like
        Mirror folder, created if needed.
    progress : bool
        Show a progress bar over the URLs (when progress bars are enabled).

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    RetrievalError
        After trying all URLs, when some could not be fetched; the message lists them.
    InvalidInputError
        ``out_dir`` holds a ``manifest.json`` that atlascope did not write (nothing is written).
        URLs whose path would leave the folder (``..``, a symbolic link leading outside) are
        refused and listed among the failures.
    """
    from .cache import copy_atomic
    from .fetching import fetch
    from .validate import sha256_of

    root = Path(out_dir).expanduser().absolute()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"Cannot create the mirror folder {root}: {exc.strerror or exc}.") from exc
    manifest = _read_manifest(root)
    todo = list(dict.fromkeys(str(u) for u in urls))
    items = progress_bar(todo, desc="mirror", total=len(todo), unit="file") if progress else todo
    failures: list[tuple[str, str]] = []
    try:
        for url in items:
            try:
                dest = mirror_file(url, root)
                entry = manifest.get(url)
                if entry and dest.is_file() and dest.stat().st_size == entry.get("size"):
                    continue
                source = fetch(url)
                if not (dest.exists() and os.path.samefile(source, dest)):
                    copy_atomic(source, dest)
                manifest[url] = {
                    "path": dest.relative_to(root).as_posix(),
                    "size": dest.stat().st_size,
                    "sha256": sha256_of(dest),
                }
            except (RetrievalError, InvalidInputError, OSError) as exc:
                logger.warning("Mirror: could not get %s: %s", url, exc)
                failures.append((url, str(exc)))
    finally:
        _write_manifest(root, manifest)
    if failures:
        listed = "\n".join(f"  {u}: {why}" for u, why in failures[:10])
        more = f"\n  ... and {len(failures) - 10} more" if len(failures) > 10 else ""
        raise RetrievalError(
            f"{len(failures)} of {len(todo)} files could not be mirrored into {root}:\n{listed}{more}\n"
            "Run build_mirror again to retry them (files already mirrored are kept)."
        )
    logger.info("Mirror %s holds %d files", root, len(manifest))
    return root


def verify_mirror(out_dir: str | os.PathLike) -> dict[str, str]:
    """Re-check every file listed in a mirror's manifest against its recorded size and SHA-256.

    Parameters
    ----------
    out_dir : path-like
        A folder built by :func:`build_mirror`.

    Returns
    -------
    dict
        ``{url: problem}`` for every missing, resized or altered file; empty when all is well.

    Raises
    ------
    InvalidInputError
        The folder has no readable ``manifest.json``.
    """
    from .validate import sha256_of

    root = Path(out_dir).expanduser().absolute()
    if not (root / MANIFEST).is_file():
        raise InvalidInputError(
            f"{root} is not a mirror: it has no {MANIFEST}. Build one with build_mirror or `atlascope mirror`."
        )
    problems: dict[str, str] = {}
    for url, entry in _read_manifest(root).items():
        try:
            path = _inside(root, PurePosixPath(entry["path"]))
            if ".." in PurePosixPath(entry["path"]).parts:
                raise InvalidInputError(f"manifest path {entry['path']!r} has a '..' segment")
        except (InvalidInputError, KeyError, TypeError) as exc:
            problems[url] = f"invalid manifest entry ({exc})"
            continue
        if not path.is_file():
            problems[url] = f"missing file {path}"
        elif path.stat().st_size != entry.get("size"):
            problems[url] = f"{path} has {path.stat().st_size} bytes, manifest says {entry.get('size')}"
        elif sha256_of(path) != entry.get("sha256"):
            problems[url] = f"{path} has a different SHA-256 than the manifest records"
    for url, why in problems.items():
        logger.warning("Mirror %s: %s: %s", root, url, why)
    return problems
