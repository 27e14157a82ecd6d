"""The disk cache: where it lives, its entry names, per-file locks, and LRU pruning.

Layout (all below :func:`cache_dir`)::

    files/<sha256(url)[:16]>-<sanitised basename>    downloaded files, one per URL
    files/<name>.lock                                  lock file of that entry (kept; 0 bytes)
    files/.part-<name>.<random>                        temporary download, never left behind
    extracted/<archive entry name>/<member path>       zip members extracted by ``zip_member_path``

Other atlascope rooms keep their own sub-folders below :func:`cache_dir` (:data:`ROOMS`: a sparse
index, derived maps, feature averages). :func:`cache_info`, :func:`prune_cache` and
:func:`clear_cache` cover exactly these sub-folders, and only in a folder that carries the
``CACHEDIR.TAG`` atlascope writes (:func:`is_atlascope_cache`): a mistaken ``ATLASCOPE_CACHE``
(the home folder, a project folder) is refused, never emptied. The tag is written only into a new
or empty folder, never into a foreign one.

Files are created with mode ``0666`` minus the umask (as ``open`` does), so a group may share one
cache (``umask 002`` and a group-owned folder).

A file enters the cache only through :func:`atlascope.files.commit` (or
:func:`atlascope.files.atomic_write`): it is written to a temporary file in the same folder,
validated, flushed to disk (``fsync``) and renamed over the final name with :func:`os.replace`, so
that a reader sees either no file or the whole file. Those file-safety helpers live in
:mod:`atlascope.files` and are re-exported here for existing callers; ``parse_size`` and
``env_seconds`` live in :mod:`atlascope.settings`. The last access time
of an entry is recorded by touching its modification time on every cache hit (:func:`touch`),
because access times are often disabled on the file system.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..commons import logger
from ..errors import CacheError
from ..files import (
    LOCK_SUFFIX,
    STALE_TEMP,
    TEMP_PREFIX,
    atomic_write,
    commit,
    copy_atomic,
    discard,
    fit_name,
    is_locked,
    is_stale_temp,
    new_temp,
    os_problem,
    remove_orphan_temps,
    remove_stale_temps,
    short_digest,
    temp_target,
)
from ..settings import env_seconds, parse_size

__all__ = [
    "cache_dir",
    "entry_path",
    "file_lock",
    "new_temp",
    "commit",
    "discard",
    "touch",
    "cache_info",
    "prune_cache",
    "clear_cache",
    "parse_size",
    # file-safety helpers of atlascope.files and settings of atlascope.settings, kept importable here
    "TEMP_PREFIX",
    "LOCK_SUFFIX",
    "STALE_TEMP",
    "atomic_write",
    "copy_atomic",
    "fit_name",
    "os_problem",
    "remove_orphan_temps",
    "remove_stale_temps",
    "env_seconds",
]

#: Default seconds to wait for another process holding a file's lock (``ATLASCOPE_LOCK_TIMEOUT``).
LOCK_TIMEOUT = 600.0
#: Longest sanitised file name kept from a URL (characters).
MAX_NAME = 100
#: Sub-folders of the cache that atlascope writes; prune/clear/info look only inside these.
ROOMS = ("files", "extracted", "derived", "features", "sparse-index")
#: The line of ``CACHEDIR.TAG`` that marks a folder as created by atlascope.
_OWNER_LINE = "# This file is a cache directory tag created by atlascope."

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by atlascope.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def cache_dir() -> Path:
    """The atlascope cache folder, created on demand.

    ``$ATLASCOPE_CACHE`` when set (read at every call, so tests and applications may change it at
    run time), else ``platformdirs.user_cache_dir("atlascope")``. A ``CACHEDIR.TAG`` file is written
    into a new cache folder so that backup tools skip it.

    Returns
    -------
    pathlib.Path
        Absolute path of the folder, which exists on return.

    Raises
    ------
    CacheError
        The folder cannot be created (permissions, a file in the way, read-only disk).
    """
    env = os.environ.get("ATLASCOPE_CACHE", "").strip()
    if env:
        folder = Path(env).expanduser()
    else:
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("atlascope"))
    folder = folder.absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with os.scandir(folder) as it:
            empty = next(it, None) is None
    except OSError as exc:
        raise CacheError(f"Cannot use the cache folder {folder}: {os_problem(exc)}") from exc
    tag = folder / "CACHEDIR.TAG"
    if empty:  # never tag a foreign, non-empty folder (e.g. ATLASCOPE_CACHE=$HOME)
        with contextlib.suppress(OSError):  # a read-only cache still serves its files
            tag.write_text(_CACHEDIR_TAG, encoding="ascii")
    elif not is_atlascope_cache(folder):
        _warn_foreign(folder)
    return folder


@functools.cache
def _warn_foreign(folder: Path) -> None:
    """Warn once per process and folder that a foreign folder serves as the cache."""
    logger.warning(
        "The cache folder %s holds other files and no atlascope CACHEDIR.TAG; atlascope uses it but "
        "`cache prune`/`clear_cache` will refuse it. Point ATLASCOPE_CACHE at a new or empty folder.",
        folder,
    )


def is_atlascope_cache(folder: Path) -> bool:
    """Whether ``folder`` holds the ``CACHEDIR.TAG`` that atlascope writes (its own signature line)."""
    try:
        text = (Path(folder) / "CACHEDIR.TAG").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return text.startswith("Signature: 8a477f597d28d172789f06886806bc55") and _OWNER_LINE in text.splitlines()


def _owned_root(action: str) -> Path:
    """The cache folder if atlascope made it, else a :class:`CacheError` (nothing is deleted)."""
    root = cache_dir()
    if root == Path.home() or root.parent == root or not is_atlascope_cache(root):
        raise CacheError(
            f"Refusing to {action} {root}: it is not an atlascope cache (it has no CACHEDIR.TAG written by "
            "atlascope, or it is the home folder or a file system root), so its files may not be atlascope's. "
            "Set ATLASCOPE_CACHE to a folder used only by atlascope (a new or empty folder becomes one)."
        )
    return root


def _subdir(name: str) -> Path:
    folder = cache_dir() / name
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise CacheError(f"Cannot create {folder}: {os_problem(exc)}") from exc
    return folder


def sanitise_name(name: str, fallback: str = "index") -> str:
    """A file-system-safe version of ``name``: ``[A-Za-z0-9._-]`` only, at most :data:`MAX_NAME` long.

    Other characters become ``_``; leading dots are dropped (no hidden files); over-long names keep
    their end, where the suffix (``.nii.gz``) is.

    Parameters
    ----------
    name : str
        A URL's last path segment, already percent-decoded.
    fallback : str
        Name used when nothing is left.
    """
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    if len(clean) > MAX_NAME:
        clean = clean[-MAX_NAME:].lstrip(".")
    return clean or fallback


def url_key(url: str) -> str:
    """The short digest (:func:`atlascope.files.short_digest`, 16 hex digits of SHA-256) prefixing a URL's cache entry."""
    return short_digest(url)


