"""Members of zip archives: the archive is fetched (and cached) once, members are read on demand.

:func:`zip_member` returns a member's bytes straight from the cached archive; :func:`zip_member_path`
extracts a member once into ``cache_dir()/extracted/<archive entry name>/<member>`` (atomically, under
a lock) for code that needs a file name. Member names that are absolute, carry a drive letter, hold a
backslash or contain ``..`` segments are refused before the archive is even opened; so are members nested more
than :data:`MAX_DEPTH` folders deep for extraction (a file system cannot hold them), and long
segments are shortened as in mirrors (:func:`atlascope.files.fit_name`). Member names are checked by
:func:`atlascope.files.safe_relpath`, the same rule as for mirror paths.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from ..errors import CacheError, IntegrityError, InvalidInputError, NotFoundError
from ..files import atomic_write, fit_name, os_problem, safe_relpath
from .cache import cache_dir, entry_path, file_lock, touch
from .fetching import fetch

__all__ = ["zip_member", "zip_member_path", "zip_members"]

#: How many available member names a NotFoundError lists.
LISTED_NAMES = 10
#: Deepest folder nesting of a member that :func:`zip_member_path` extracts.
MAX_DEPTH = 64


def _open(archive: Path, url: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntegrityError(
            f"{archive} (from {url}) is not a readable zip archive ({exc}). Delete it and fetch again."
        ) from exc


def _info(zf: zipfile.ZipFile, member: str, url: str) -> zipfile.ZipInfo:
    try:
        info = zf.getinfo(member)
    except KeyError:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        shown = ", ".join(repr(n) for n in names[:LISTED_NAMES])
        more = f" and {len(names) - LISTED_NAMES} more" if len(names) > LISTED_NAMES else ""
        raise NotFoundError(
            f"The zip archive {url} has no member {member!r}. It holds {len(names)} files: {shown}{more}. "
            "Use one of these names (zip_members lists them all)."
        ) from None
    if info.is_dir():
        raise NotFoundError(f"{member!r} in {url} is a folder, not a file; give a file's name.")
    return info


def _archive_key(url: str | os.PathLike) -> str:
    """Folder name for an archive's extracted members: its cache entry name.

    A local archive is keyed by its absolute path, size and modification time, so that members of
    an archive changed in place are extracted again.
    """
    text = str(url)
    if text.startswith(("http://", "https://")):
        return entry_path(text).name
    local = fetch(url)
    st = local.stat()
    return entry_path(f"file://{local.absolute()}?{st.st_size}-{st.st_mtime_ns}").name


def zip_members(url: str | os.PathLike) -> list[str]:
    """Names of the files (not folders) in the zip archive at ``url`` (fetched once, then cached)."""
    archive = fetch(url, kind="zip")
    with _open(archive, str(url)) as zf:
        return [n for n in zf.namelist() if not n.endswith("/")]


def zip_member(url: str | os.PathLike, member: str) -> bytes:
    """The bytes of one member of the zip archive at ``url``.

    Parameters
    ----------
    url : str or path-like
        URL or local path of the archive (see :func:`~atlascope.retrieval.fetch`).
    member : str
        The member's name inside the archive, e.g. ``"subject01/matrix.csv"``.

    Raises
    ------
    InvalidInputError
        The member name could leave a folder (:func:`atlascope.files.safe_relpath`: empty,
        absolute, a drive letter, a backslash, NUL or a ``..`` segment).
    NotFoundError
        No such member; the message lists some available names.
    """
    safe_relpath(member, "zip member name")
    archive = fetch(url, kind="zip")
    with _open(archive, str(url)) as zf:
        info = _info(zf, str(member), str(url))
        try:
            return zf.read(info)
        except (zipfile.BadZipFile, OSError) as exc:
            raise IntegrityError(f"The member {member!r} of {url} cannot be read ({exc}).") from exc


def zip_member_path(url: str | os.PathLike, member: str) -> Path:
    """Path of one member of the zip archive at ``url``, extracted once into the cache.

    The member is extracted to ``cache_dir()/extracted/<archive entry name>/<member>`` through a
    temporary file and an atomic rename, under a lock, so concurrent callers extract it once. Later
    calls return the extracted file (and touch it for the LRU order).

    Parameters
    ----------
    url : str or path-like
        URL or local path of the archive.
    member : str
        The member's name inside the archive.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InvalidInputError
        The member name could leave a folder (:func:`atlascope.files.safe_relpath`) or is nested
        over :data:`MAX_DEPTH` folders.
    NotFoundError
        No such member; the message lists some available names.
    """
    name = safe_relpath(member, "zip member name")
    if len(name.parts) > MAX_DEPTH:
        raise InvalidInputError(
            f"Refusing to extract the zip member {str(member)[:80]!r}...: it is nested {len(name.parts) - 1} "
            f"folders deep (at most {MAX_DEPTH} are extracted). Read it with zip_member(url, member) instead."
        )
    text = str(url)
    folder = cache_dir() / "extracted" / _archive_key(url)
    target = folder.joinpath(*(fit_name(p) for p in name.parts))
    if target.is_file():
        touch(target)
        return target
    archive = fetch(url, kind="zip")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"Cannot create {target.parent}: {os_problem(exc)}") from exc
    with file_lock(target):
        if target.is_file():
            touch(target)
            return target
        with _open(archive, text) as zf:
            info = _info(zf, str(member), text)
            try:
                with atomic_write(target) as temp, zf.open(info) as src, open(temp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
            except CacheError:
                raise
            except (zipfile.BadZipFile, OSError) as exc:
                raise IntegrityError(f"The member {member!r} of {url} cannot be extracted ({exc}).") from exc
        return target
