"""The disk cache: where it lives, how files enter it atomically, per-file locks, and LRU pruning.

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

A file enters the cache only through :func:`commit`: it is written to a temporary file in the same
folder, validated, flushed to disk (``fsync``) and renamed over the final name with
:func:`os.replace`, so that a reader sees either no file or the whole file. The last access time
of an entry is recorded by touching its modification time on every cache hit (:func:`touch`),
because access times are often disabled on the file system.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..commons import logger
from ..errors import CacheError, InvalidInputError

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
]

#: Prefix of temporary files (never counted, never served).
TEMP_PREFIX = ".part-"
#: Suffix of lock files.
LOCK_SUFFIX = ".lock"
#: Default seconds to wait for another process holding a file's lock (``ATLASCOPE_LOCK_TIMEOUT``).
LOCK_TIMEOUT = 600.0
#: Longest sanitised file name kept from a URL (characters).
MAX_NAME = 100
#: Longest file name segment (bytes, UTF-8) written to disk; longer ones are shortened by :func:`fit_name`.
MAX_SEGMENT = 200
#: Temporary files untouched for this many seconds are orphans of a killed process (removed by prune).
STALE_TEMP = 900.0
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
    elif folder not in _WARNED and not is_atlascope_cache(folder):
        _WARNED.add(folder)
        logger.warning(
            "The cache folder %s holds other files and no atlascope CACHEDIR.TAG; atlascope uses it but "
            "`cache prune`/`clear_cache` will refuse it. Point ATLASCOPE_CACHE at a new or empty folder.",
            folder,
        )
    return folder


#: Foreign cache folders already warned about (once per process).
_WARNED: set[Path] = set()


def os_problem(exc: OSError) -> str:
    """What an OSError on a cache path means and how to fix it (permission problems named as such)."""
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"permission denied{where}. If the cache is shared by a group, give the group write access "
            "(chmod -R g+rwX on the folder, umask 002 for its users); else set ATLASCOPE_CACHE to a "
            "folder you may write."
        )
    if exc.errno == errno.ENOSPC:
        return f"the disk is full{where}. Free disk space (`atlascope cache prune`) or set ATLASCOPE_CACHE elsewhere."
    if exc.errno == errno.EROFS:
        return f"the file system is read-only{where}. Set ATLASCOPE_CACHE to a writable folder."
    return f"{exc.strerror or exc}{where}. Free disk space (`atlascope cache prune`) or set ATLASCOPE_CACHE to a writable folder."


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


def fit_name(segment: str, limit: int = MAX_SEGMENT) -> str:
    """``segment`` itself if its UTF-8 form is at most ``limit`` bytes, else a readable prefix + hash.

    File systems refuse names over 255 bytes (``OSError`` errno 36), and URL query strings (Allen
    API queries) easily exceed that. The shortened name is ``<prefix>~<sha256(segment)[:16]>``,
    deterministic, so that every writer and reader of a folder (mirror builder, mirror reader,
    zip extraction) computes the same name through this one function.

    Parameters
    ----------
    segment : str
        One path segment (no ``/``).
    limit : int
        Longest result in bytes (UTF-8).
    """
    raw = segment.encode("utf-8")
    if len(raw) <= limit:
        return segment
    digest = hashlib.sha256(raw).hexdigest()[:16]
    prefix = raw[: limit - len(digest) - 1].decode("utf-8", errors="ignore")
    return f"{prefix}~{digest}"


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
    """The 16 hex digits of ``sha256(url)`` that prefix a URL's cache entry."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


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


def env_seconds(name: str, default: float) -> float:
    """A positive, finite number of seconds from the environment variable ``name``, else ``default``.

    Raises
    ------
    InvalidInputError
        The variable is set but is not a positive finite number.
    """
    env = os.environ.get(name, "").strip()
    if not env:
        return default
    try:
        value = float(env)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(
            f"{name}={env!r} is not a positive number of seconds; set it to e.g. 600 or unset it."
        )
    return value


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


def _is_locked(path: Path) -> bool:
    """Whether another process holds ``path``'s lock right now (no lock file means no)."""
    lock_path = Path(f"{path}{LOCK_SUFFIX}")
    if not lock_path.exists():
        return False
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except (Timeout, OSError):
        return True
    lock.release()
    return False


def remove_stale_temps(target: Path) -> None:
    """Delete temporary files of ``target`` left by a killed process; call only while holding its lock."""
    for stale in target.parent.glob(f"{TEMP_PREFIX}{target.name}.*"):
        logger.debug("Removing stale temporary file %s", stale)
        discard(stale)


def _is_stale_temp(path: Path, now: float) -> bool:
    """Whether a temporary file is an orphan: untouched for :data:`STALE_TEMP` s, its target unlocked."""
    try:
        age = now - path.stat().st_mtime
    except OSError:
        return False
    target = path.with_name(path.name[len(TEMP_PREFIX) :].rsplit(".", 1)[0])
    return age > STALE_TEMP and not _is_locked(target)


def remove_orphan_temps(target: Path) -> None:
    """Delete stale temporary files of ``target`` (see :func:`_is_stale_temp`); safe without the lock."""
    now = time.time()
    for stale in Path(target).parent.glob(f"{TEMP_PREFIX}{Path(target).name}.*"):
        if _is_stale_temp(stale, now):
            logger.debug("Removing orphaned temporary file %s", stale)
            discard(stale)


