"""HTTP transport: one lazily created ``requests.Session``, timeouts, backoff, streaming downloads.

This module performs single attempts (:func:`download_once`) and classifies what went wrong:

* :class:`TransientHTTPError` — worth retrying: connection reset, timeout, a body shorter than
  its ``Content-Length``, HTTP 408/425/429 and 5xx (with the server's ``Retry-After``);
* :class:`HostUnreachable` — the transient error of a host that could not be reached at all (DNS
  failure, connection refused, no route): not retried when it is the first attempt;
* :class:`PermanentHTTPError` — retrying cannot help: HTTP 404/410 and other 4xx;
* :class:`ContentDecodingFailed` — the body's ``Content-Encoding`` could not be decoded (counted as
  a validation failure by the caller);
* :class:`LocalWriteError` — the destination could not be written (a cache problem, not a network one);
* :class:`DeadlineExceeded` — the download ran past its total deadline (``ATLASCOPE_DEADLINE``).

The retry loop itself lives in :mod:`atlascope.retrieval.fetching`, which also validates content.
The module constants below are read at call time; tests may monkeypatch them (e.g. a small
:data:`BACKOFF_BASE`).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from ..commons import progress_enabled
from ..errors import InvalidInputError
from ..settings import env_seconds

if TYPE_CHECKING:  # pragma: no cover
    import requests

__all__ = [
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "MAX_ATTEMPTS",
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "RETRY_AFTER_CAP",
    "PROGRESS_MIN_BYTES",
    "TransientHTTPError",
    "HostUnreachable",
    "PermanentHTTPError",
    "ContentDecodingFailed",
    "LocalWriteError",
    "DeadlineExceeded",
    "deadline_seconds",
    "ResponseInfo",
    "get_session",
    "timeouts",
    "retry_delay",
    "download_once",
]

#: Seconds to wait for a connection (default; see :func:`timeouts`).
CONNECT_TIMEOUT = 10.0
#: Seconds to wait between two packets of an answer (default; see :func:`timeouts`).
READ_TIMEOUT = 60.0
#: Attempts per URL before giving up (first try included).
MAX_ATTEMPTS = 4
#: Seconds before the first retry; doubled after every failed attempt.
BACKOFF_BASE = 0.2
#: Longest exponential backoff, in seconds.
BACKOFF_MAX = 10.0
#: Longest wait honoured from a server's ``Retry-After`` header, in seconds.
RETRY_AFTER_CAP = 30.0
#: Bodies larger than this (bytes) show a progress bar when progress bars are enabled.
PROGRESS_MIN_BYTES = 5 * 1024 * 1024
#: Bytes read per chunk when streaming a body to disk (the total deadline is checked between chunks).
CHUNK_BYTES = 64 * 1024
#: Default total seconds one download of one source may take, retries included (``ATLASCOPE_DEADLINE``).
DEADLINE = 1800.0


class TransientHTTPError(Exception):
    """A failed attempt that may succeed when repeated.

    Attributes
    ----------
    reason : str
        What happened, for messages (e.g. ``"HTTP 503 Service Unavailable"``).
    status : int or None
        HTTP status code, ``None`` for network errors.
    retry_after : float or None
        Seconds the server asked us to wait (``Retry-After``), uncapped.
    """

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class HostUnreachable(TransientHTTPError):
    """No connection could be made: the name did not resolve, the port refused, or no route.

    Nothing answered, so retrying within seconds rarely helps (typically the machine is offline).
    """


class PermanentHTTPError(Exception):
    """An answer that repeating the request cannot change (404, 403, ...).

    Attributes
    ----------
    reason : str
        e.g. ``"HTTP 404 Not Found"``.
    status : int or None
        HTTP status code (``None`` for a redirect loop).
    """

    def __init__(self, reason: str, status: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ContentDecodingFailed(Exception):
    """The body's ``Content-Encoding`` (gzip/deflate) did not decode."""


class DeadlineExceeded(Exception):
    """The download ran past its total deadline (:func:`deadline_seconds`); not worth retrying."""


def deadline_seconds() -> float:
    """Total seconds one download may take (retries included): ``$ATLASCOPE_DEADLINE`` or :data:`DEADLINE`.

    ``ATLASCOPE_TIMEOUT`` bounds the wait between two packets; this bounds the whole download, so
    that a server trickling a few bytes at a time cannot hold a fetch forever.

    Raises
    ------
    InvalidInputError
        ``ATLASCOPE_DEADLINE`` is not a positive number.
    """
    return env_seconds("ATLASCOPE_DEADLINE", DEADLINE)


