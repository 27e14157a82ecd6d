"""File safety: whole-or-nothing writes, names that cannot leave their folder, short digests.

Bottom-level module: it imports only the standard library and :mod:`atlascope.errors` (``filelock``
only inside :func:`is_locked`), so that every other atlascope module may use it.

Whole-or-nothing writes
    :func:`atomic_write` yields a temporary file beside the target (``.part-<name>.<random>``,
    :func:`new_temp`); :func:`commit` flushes it to disk and renames it over the target with
    :func:`os.replace`, so that a reader sees either no file or the whole file. Temporary files of a
    killed process are removed once they are :data:`STALE_TEMP` seconds old and nobody holds the
    target's lock (``<target>.lock``).
Names that cannot leave their folder
    :func:`safe_relpath` is the one check of a relative name read from an archive, a manifest or a
    URL path; :func:`contained` joins such a name to a folder and refuses results that leave it,
    also through symbolic links.
Short digests
    :func:`short_digest` is the one recipe for cache keys and shortened names: the first
    :data:`DIGEST_LENGTH` hex digits of SHA-256.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from .errors import CacheError, InvalidInputError

logger = logging.getLogger("atlascope")

__all__ = [
    "TEMP_PREFIX",
    "LOCK_SUFFIX",
    "STALE_TEMP",
    "MAX_SEGMENT",
    "DIGEST_LENGTH",
    "short_digest",
    "fit_name",
    "safe_relpath",
    "is_safe_relpath",
    "contained",
    "os_problem",
    "new_temp",
    "commit",
    "discard",
    "atomic_write",
    "copy_atomic",
    "is_locked",
    "temp_target",
    "is_stale_temp",
    "remove_stale_temps",
    "remove_orphan_temps",
]

#: Prefix of temporary files (never counted, never served).
TEMP_PREFIX = ".part-"
#: Suffix of lock files.
LOCK_SUFFIX = ".lock"
#: Temporary files untouched for this many seconds are orphans of a killed process.
STALE_TEMP = 900.0
#: Longest file name segment (bytes, UTF-8) written to disk; longer ones are shortened by :func:`fit_name`.
MAX_SEGMENT = 200
#: Hex digits of every short digest (64 bits): a cache of a million entries has a collision chance
#: below 1e-7, and the names stay short. Download cache entries and mirror names have always used it.
DIGEST_LENGTH = 16


def short_digest(*parts: str | bytes | bytearray | memoryview) -> str:
    """The first :data:`DIGEST_LENGTH` hex digits of the SHA-256 of ``parts`` fed in order.

    The one recipe for cache keys, content identities and shortened names in atlascope.

    Parameters
    ----------
    *parts : str or bytes-like
        Text (encoded as UTF-8) or bytes (any contiguous buffer, e.g. a numpy array's bytes),
        hashed one after the other without separator.

    Returns
    -------
    str
        ``DIGEST_LENGTH`` lower-case hex digits.
    """
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
    return h.hexdigest()[:DIGEST_LENGTH]


def fit_name(segment: str, limit: int = MAX_SEGMENT) -> str:
    """``segment`` itself if its UTF-8 form is at most ``limit`` bytes, else a readable prefix + digest.

    File systems refuse names over 255 bytes (``OSError`` errno 36), and URL query strings (Allen
    API queries) easily exceed that. The shortened name is ``<prefix>~<short_digest(segment)>``,
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
    digest = short_digest(raw)
    prefix = raw[: limit - len(digest) - 1].decode("utf-8", errors="ignore")
    return f"{prefix}~{digest}"


def safe_relpath(name: str, what: str = "name") -> PurePosixPath:
    """``name`` as a relative POSIX path, refusing every name that could leave a folder.

    The one contract for names read from zip archives, mirror manifests and URL paths: a name is
    refused when it is empty, starts with ``/`` or a drive letter (``C:``), holds a backslash or a
    NUL character anywhere, or has a ``..`` segment. Empty and ``.`` segments are harmless
    (``PurePosixPath`` drops them).

    Parameters
    ----------
    name : str
        The relative name, ``/``-separated.
    what : str
        What the name is, for the message (``"zip member name"``).

    Returns
    -------
    pathlib.PurePosixPath

    Raises
    ------
    InvalidInputError
        The name could leave its folder; the message starts with ``Refusing``.
    """
    text = str(name)
    path = PurePosixPath(text)
    if not text:
        problem = "it is empty"
    elif text.startswith("/"):
        problem = "it is absolute"
    elif len(text) > 1 and text[1] == ":" and text[0].isascii() and text[0].isalpha():
        problem = "it starts with a drive letter"
    elif "\\" in text:
        problem = "it holds a backslash"
    elif "\x00" in text:
        problem = "it holds a NUL character"
    elif ".." in path.parts:
        problem = "it has a '..' segment"
    else:
        return path
    raise InvalidInputError(f"Refusing the {what} {text[:200]!r}: {problem}, so it could leave its folder.")


def is_safe_relpath(name: str) -> bool:
    """Whether :func:`safe_relpath` accepts ``name`` (for filters over many names)."""
    try:
        safe_relpath(name)
    except InvalidInputError:
        return False
    return True


def contained(root: str | os.PathLike, rel: str | PurePosixPath, what: str = "path") -> Path:
    """``root/rel``, refusing results that leave ``root`` after normalisation or through symbolic links.

    Parameters
    ----------
    root : path-like
        The folder (it need not exist).
    rel : str or pathlib.PurePosixPath
        A relative, ``/``-separated path (checked with :func:`safe_relpath` by the caller when it
        comes from outside).
    what : str
        What ``root`` is, for the message (``"mirror folder"``).

    Returns
    -------
    pathlib.Path
        The normalised absolute path (symbolic links not resolved).

    Raises
    ------
    InvalidInputError
        The path is ``root`` itself, leaves ``root``, or an existing part of it is a symbolic link
        leading outside ``root`` (the message says ``symbolic link``).
    """
    rel = PurePosixPath(rel)
    root_n = os.path.normpath(os.path.abspath(root))
    full = os.path.normpath(os.path.join(root_n, *rel.parts))
    if os.path.commonpath([root_n, full]) != root_n or full == root_n:
        raise InvalidInputError(f"Refusing the path {rel}: it leaves the {what} {root}.")
    real_root = os.path.realpath(root_n)
    real = os.path.realpath(full)
    if os.path.commonpath([real_root, real]) != real_root or real == real_root:
        raise InvalidInputError(
            f"Refusing the path {full}: a symbolic link in it leads outside the {what} {root} "
            f"(to {real}). Replace the link by the file or folder itself."
        )
    return Path(full)


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


def is_locked(path: Path) -> bool:
    """Whether another process holds ``path``'s lock (``<path>.lock``) right now; no lock file means no."""
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


def temp_target(temp: Path) -> Path:
    """The file a temporary file ``.part-<name>.<random>`` was going to become: ``<name>``."""
    return temp.with_name(temp.name[len(TEMP_PREFIX) :].rsplit(".", 1)[0])


def is_stale_temp(path: Path, now: float) -> bool:
    """Whether a temporary file is an orphan: untouched for :data:`STALE_TEMP` s, its target unlocked."""
    try:
        age = now - path.stat().st_mtime
    except OSError:
        return False
    return age > STALE_TEMP and not is_locked(temp_target(path))


def remove_stale_temps(target: Path) -> None:
    """Delete every temporary file of ``target``; call only while holding ``target``'s lock."""
    for stale in target.parent.glob(f"{TEMP_PREFIX}{target.name}.*"):
        logger.debug("Removing stale temporary file %s", stale)
        discard(stale)


def remove_orphan_temps(target: Path) -> None:
    """Delete the stale temporary files of ``target`` (see :func:`is_stale_temp`); safe without the lock."""
    now = time.time()
    for stale in Path(target).parent.glob(f"{TEMP_PREFIX}{Path(target).name}.*"):
        if is_stale_temp(stale, now):
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
        umask (not ``0600`` as :func:`tempfile.mkstemp` would), so that the committed file can be
        shared by a group; the caller fills it, then :func:`commit` or :func:`discard`.

    Raises
    ------
    CacheError
        The folder cannot be written.
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

    Raises
    ------
    CacheError
        The file cannot be flushed or renamed.
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


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Write ``target`` whole or not at all: yield a temporary path to fill, then :func:`commit` it.

    If the ``with`` block raises, the temporary file is removed and ``target`` is left as it was.
    The folder is created if needed; stale temporary files of ``target`` left by a killed process
    are removed first.

    Parameters
    ----------
    target : path-like
        The final file.
    suffix : str
        Ending of the temporary name (see :func:`new_temp`).

    Raises
    ------
    CacheError
        The folder cannot be created or written.

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


def copy_atomic(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy ``source`` to ``target`` whole or not at all (through :func:`atomic_write`)."""
    with atomic_write(target) as temp:
        shutil.copyfile(source, temp)
    return Path(target)
