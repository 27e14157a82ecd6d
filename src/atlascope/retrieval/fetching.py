"""``fetch``: a validated local copy of any URL, through the cache, the mirror or the network.

Order of look-up for an http(s) URL:

1. the cache entry (:func:`atlascope.retrieval.cache.entry_path`) — touched to record the access;
2. a mirror *folder* (``ATLASCOPE_MIRROR``) — its file is returned in place, not copied (size and
   SHA-256 are checked when given; the content itself was validated when the mirror was built);
3. under the entry's lock (another process may have finished meanwhile, so the cache is checked
   again): an http(s) mirror (``ATLASCOPE_MIRROR``), then — unless ``ATLASCOPE_OFFLINE`` is set —
   the URL itself. The download goes to a temporary file, is validated
   (:mod:`~atlascope.retrieval.validate`) and only then renamed into the cache.

Retries: up to :data:`atlascope.retrieval.http.MAX_ATTEMPTS` attempts per source, with exponential
backoff honouring ``Retry-After``, on network errors, truncated bodies, HTTP 408/425/429/5xx; a host
that cannot be reached at the first attempt (DNS failure, connection refused) raises at once. A
validation failure (corrupt gzip, HTML instead of NIfTI, wrong hash...) is retried once, then raises
:class:`~atlascope.errors.IntegrityError`. HTTP 404 and other 4xx raise at once. All attempts at one
source share a total deadline (``ATLASCOPE_DEADLINE``, :func:`~atlascope.retrieval.http.deadline_seconds`).

A caller may add its own content ``check`` (e.g. a neuroglancer chunk must decode to its expected
size): it runs before a download enters the cache and on every cache or mirror hit; a cached entry
failing it is evicted and downloaded again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ..commons import logger
from ..errors import (
    AtlascopeError,
    CacheError,
    IntegrityError,
    InvalidInputError,
    OfflineError,
    RetrievalError,
)
from ..files import commit, discard, new_temp, remove_stale_temps
from .cache import entry_path, file_lock, touch
from .http import (
    MAX_ATTEMPTS,
    ContentDecodingFailed,
    DeadlineExceeded,
    HostUnreachable,
    LocalWriteError,
    PermanentHTTPError,
    TransientHTTPError,
    deadline_seconds,
    download_once,
    retry_delay,
)
from .mirror import mirror_file, mirror_setting, mirror_url, offline
from .validate import ValidationFailed, check_kind, sha256_of, validate_file

__all__ = [
    "fetch",
    "fetch_json",
    "fetch_text",
    "fetch_bytes",
    "fetch_parsed",
    "evict",
    "NotAtSourceError",
    "INTEGRITY_ATTEMPTS",
]

#: Downloads of one source whose content fails validation before IntegrityError is raised.
INTEGRITY_ATTEMPTS = 2

_MIRROR_HINT = "set ATLASCOPE_MIRROR to a mirror folder or URL that holds it (`atlascope mirror` builds one)"


class NotAtSourceError(RetrievalError):
    """The server answered HTTP 404/410: the file is not at that URL (retrying cannot help).

    An http(s) mirror answering so makes :func:`fetch` fall back to the original URL; callers may
    catch it to treat absent files specially (e.g. missing neuroglancer chunks read as zeros).
    """


def _local_path(url: str | os.PathLike) -> Path | None:
    """The local path named by ``url`` (plain path or ``file://`` URL), ``None`` for http(s)."""
    if isinstance(url, os.PathLike):
        return Path(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None
    if scheme == "file":
        return Path(url2pathname(parts.path))
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):  # C:\... on Windows
        return Path(url).expanduser()
    raise InvalidInputError(
        f"{url}: the scheme {parts.scheme!r} is not supported; give an http(s) URL, a file:// URL or a local path."
    )


def _matches(path: Path, size: int | None, sha256: str | None) -> str | None:
    """``None`` if ``path`` has the expected size and hash, else what differs."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"has {actual} bytes, expected {size}"
    if sha256 is not None and sha256_of(path) != sha256.strip().lower():
        return "has a different SHA-256 than expected"
    return None


def _cached(target: Path, url: str, size: int | None, sha256: str | None) -> bool:
    """Whether the cache entry exists and matches; a stale entry is reported (and later replaced)."""
    try:
        problem = _matches(target, size, sha256)
    except FileNotFoundError:
        return False
    if problem:
        logger.warning("The cached copy %s of %s %s; downloading it again", target, url, problem)
        return False
    touch(target)
    logger.debug("Cache hit for %s: %s", url, target)
    return True


def _from_mirror_folder(url: str, root: Path, size: int | None, sha256: str | None) -> Path | None:
    """``url``'s file in the mirror folder ``root`` if present and as expected, else ``None``."""
    path = mirror_file(url, root)
    if not path.is_file():
        logger.debug("%s is not in the mirror folder %s", url, root)
        return None
    problem = _matches(path, size, sha256)
    if problem is None:
        logger.debug("Using the mirror copy %s of %s", path, url)
        return path
    if offline():
        raise IntegrityError(
            f"The mirror copy {path} of {url} {problem}. Check the mirror with verify_mirror and rebuild it "
            "(build_mirror or `atlascope mirror`), or unset ATLASCOPE_OFFLINE to download the file."
        )
    logger.warning("The mirror copy %s of %s %s; using the original URL", path, url, problem)
    return None


def _permanent(source: str, url: str, exc: PermanentHTTPError) -> RetrievalError:
    mirror = f" (mirror of {url})" if source != url else ""
    if exc.status in (404, 410):
        return NotAtSourceError(
            f"{source}{mirror} answered {exc.reason}: the file is not there. Check the URL or the "
            f"configuration that names it; if the site moved, {_MIRROR_HINT}."
        )
    return RetrievalError(
        f"{source}{mirror} answered {exc.reason}; retrying will not help. Check the URL and whether it "
        f"needs a login, or {_MIRROR_HINT}."
    )


def _download(
    source: str,
    target: Path,
    *,
    url: str,
    kind: str,
    size: int | None,
    sha256: str | None,
    desc: str | None,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """Download ``source`` into the cache entry ``target`` with retries and validation.

    ``url`` is the URL the caller asked for (``source`` differs when it is a mirror's copy). Must be
    called with ``target``'s lock held.
    """
    mirror = f" (mirror of {url})" if source != url else ""
    allowed = deadline_seconds()
    deadline = time.monotonic() + allowed
    integrity_failures = 0
    last, last_was_integrity = "", False
    for attempt in range(1, MAX_ATTEMPTS + 1):
        retry_after = None
        temp = new_temp(target)
        try:
            logger.debug("Downloading %s (attempt %d)", source, attempt)
            with open(temp, "wb") as fh:
                info = download_once(
                    source, fh, desc=desc, binary=kind not in ("json", "text"), deadline=deadline
                )
            validate_file(temp, kind=kind, size=size, sha256=sha256, content_type=info.content_type)
            if check is not None:
                check(temp)
            commit(temp, target)
            size_mb = target.stat().st_size / 1e6
            level = logging.INFO if size_mb > 5 else logging.DEBUG
            logger.log(level, "Downloaded %s (%.1f MB)", source, size_mb)
            return target
        except PermanentHTTPError as exc:
            raise _permanent(source, url, exc) from None
        except DeadlineExceeded as exc:
            raise RetrievalError(_deadline_message(source, mirror, allowed, str(exc))) from None
        except HostUnreachable as exc:
            if attempt == 1:  # nothing answered: offline or a wrong host, seconds of retries won't help
                raise RetrievalError(
                    f"Could not download {source}{mirror}: {exc.reason} (the host cannot be reached; "
                    f"not retried). Check the network or {_MIRROR_HINT}."
                ) from None
            last, last_was_integrity, retry_after = exc.reason, False, exc.retry_after
        except TransientHTTPError as exc:
            last, last_was_integrity, retry_after = exc.reason, False, exc.retry_after
        except (ValidationFailed, ContentDecodingFailed) as exc:
            integrity_failures += 1
            last, last_was_integrity = str(exc), True
            if integrity_failures >= INTEGRITY_ATTEMPTS:
                raise IntegrityError(
                    f"{source}{mirror} sent content that failed validation {integrity_failures} times: {exc}. "
                    f"Nothing was cached. Check the URL (it may point at an error page), try again later, "
                    f"or {_MIRROR_HINT}."
                ) from None
        except LocalWriteError as exc:
            raise CacheError(
                f"Cannot write the download of {url} into {target.parent}: {exc}. Free disk space "
                "(`atlascope cache prune`) or set ATLASCOPE_CACHE to a writable folder."
            ) from exc.__cause__
        except AtlascopeError:
            raise
        except OSError as exc:
            raise CacheError(
                f"Cannot write the download of {url} into {target.parent}: {exc.strerror or exc}. Free disk "
                "space (`atlascope cache prune`) or set ATLASCOPE_CACHE to a writable folder."
            ) from exc
        finally:
            discard(temp)
        if attempt < MAX_ATTEMPTS:
            delay = retry_delay(attempt, retry_after)
            if time.monotonic() + delay > deadline:
                raise RetrievalError(_deadline_message(source, mirror, allowed, f"last attempt: {last}"))
            logger.warning(
                "%s%s: %s; retrying in %.2f s (attempt %d of %d)",
                source,
                mirror,
                last,
                delay,
                attempt + 1,
                MAX_ATTEMPTS,
            )
            time.sleep(delay)
    error = IntegrityError if last_was_integrity else RetrievalError
    raise error(
        f"Could not download {source}{mirror}: {last} (after {MAX_ATTEMPTS} attempts). "
        f"Check the network or {_MIRROR_HINT}."
    )


def _deadline_message(source: str, mirror: str, allowed: float, detail: str) -> str:
    return (
        f"Downloading {source}{mirror} took longer than the total deadline of {allowed:.0f} s ({detail}); "
        "nothing was cached. Raise ATLASCOPE_DEADLINE (seconds) for slow connections, check the network, "
        f"or {_MIRROR_HINT}."
    )


def _passes(check: Callable[[Path], None] | None, path: Path) -> str | None:
    """``None`` if ``check`` accepts ``path`` (or there is no check), else why not."""
    if check is None:
        return None
    try:
        check(path)
    except ValidationFailed as exc:
        return str(exc)
    return None


def fetch(
    url: str | os.PathLike,
    *,
    kind: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    desc: str | None = None,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """Path of a validated local copy of ``url``.

    Parameters
    ----------
    url : str or path-like
        http(s) URL, ``file://`` URL or local path. Local files are returned as they are, after
        checking that they exist (no validation, no copy).
    kind : {"nifti", "json", "zip", "gzip", "text", "bytes"}, optional
        How to validate the content; guessed from the URL's suffix when ``None``
        (:func:`~atlascope.retrieval.validate.guess_kind`).
    sha256 : str, optional
        Expected hex SHA-256 of the file; checked on download and on every cache or mirror hit.
    size : int, optional
        Expected size in bytes; checked on download and on every cache or mirror hit.
    desc : str, optional
        Label of the progress bar (large files only).
    check : callable, optional
        ``check(path)`` raises :class:`~atlascope.retrieval.validate.ValidationFailed` when the
        content is unusable; run before a download is cached and on every cache or mirror hit (a
        cached entry that fails is evicted and downloaded again).

    Returns
    -------
    pathlib.Path
        The cache entry ``cache_dir()/files/<sha256(url)[:16]>-<name>``, a file in the mirror folder,
        or the local path.

    Raises
    ------
    OfflineError
        ``ATLASCOPE_OFFLINE`` is set and the file is neither cached nor mirrored.
    IntegrityError
        The content failed validation twice (or the mirror copy is wrong while offline).
    RetrievalError
        HTTP 404/4xx, or the network failed on every attempt; a missing local file.
    CacheError
        The cache folder cannot be written.
    InvalidInputError
        Unsupported scheme, unknown ``kind``, or a URL whose mirror path would leave the mirror.
    """
    local = _local_path(url)
    if local is not None:
        if not local.exists():
            raise RetrievalError(
                f"{local} does not exist. Check the path (and the current folder {Path.cwd()})."
            )
        return local
    url = str(url)
    kind = check_kind(kind, url)
    target = entry_path(url)
    if _cached(target, url, size, sha256) and _usable(target, url, check):
        return target
    setting = mirror_setting()
    if isinstance(setting, Path):
        found = _from_mirror_folder(url, setting, size, sha256)
        if found is not None:
            problem = _passes(check, found)
            if problem is None:
                return found
            if offline():
                raise IntegrityError(
                    f"The mirror copy {found} of {url} is unusable ({problem}). Rebuild the mirror "
                    "(`atlascope mirror`), or unset ATLASCOPE_OFFLINE to download the file."
                )
            logger.warning("The mirror copy %s of %s is unusable (%s); using the original URL", found, url, problem)
    with file_lock(target):
        if _cached(target, url, size, sha256) and _usable(target, url, check):
            return target
        remove_stale_temps(target)
        options = {"url": url, "kind": kind, "size": size, "sha256": sha256, "desc": desc, "check": check}
        if isinstance(setting, str):
            source = mirror_url(url, setting)
            try:
                return _download(source, target, **options)
            except NotAtSourceError:
                logger.debug("%s is not in the mirror %s", url, setting)
            except RetrievalError as exc:
                if offline():
                    raise OfflineError(
                        f"{url} is not in the cache, and the mirror {setting} failed: {exc} "
                        "ATLASCOPE_OFFLINE is set, so the original URL was not tried; fix the mirror or "
                        "unset ATLASCOPE_OFFLINE."
                    ) from exc
                logger.warning("The mirror %s failed for %s (%s); trying the original URL", setting, url, exc)
        if offline():
            raise OfflineError(_offline_message(url, target, setting))
        return _download(url, target, **options)


def _usable(target: Path, url: str, check: Callable[[Path], None] | None) -> bool:
    """Whether a cached entry passes ``check``; a failing entry is evicted (and later fetched again)."""
    problem = _passes(check, target)
    if problem is None:
        return True
    logger.warning("The cached copy %s of %s is unusable (%s); evicting it and downloading again", target, url, problem)
    discard(target)
    return False


def evict(url: str | os.PathLike) -> None:
    """Remove the cache entry of an http(s) ``url`` (e.g. one that failed to parse); local paths are kept."""
    if _local_path(url) is None:
        discard(entry_path(str(url)))


def fetch_parsed(url: str | os.PathLike, parse: Callable[[Path], object], errors: tuple, **options) -> object:
    """``parse(fetch(url))``; a cached entry that fails to parse is evicted and fetched again once.

    Parameters
    ----------
    url : str or path-like
        See :func:`fetch`.
    parse : callable
        Reads the local file, raising one of ``errors`` when its content is unusable.
    errors : tuple of exception types
        The failures that mean "corrupt content" (e.g. ``ValueError, UnicodeDecodeError``).
    **options
        Passed to :func:`fetch`.

    Raises
    ------
    IntegrityError
        A downloaded file still fails to parse after being fetched again.
    InvalidInputError
        A local file or a mirror copy fails to parse (it cannot be fetched again).
    """
    path = fetch(url, **options)
    try:
        return parse(path)
    except errors as exc:
        first = exc
    if _local_path(url) is not None or path != entry_path(str(url)):
        raise InvalidInputError(f"{url} (at {path}) cannot be read ({first}); check or replace the file.") from first
    logger.warning("The cached copy %s of %s cannot be read (%s); fetching it again", path, url, first)
    evict(url)
    path = fetch(url, **options)
    try:
        return parse(path)
    except errors as exc:
        discard(path)
        raise IntegrityError(
            f"{url} cannot be read even after downloading it again ({exc}); nothing was kept in the cache. "
            f"Check the URL, try again later, or {_MIRROR_HINT}."
        ) from exc


def _offline_message(url: str, target: Path, setting: Path | str | None) -> str:
    if setting is None:
        where = "ATLASCOPE_MIRROR is not set"
    elif isinstance(setting, Path):
        missing = "" if setting.is_dir() else ", which does not exist"
        where = f"it is not in the mirror folder {setting}{missing} (looked for {mirror_file(url, setting)})"
    else:
        where = f"it is not in the mirror {setting} (looked for {mirror_url(url, setting)})"
    return (
        f"{url} is needed, but ATLASCOPE_OFFLINE is set, it is not in the cache ({target.parent}) and "
        f"{where}. Either {_MIRROR_HINT}, or unset ATLASCOPE_OFFLINE to download it."
    )


def fetch_bytes(url: str | os.PathLike, **options) -> bytes:
    """The content of ``url`` as bytes (through :func:`fetch`; ``options`` are passed on)."""
    return fetch(url, **options).read_bytes()


def fetch_text(url: str | os.PathLike, *, encoding: str = "utf-8", **options) -> str:
    """The content of ``url`` decoded as text (``kind="text"`` unless the suffix says JSON etc.).

    Parameters
    ----------
    url : str or path-like
        See :func:`fetch`.
    encoding : str
        Text encoding (``utf-8``; a BOM is not removed).
    **options
        Passed to :func:`fetch`.

    Raises
    ------
    InvalidInputError
        A local file or mirror copy does not decode with ``encoding``.
    IntegrityError
        A downloaded file does not decode even after it was evicted and fetched again.
    """
    if options.get("kind") is None and check_kind(None, str(url)) == "bytes":
        options["kind"] = "text"
    return fetch_parsed(url, lambda p: p.read_text(encoding=encoding), (UnicodeDecodeError,), **options)


def fetch_json(url: str | os.PathLike, **options) -> object:
    """The content of ``url`` parsed as JSON (validated as ``kind="json"``; ``options`` go to :func:`fetch`).

    Raises
    ------
    InvalidInputError
        A local file or mirror copy is not valid JSON (downloads are validated before they are
        cached; a cached entry that fails is evicted and fetched again once).
    """
    options.setdefault("kind", "json")

    def parse(path: Path) -> object:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)

    return fetch_parsed(url, parse, (ValueError, UnicodeDecodeError), **options)