class LocalWriteError(Exception):
    """Writing the body to the destination failed (disk full, permissions); ``__cause__`` is the OSError."""


@dataclass(frozen=True)
class ResponseInfo:
    """What a successful attempt learned about the answer.

    Attributes
    ----------
    url : str
        Final URL after redirects.
    status : int
        HTTP status code (2xx).
    content_length : int or None
        ``Content-Length`` header in bytes (as sent on the wire), if any.
    content_type : str
        ``Content-Type`` header, ``""`` if absent.
    bytes_written : int
        Bytes written to the destination (decoded body).
    """

    url: str
    status: int
    content_length: int | None
    content_type: str
    bytes_written: int


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        v = version("atlascope")
    except Exception:  # pragma: no cover - not installed
        v = "dev"
    return f"atlascope/{v} (+https://github.com/atlascope)"


def get_session() -> requests.Session:
    """The process-wide ``requests.Session``, created on first use (and again after a fork).

    The session keeps connections alive between downloads; urllib3's own retries are switched off
    because :mod:`atlascope.retrieval.fetching` retries with backoff and content validation.
    """
    return _session_of(os.getpid())


@functools.lru_cache(maxsize=1)
def _session_of(pid: int) -> requests.Session:
    """The session of process ``pid`` (a forked child gets its own: sockets are not shared)."""
    import requests
    from requests.adapters import HTTPAdapter

    s = requests.Session()
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=16, max_retries=0)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = _user_agent()
    return s