def entry_path(url: str) -> Path:
    """Where the cached copy of ``url`` lives: ``files/<sha256(url)[:16]>-<sanitised basename>``.

    The basename is the last segment of the URL's path (percent-decoded, query ignored), so the
    entry keeps the file's suffix (``.nii.gz``) while the hash of the whole URL (query included)
    keeps entries apart. The ``files`` folder is created; the entry itself may not exist.
    """
    base = unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
    return _subdir("files") / f"{url_key(url)}-{sanitise_name(base)}"


def lock_timeout() -> float:
    """Seconds to wait for another process's lock: ``$ATLASCOPE_LOCK_TIMEOUT`` or :data:`LOCK_TIMEOUT`."""
    return env_seconds("ATLASCOPE_LOCK_TIMEOUT", LOCK_TIMEOUT)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold the inter-process lock of a cache entry (``<path>.lock``) for the ``with`` block.

    Several processes sharing one cache thus download or extract each file once: the second one
    waits here and then finds the file. Lock files are left in place (0 bytes) because removing them
    races with processes about to lock them.

    Raises
    ------
    CacheError
        The lock was not obtained within :func:`lock_timeout` seconds, or cannot be created.
    """
    from filelock import FileLock, Timeout

    lock_path = f"{path}{LOCK_SUFFIX}"
    lock = FileLock(lock_path, timeout=lock_timeout())
    try:
        try:
            lock.acquire(timeout=0.05)
        except Timeout:
            logger.info("Waiting for another process that is writing %s", path.name)
            lock.acquire()
    except Timeout:
        raise CacheError(
            f"Another process held the lock {lock_path} for more than {lock_timeout():.0f} s. "
            "If no atlascope process is running, delete that lock file; or raise ATLASCOPE_LOCK_TIMEOUT."
        ) from None
    except OSError as exc:
        raise CacheError(f"Cannot create the lock file {lock_path}: {os_problem(exc)}") from exc
    try:
        yield
    finally:
        lock.release()


def touch(path: Path) -> None:
    """Record an access to a cache entry by setting its modification time to now (LRU order)."""
    try:
        os.utime(path)
    except OSError:  # read-only cache: the LRU order just goes stale
        pass


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    """``(folder, file name)`` of every file in atlascope's sub-folders (:data:`ROOMS`) of ``root``.

    Symbolic links are not followed (a link is listed as a file and never leads outside).
    """
    for room in ROOMS:
        top = root / room
        if top.is_symlink() or not top.is_dir():
            continue
        for dirpath, _dirnames, filenames in os.walk(top):
            for name in filenames:
                yield Path(dirpath), name


def _entries(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Regular files in atlascope's sub-folders of ``root`` except lock and temporary files."""
    for folder, name in _walk(root):
        if name.endswith(LOCK_SUFFIX) or name.startswith(TEMP_PREFIX):
            continue
        path = folder / name
        try:
            st = path.lstat()
        except OSError:
            continue
        yield path, st