def new_temp(target: Path, suffix: str = "") -> Path:
    """Create an empty temporary file beside ``target`` (same folder, so :func:`os.replace` is atomic).

    Parameters
    ----------
    target : pathlib.Path
        The final file.
    suffix : str
        Ending of the temporary name, for writers that choose the format by it (``".nii.gz"``).

    Returns
    -------
    pathlib.Path
        ``<folder>/.part-<target name>.<random><suffix>``, created with mode ``0666`` minus the
        umask (not ``0600`` as :func:`tempfile.mkstemp` would), so that the committed entry can be
        shared by a group; the caller fills it, then :func:`commit` or :func:`discard`.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = target.parent / f"{TEMP_PREFIX}{target.name}.{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise CacheError(f"Cannot write into {target.parent}: {os_problem(exc)}") from exc
        os.close(fd)
        return path
    raise CacheError(f"Cannot create a temporary file in {target.parent}; remove its .part- files.")


@contextlib.contextmanager
def atomic_write(target: Path, suffix: str = "") -> Iterator[Path]:
    """Write ``target`` whole or not at all: yield a temporary path to fill, then :func:`commit` it.

    If the ``with`` block raises, the temporary file is removed and ``target`` is left as it was.
    The folder is created if needed.

    Examples
    --------
    >>> with atomic_write(path) as tmp:            # doctest: +SKIP
    ...     tmp.write_bytes(data)
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"Cannot create {target.parent}: {os_problem(exc)}") from exc
    remove_orphan_temps(target)
    temp = new_temp(target, suffix)
    try:
        yield temp
    except BaseException:
        discard(temp)
        raise
    commit(temp, target)


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk so that a rename survives a crash (POSIX; no-op elsewhere)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(temp: Path, target: Path) -> Path:
    """Move a complete, validated temporary file to its final name atomically.

    The data is flushed to disk first (``fsync``), then :func:`os.replace` renames it, then the folder
    entry is flushed. On failure the temporary file is removed.

    Returns
    -------
    pathlib.Path
        ``target``.
    """
    try:
        with open(temp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except OSError as exc:
        discard(temp)
        raise CacheError(f"Cannot write {target}: {os_problem(exc)}") from exc
    _fsync_dir(target.parent)
    return target


def discard(path: Path) -> None:
    """Remove a (temporary) file if it exists; never raises."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:  # pragma: no cover - e.g. Windows file still open
        logger.warning("Could not remove %s: %s", path, exc)


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
    stale = sum(1 for p, _st in temps if _is_stale_temp(p, now))

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
        if _is_stale_temp(path, now):
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
        if _is_locked(path):
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
        if _is_locked(path):
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
            target = p.with_name(name[len(TEMP_PREFIX) :].rsplit(".", 1)[0])
        else:
            continue
        if not target.exists() and not _is_locked(target):
            discard(p)
    _remove_empty_dirs(root)
    logger.info("Removed %d files from %s", len(removed), root)
    return removed


_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
    "t": 2**40,
    "p": 2**50,
}


def parse_size(text: int | str) -> int:
    """Number of bytes in a size such as ``"2GB"``, ``"1.5 GiB"``, ``"500MB"`` or ``"1024"``.

    Units (case-insensitive): ``B``; decimal SI ``KB MB GB TB PB`` (powers of 1000); binary IEC
    ``KiB MiB GiB TiB PiB`` (powers of 1024); the bare letters ``K M G T P`` are binary, as in ``du``
    and ``docker``. A number without unit is bytes.

    Parameters
    ----------
    text : int or str
        The size; an ``int`` is returned unchanged (if not negative).

    Returns
    -------
    int
        Bytes (fractions rounded to the nearest byte).

    Raises
    ------
    InvalidInputError
        Not a size, an unknown unit, or a negative number.
    """
    if isinstance(text, bool):
        raise InvalidInputError(f"{text!r} is not a size; give bytes or a string like '2GB'.")
    if isinstance(text, int):
        if text > 2**63:
            raise InvalidInputError(f"{text!r} is too large a size; give at most 8 EiB (e.g. '2TB').")
        value, unit = float(text), ""
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
        if not m or m.group(2).lower() not in _UNITS:
            raise InvalidInputError(
                f"{text!r} is not a size; write a number with an optional unit, e.g. '500MB', '2GB', "
                "'1.5GiB' (units: B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB)."
            )
        value, unit = float(m.group(1)), m.group(2).lower()
    if value < 0:
        raise InvalidInputError(f"{text!r} is negative; a size must be at least 0 bytes.")
    value *= _UNITS[unit]
    if not math.isfinite(value) or value > 2**63:
        raise InvalidInputError(f"{text!r} is too large a size; give at most 8 EiB (e.g. '2TB').")
    return int(round(value))


def copy_atomic(source: Path, target: Path) -> Path:
    """Copy ``source`` to ``target`` through a temporary file and :func:`commit` (used by mirrors)."""
    with atomic_write(target) as temp:
        shutil.copyfile(source, temp)
    return target