def timeouts() -> tuple[float, float]:
    """``(connect, read)`` timeouts in seconds.

    ``$ATLASCOPE_TIMEOUT`` overrides them: one number sets the read timeout (and caps the connect
    timeout at it), ``"C,R"`` sets both. Defaults: :data:`CONNECT_TIMEOUT`, :data:`READ_TIMEOUT`.

    Raises
    ------
    InvalidInputError
        ``ATLASCOPE_TIMEOUT`` is not one or two positive numbers.
    """
    env = os.environ.get("ATLASCOPE_TIMEOUT", "").strip()
    if not env:
        return CONNECT_TIMEOUT, READ_TIMEOUT
    try:
        parts = [float(p) for p in env.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or any(p <= 0 for p in parts):
        raise InvalidInputError(
            f"ATLASCOPE_TIMEOUT={env!r} is not valid; give seconds as '60' (read) or '10,60' (connect,read)."
        )
    if len(parts) == 1:
        return min(CONNECT_TIMEOUT, parts[0]), parts[0]
    return parts[0], parts[1]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds requested by a ``Retry-After`` header (delta-seconds or HTTP date), ``None`` if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential backoff ``BACKOFF_BASE * 2**(attempt-1)`` up to :data:`BACKOFF_MAX`; a server's
    ``Retry-After`` is honoured (capped at :data:`RETRY_AFTER_CAP`) when it asks for longer.
    """
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


def _keep_encoded(url: str, content_encoding: str) -> bool:
    """Whether to store a body as sent despite ``Content-Encoding: gzip``.

    A ``.gz`` file served with ``Content-Encoding: gzip`` is almost always a storage bucket that
    labels gzip files so (object metadata), not a second compression layer: decoding it would store
    a plain file under a ``.gz`` name. Any other encoded body is decoded.
    """
    path = urlsplit(url).path.lower()
    return content_encoding.strip().lower() in ("gzip", "x-gzip") and path.endswith((".gz", ".tgz"))


def _status_text(response: requests.Response) -> str:
    return f"HTTP {response.status_code} {response.reason or ''}".rstrip()


def download_once(
    url: str,
    dest: IO[bytes],
    *,
    desc: str | None = None,
    binary: bool = True,
    deadline: float | None = None,
) -> ResponseInfo:
    """One GET of ``url``, streaming the body into ``dest``.

    Parameters
    ----------
    url : str
        http(s) URL.
    dest : binary file object
        Where the (decoded) body is written.
    desc : str, optional
        Label of the progress bar shown for bodies over :data:`PROGRESS_MIN_BYTES`.
    binary : bool
        Ask the server not to compress the body on the wire (``Accept-Encoding: identity``), so
        that an already compressed file (``.nii.gz``, ``.zip``) is stored byte for byte. A body
        compressed anyway is decoded, except a ``.gz`` file labelled ``Content-Encoding: gzip``,
        which is stored as sent (see :func:`_keep_encoded`).
    deadline : float, optional
        :func:`time.monotonic` value after which the body is abandoned (checked between chunks of
        :data:`CHUNK_BYTES`), raising :class:`DeadlineExceeded`.

    Returns
    -------
    ResponseInfo

    Raises
    ------
    TransientHTTPError, PermanentHTTPError, ContentDecodingFailed, LocalWriteError, DeadlineExceeded
        See the module documentation.
    InvalidInputError
        ``url`` is malformed.
    """
    import requests
    import urllib3

    headers = {"Accept-Encoding": "identity"} if binary else {}
    connect, read = timeouts()
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the total deadline passed before the request")
        connect, read = min(connect, left), min(read, left)
    try:
        with get_session().get(url, stream=True, timeout=(connect, read), headers=headers) as r:
            if not 200 <= r.status_code < 300:
                text = _status_text(r)
                if r.status_code in (408, 425, 429) or r.status_code >= 500:
                    raise TransientHTTPError(
                        text, r.status_code, parse_retry_after(r.headers.get("Retry-After"))
                    )
                raise PermanentHTTPError(text, r.status_code)
            length_header = r.headers.get("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            bar = None
            if length is not None and length > PROGRESS_MIN_BYTES and progress_enabled():
                from tqdm.auto import tqdm

                bar = tqdm(
                    total=length,
                    desc=desc or url.rsplit("/", 1)[-1],
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    leave=False,
                    file=sys.stderr,
                )
            written = 0
            try:
                keep = _keep_encoded(url, r.headers.get("Content-Encoding", ""))
                chunks = (
                    r.raw.stream(CHUNK_BYTES, decode_content=False) if keep else r.iter_content(CHUNK_BYTES)
                )
                for chunk in chunks:
                    try:
                        dest.write(chunk)
                    except OSError as exc:
                        raise LocalWriteError(str(exc)) from exc
                    written += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                    if deadline is not None and time.monotonic() > deadline:
                        raise DeadlineExceeded(f"the body was still arriving ({written} bytes so far)")
            finally:
                if bar is not None:
                    bar.close()
            received = r.raw.tell()  # bytes read from the wire, before decoding
            if length is not None and received != length:
                raise TransientHTTPError(f"body ended after {received} of {length} bytes (Content-Length)")
            return ResponseInfo(
                url=r.url,
                status=r.status_code,
                content_length=length,
                content_type=r.headers.get("Content-Type", ""),
                bytes_written=written,
            )
    except requests.exceptions.ContentDecodingError as exc:
        raise ContentDecodingFailed(f"the body's Content-Encoding does not decode ({exc})") from exc
    except requests.exceptions.Timeout as exc:
        raise TransientHTTPError(
            f"timed out ({type(exc).__name__}; ATLASCOPE_TIMEOUT sets the wait between packets, "
            "ATLASCOPE_DEADLINE the total time of a download)"
        ) from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        raise TransientHTTPError(f"connection broken mid-body ({_short(exc)})") from exc
    except requests.exceptions.ConnectionError as exc:
        error = HostUnreachable if _no_connection(exc) else TransientHTTPError
        raise error(f"connection failed ({_short(exc)})") from exc
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    ) as exc:
        raise InvalidInputError(f"{url} is not a valid URL ({exc}); check how it was written.") from exc
    except requests.exceptions.TooManyRedirects as exc:
        raise PermanentHTTPError(f"too many redirects ({_short(exc)})", None) from exc
    except requests.exceptions.RequestException as exc:
        raise TransientHTTPError(f"request failed ({_short(exc)})") from exc
    except urllib3.exceptions.HTTPError as exc:  # raised by raw streaming (not wrapped by requests)
        raise TransientHTTPError(f"connection broken mid-body ({_short(exc)})") from exc
    except OSError as exc:  # a socket error that escaped urllib3's wrapping
        raise TransientHTTPError(f"connection failed ({_short(exc)})") from exc


def _no_connection(exc: BaseException) -> bool:
    """Whether a requests ``ConnectionError`` means no connection was made at all (urllib3's
    ``NewConnectionError``: DNS failure, refused, no route), not one broken after connecting."""
    import urllib3

    pending, seen = [exc], 0
    while pending and seen < 10:
        inner = pending.pop()
        seen += 1
        if isinstance(inner, urllib3.exceptions.NewConnectionError):
            return True
        pending.extend(a for a in inner.args if isinstance(a, BaseException))
        reason = getattr(inner, "reason", None)  # urllib3's MaxRetryError keeps the cause here
        if isinstance(reason, BaseException):
            pending.append(reason)
    return False


def _short(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 exception (they nest in ``args``), shortened."""
    inner: BaseException = exc
    for _ in range(5):
        nested = [a for a in inner.args if isinstance(a, BaseException)]
        if not nested:
            break
        inner = nested[-1]
    text = f"{type(inner).__name__}: {inner}" if inner is not exc else str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