def _temps(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Temporary (``.part-``) files in atlascope's sub-folders of ``root``."""
    for folder, name in _walk(root):
        if name.startswith(TEMP_PREFIX):
            path = folder / name
            try:
                yield path, path.lstat()
            except OSError:
                continue


def cache_info() -> dict:
    """Summary of the cache folder.

    Returns
    -------
    dict
        ``folder`` (pathlib.Path), ``files`` (int, number of cached files), ``bytes`` (int, their
        total size), ``temp_files`` and ``temp_bytes`` (int, temporary ``.part-`` files of downloads
        or writes in progress or killed, and their size), ``stale_temp_files`` (int, those untouched
        for :data:`STALE_TEMP` s, which :func:`prune_cache` removes), ``oldest_access`` and
        ``newest_access`` (timezone-aware :class:`datetime.datetime` of the least / most recently
        used file, ``None`` when the cache is empty). Lock files are not counted. Only atlascope's
        sub-folders (:data:`ROOMS`) are looked at.
    """
    root = cache_dir()
    count = total = 0
    oldest = newest = None
    for _path, st in _entries(root):
        count += 1
        total += st.st_size
        oldest = st.st_mtime if oldest is None else min(oldest, st.st_mtime)
        newest = st.st_mtime if newest is None else max(newest, st.st_mtime)
    now = time.time()
    temps = list(_temps(root))
    stale = sum(1 for p, _st in temps if is_stale_temp(p, now))

    def stamp(t: float | None) -> datetime | None:
        return None if t is None else datetime.fromtimestamp(t, tz=timezone.utc)

    return {
        "folder": root,
        "files": count,
        "bytes": total,
        "temp_files": len(temps),
        "temp_bytes": sum(st.st_size for _p, st in temps),
        "stale_temp_files": stale,
        "oldest_access": stamp(oldest),
        "newest_access": stamp(newest),
    }


def _remove_empty_dirs(root: Path) -> None:
    for room in ROOMS:
        top = root / room
        if top.is_symlink() or not top.is_dir():
            continue
        for dirpath, _dirnames, _filenames in sorted(os.walk(top), key=lambda t: -len(t[0])):
            if Path(dirpath) != top:
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)


def _remove_orphans(root: Path) -> int:
    """Remove stale temporary files below ``root``'s sub-folders; returns how many."""
    now = time.time()
    n = 0
    for path, _st in list(_temps(root)):
        if is_stale_temp(path, now):
            discard(path)
            n += 1
    return n


def prune_cache(max_bytes: int | str) -> list[Path]:
    """Remove least-recently-used cache files until the cache holds at most ``max_bytes``.

    Stale temporary files (orphans of killed downloads or writes) are removed as well. Files whose
    lock another process holds (a download or extraction in progress) are skipped. Only atlascope's
    sub-folders (:data:`ROOMS`) of a folder tagged by atlascope are touched. Only runs when called;
    atlascope never prunes on its own.

    Parameters
    ----------
    max_bytes : int or str
        Size limit in bytes, or a size string understood by :func:`parse_size` (``"2GB"``).

    Returns
    -------
    list of pathlib.Path
        The removed files, least recently used first.

    Raises
    ------
    CacheError
        The cache folder is not an atlascope cache (:func:`is_atlascope_cache`); nothing is removed.
    InvalidInputError
        ``max_bytes`` is not a size.
    """
    limit = parse_size(max_bytes)
    root = _owned_root("prune")
    orphans = _remove_orphans(root)
    entries = sorted(_entries(root), key=lambda e: e[1].st_mtime)
    total = sum(st.st_size for _p, st in entries)
    removed: list[Path] = []
    for path, st in entries:
        if total <= limit:
            break
        if is_locked(path):
            logger.info("Not pruning %s: another process is using it", path)
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("Could not remove %s from the cache: %s", path, exc)
            continue
        total -= st.st_size
        removed.append(path)
    _remove_empty_dirs(root)
    logger.info(
        "Pruned %d files and %d orphaned temporary files from %s; %d bytes remain", len(removed), orphans, root, total
    )
    return removed


def clear_cache() -> list[Path]:
    """Remove every cached file (every file in atlascope's sub-folders whose lock is not held).

    Returns
    -------
    list of pathlib.Path
        The removed files.

    Raises
    ------
    CacheError
        The cache folder is not an atlascope cache (no ``CACHEDIR.TAG`` written by atlascope), or
        is the home folder or a file system root (a mistaken ``ATLASCOPE_CACHE``).
    """
    root = _owned_root("clear")
    removed: list[Path] = []
    for path, _st in list(_entries(root)):
        if is_locked(path):
            logger.info("Not removing %s: another process is using it", path)
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    for folder, name in list(_walk(root)):
        p = folder / name
        if name.endswith(LOCK_SUFFIX):
            target = p.with_name(name[: -len(LOCK_SUFFIX)])
        elif name.startswith(TEMP_PREFIX):
            target = temp_target(p)
        else:
            continue
        if not target.exists() and not is_locked(target):
            discard(p)
    _remove_empty_dirs(root)
    logger.info("Removed %d files from %s", len(removed), root)
    return removed
