"""A real, local HTTP server for tests, with scripted faults — reusable by every atlascope room.

(PYTEST_DONT_REWRITE: test modules import helpers from here before pytest registers the fixtures.)

It is the standard library's ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port), run in a
daemon thread; nothing is mocked, so ``requests`` (and anything else) talks real HTTP/1.1 to it.

Use it from pytest
------------------
Register the fixtures once per test module (or, better, in ``tests/conftest.py``)::

    pytest_plugins = ["httpserver"]

then ask for ``http_server`` (a fresh server per test) or ``http_server_factory`` (session-wide;
call it to get servers that live until the end of the session)::

    def test_something(http_server, tmp_path):
        http_server.add("/maps/a.json", b'{"a": 1}')          # serve bytes at a path
        url = http_server.url_for("/maps/a.json")              # "http://127.0.0.1:PORT/maps/a.json"
        http_server.set_faults("/maps/a.json", ["503", "ok"])  # first GET fails with 503
        ...
        assert http_server.count("/maps/a.json") == 2          # GETs received for that path

Outside pytest, ``with LocalServer(files={...}) as srv:`` does the same.

Serving a folder tree (e.g. a mirror)
-------------------------------------
``serve_folder(root, prefix="/")`` serves every file below ``root`` at ``prefix + relative path``
(percent-decoded; requests leaving ``root`` get 404). A mirror built for atlascope holds files as
``root/data-proxy.ebrains.eu/api/v1/...``; serve it with ``serve_folder(root)`` and point
``ATLASCOPE_MIRROR`` at ``http_server.url``::

    http_server.serve_folder(mirror_root)
    monkeypatch.setenv("ATLASCOPE_MIRROR", http_server.url)
    # fetch("https://data-proxy.ebrains.eu/api/v1/x.nii.gz") now asks
    # http://127.0.0.1:PORT/data-proxy.ebrains.eu/api/v1/x.nii.gz

Content added with :meth:`LocalServer.add` takes precedence over folders; several folders may be
mounted (first match wins). Files may also be given at construction: ``LocalServer(files={path:
bytes}, root=folder)``.

Fault scripts
-------------
``set_faults(path, steps, repeat_last=False)`` gives a path a list of steps, consumed one per
request (GET or HEAD) to that path; when the list is empty the path is served normally. With
``repeat_last=True`` the last step applies to every later request (a persistent fault). Steps:

============  ====================================================================================
``"ok"``      serve normally
``"NNN"``     answer HTTP status NNN (e.g. ``"500"``, ``"503"``, ``"404"``) with a short text body
``"NNN:S"``   the same with ``Retry-After: S`` (seconds), e.g. ``"429:1"``
``"reset"``   send the headers with the full ``Content-Length`` and half the body, then abort the
              connection with a TCP reset (RST)
``"truncate"``  full ``Content-Length``, half the body, then close the connection normally (FIN)
``"corrupt"``   the full-length body with 16 bytes in the middle inverted (XOR 0xFF)
``"wrong"``     200 with an HTML error page (``text/html``) instead of the content
``"slow:S"``    wait S seconds, then serve normally
``"trickle:B:S"``  full ``Content-Length``, then B bytes every S seconds (a slow-drip server);
                the client disconnecting ends it
``"nonutf8"``   200 with the body's bytes 0x80-0xFF sprinkled in (text corrupted in transit)
============  ====================================================================================

``path`` is matched against the request path without query (as sent, or percent-decoded); a
key containing ``?`` matches the full request target instead. ``count(path)`` and ``requests`` (a list of ``(method, target)``)
record what arrived; :meth:`LocalServer.reset` clears counts, faults and content.

Two more fixtures help tests of code that downloads: ``isolated_cache`` (an empty
``ATLASCOPE_CACHE`` per test, ``ATLASCOPE_MIRROR``/``ATLASCOPE_OFFLINE`` unset) and ``fast_retries``
(atlascope's retry backoff shrunk to milliseconds, ``Retry-After`` capped at 50 ms).

Per-path options of :meth:`LocalServer.add`: ``content_type`` (guessed from the suffix otherwise),
``delay`` (seconds before every answer, e.g. to make downloads overlap), ``encoding="gzip"``
(compress on the wire with ``Content-Encoding: gzip``; faults then apply to the compressed bytes),
``headers`` (extra response headers).

Real-format payloads
--------------------
:func:`nifti_gz_bytes`, :func:`json_bytes` and :func:`zip_bytes` make small files in the real
formats (gzipped NIfTI-1 via nibabel, UTF-8 JSON, a deflated zip) for the server to serve.
"""

from __future__ import annotations

import gzip
import io
import json
import mimetypes
import os
import socket
import struct
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

__all__ = [
    "LocalServer",
    "http_server",
    "http_server_factory",
    "fast_retries",
    "isolated_cache",
    "nifti_gz_bytes",
    "json_bytes",
    "zip_bytes",
    "HTML_ERROR_PAGE",
]

#: Body of the ``"wrong"`` fault: what a proxy or a login wall typically answers with status 200.
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Service temporarily unavailable</title></head>"
    b"<body><h1>Oops</h1><p>The data proxy is under maintenance.</p></body></html>\n"
)


@dataclass
class _Entry:
    body: bytes
    content_type: str | None = None
    delay: float = 0.0
    encoding: str | None = None
    headers: dict[str, str] | None = None


def _content_type(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".gz"):
        return "application/gzip"
    guessed, _enc = mimetypes.guess_type(lower)
    return guessed or "application/octet-stream"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    # -- helpers -------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str], *, head: bool) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _answer(self, *, head: bool) -> None:
        owner = self.server.owner
        target = self.path
        path = urlsplit(target).path
        step = owner._record_and_step(self.command, target, path)
        if step.startswith("slow:"):
            time.sleep(float(step.split(":", 1)[1]))
            step = "ok"
        entry = owner._lookup(target, path)
        if entry is not None and entry.delay:
            time.sleep(entry.delay)
        code = step.split(":", 1)[0]
        if code.isdigit():
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            if ":" in step:
                headers["Retry-After"] = step.split(":", 1)[1]
            body = f"{code} scripted by the test server\n".encode()
            self._send(int(code), body, headers, head=head)
            return
        if step == "wrong":
            self._send(200, HTML_ERROR_PAGE, {"Content-Type": "text/html; charset=utf-8"}, head=head)
            return
        if entry is None:
            self._send(404, b"not found\n", {"Content-Type": "text/plain"}, head=head)
            return
        body = entry.body
        headers = {"Content-Type": entry.content_type or _content_type(path), **(entry.headers or {})}
        if entry.encoding == "gzip":
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        if step == "corrupt":
            mid = len(body) // 2
            chunk = bytes(b ^ 0xFF for b in body[mid : mid + 16])
            body = body[:mid] + chunk + body[mid + len(chunk) :]
        elif step in ("reset", "truncate"):
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            if step == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            return
        elif step.startswith("trickle:"):
            _, size, pause = step.split(":")
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.close_connection = True
            try:
                for i in range(0, len(body), int(size)):
                    self.wfile.write(body[i : i + int(size)])
                    self.wfile.flush()
                    time.sleep(float(pause))
            except OSError:  # the client gave up
                pass
            return
        elif step == "nonutf8":
            body = bytes(b if i % 7 else 0xFF for i, b in enumerate(body))
        elif step != "ok":
            raise ValueError(f"unknown fault step {step!r}")
        self._send(200, body, headers, head=head)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LocalServer

    def handle_error(self, request, client_address) -> None:
        """Stay quiet about clients that hang up (expected with faults); report anything else."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, BrokenPipeError, OSError)):
            return
        super().handle_error(request, client_address)


class LocalServer:
    """A threaded HTTP server on ``127.0.0.1`` serving bytes and folders, with per-path fault scripts.

    Parameters
    ----------
    files : dict of {str: bytes}, optional
        Content by URL path (``"/a/b.json"``; a leading ``/`` is added if missing).
    root : path-like, optional
        A folder served at ``/`` (see :meth:`serve_folder`).

    Attributes
    ----------
    url : str
        Base URL, ``"http://127.0.0.1:PORT"`` (no trailing slash).
    port : int
        The port chosen by the operating system.
    requests : list of (str, str)
        ``(method, request target)`` of every request received, in order.
    """

    def __init__(self, files: dict[str, bytes] | None = None, root: str | os.PathLike | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._folders: list[tuple[str, Path]] = []
        self._faults: dict[str, list[str]] = {}
        self._repeat: set[str] = set()
        self._counts: Counter = Counter()
        self.requests: list[tuple[str, str]] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=f"LocalServer:{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()
        for path, body in (files or {}).items():
            self.add(path, body)
        if root is not None:
            self.serve_folder(root)

    # -- content -------------------------------------------------------------------------------
    @staticmethod
    def _norm(path: str) -> str:
        return path if path.startswith("/") else "/" + path

    def url_for(self, path: str) -> str:
        """Full URL of ``path`` on this server (``path`` is used as written: quote it yourself)."""
        return self.url + self._norm(path)

    def add(
        self,
        path: str,
        content: bytes | str,
        *,
        content_type: str | None = None,
        delay: float = 0.0,
        encoding: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve ``content`` at ``path``; returns the full URL.

        Parameters
        ----------
        path : str
            URL path, e.g. ``"/data/x.nii.gz"`` (matched after percent-decoding too).
        content : bytes or str
            The body (str is UTF-8 encoded).
        content_type : str, optional
            ``Content-Type``; guessed from the suffix when omitted.
        delay : float
            Seconds to wait before every answer for this path.
        encoding : {"gzip", None}
            Compress the body on the wire with ``Content-Encoding: gzip``.
        headers : dict of {str: str}, optional
            Extra response headers, e.g. ``{"Content-Encoding": "gzip"}`` on an already gzipped
            file, as storage buckets send it.
        """
        body = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        with self._lock:
            self._entries[self._norm(path)] = _Entry(body, content_type, delay, encoding, headers)
        return self.url_for(path)

    def serve_folder(self, root: str | os.PathLike, prefix: str = "/") -> str:
        """Serve the files below ``root`` at ``prefix + relative path``; returns the base URL of the tree."""
        prefix = self._norm(prefix)
        if not prefix.endswith("/"):
            prefix += "/"
        with self._lock:
            self._folders.append((prefix, Path(root).absolute()))
        return self.url + prefix.rstrip("/")

    def _lookup(self, target: str, path: str) -> _Entry | None:
        with self._lock:
            for key in (target, path, unquote(path)):
                if key in self._entries:
                    return self._entries[key]
            folders = list(self._folders)
        decoded = unquote(path)
        for prefix, root in folders:
            if not decoded.startswith(prefix):
                continue
            rel = decoded[len(prefix) :]
            full = os.path.normpath(os.path.join(root, rel))
            if os.path.commonpath([str(root), full]) != str(root) or not os.path.isfile(full):
                continue
            return _Entry(Path(full).read_bytes())
        return None

    # -- faults and counting -------------------------------------------------------------------
    def set_faults(self, path: str, steps: list[str] | tuple[str, ...], *, repeat_last: bool = False) -> None:
        """Script the answers for ``path``: one step per request (see the module documentation).

        Parameters
        ----------
        path : str
            URL path (without query), or a full target with ``?query``.
        steps : list of str
            E.g. ``["500", "429:1", "reset", "ok"]``.
        repeat_last : bool
            Keep applying the last step once the list is used up (a persistent fault).
        """
        with self._lock:
            self._faults[self._norm(path)] = list(steps)
            if repeat_last:
                self._repeat.add(self._norm(path))
            else:
                self._repeat.discard(self._norm(path))

    def _record_and_step(self, method: str, target: str, path: str) -> str:
        with self._lock:
            self.requests.append((method, target))
            for key in {target, path, unquote(path)}:
                self._counts[(method, key)] += 1
            for key in (target, path, unquote(path)):
                script = self._faults.get(key)
                if script:
                    if len(script) == 1 and key in self._repeat:
                        return script[0]
                    return script.pop(0)
        return "ok"

    def count(self, path: str, method: str = "GET") -> int:
        """Number of ``method`` requests received for ``path``.

        ``path`` matches the raw request path (any query), the percent-decoded path, or — when it
        contains ``?`` — the full raw request target.
        """
        with self._lock:
            return self._counts[(method, self._norm(path))]

    def reset(self) -> None:
        """Forget counts, request log, faults, content and folders."""
        with self._lock:
            self._counts.clear()
            self.requests.clear()
            self._faults.clear()
            self._repeat.clear()
            self._entries.clear()
            self._folders.clear()

    # -- life cycle ----------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LocalServer {self.url}: {len(self._entries)} paths, {len(self._folders)} folders>"


def quote_path(path: str) -> str:
    """Percent-encode a URL path for :meth:`LocalServer.url_for` (keeps ``/``)."""
    return quote(path, safe="/")


# -- pytest fixtures ---------------------------------------------------------------------------
@pytest.fixture
def http_server():
    """A fresh :class:`LocalServer` for one test, stopped afterwards."""
    with LocalServer() as server:
        yield server


@pytest.fixture(scope="session")
def http_server_factory():
    """Make :class:`LocalServer` instances that live for the whole session: ``make(files=None, root=None)``."""
    servers: list[LocalServer] = []

    def make(files: dict[str, bytes] | None = None, root: str | os.PathLike | None = None) -> LocalServer:
        server = LocalServer(files=files, root=root)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def fast_retries(monkeypatch):
    """Make atlascope's download retries quick: 10 ms backoff, ``Retry-After`` capped at 50 ms, 5 s timeouts.

    Yields the module :mod:`atlascope.retrieval.http` whose constants were patched.
    """
    from atlascope.retrieval import http as retrieval_http

    monkeypatch.setattr(retrieval_http, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(retrieval_http, "RETRY_AFTER_CAP", 0.05)
    monkeypatch.setenv("ATLASCOPE_TIMEOUT", "5")
    yield retrieval_http


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """An empty atlascope cache folder for one test (``ATLASCOPE_CACHE``), no mirror, online.

    Returns the folder (created on first use by atlascope).
    """
    folder = tmp_path / "atlascope-cache"
    monkeypatch.setenv("ATLASCOPE_CACHE", str(folder))
    monkeypatch.delenv("ATLASCOPE_MIRROR", raising=False)
    monkeypatch.delenv("ATLASCOPE_OFFLINE", raising=False)
    return folder


# -- real-format payloads ----------------------------------------------------------------------
def nifti_gz_bytes(shape: tuple[int, ...] = (6, 5, 4), dtype: str = "float32", seed: int = 0) -> bytes:
    """A gzipped NIfTI-1 image (random values, 2 mm voxels, MNI-like affine) as bytes."""
    import nibabel as nib
    import numpy as np

    data = np.random.default_rng(seed).random(shape).astype(dtype)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-90.0, -126.0, -72.0]
    img = nib.Nifti1Image(data, affine)
    raw = io.BytesIO()
    img.to_file_map({"image": nib.FileHolder(fileobj=raw), "header": nib.FileHolder(fileobj=raw)})
    return gzip.compress(raw.getvalue(), mtime=0)


def json_bytes(obj: object | None = None) -> bytes:
    """UTF-8 JSON bytes of ``obj`` (default: a small atlas-like document of a few hundred bytes)."""
    if obj is None:
        obj = {
            "@type": "siibra/space/v0.0.1",
            "name": "MNI 152 ICBM 2009c Nonlinear Asymmetric",
            "regions": [
                {"name": f"Area hOc{i} (V{i})", "index": i, "rgb": [i, 2 * i, 3 * i]} for i in range(1, 8)
            ],
        }
    return json.dumps(obj, indent=1).encode("utf-8")


def zip_bytes(members: dict[str, bytes] | None = None) -> bytes:
    """A deflated zip archive holding ``members`` (default: two CSV matrices) as bytes."""
    if members is None:
        header = ",".join(f"r{j}" for j in range(12))
        rows = "\n".join(f"r{i}," + ",".join(str((i * 7 + j * 3) % 11) for j in range(12)) for i in range(12))
        members = {
            "subject01/matrix.csv": f",{header}\n{rows}\n".encode(),
            "subject02/matrix.csv": f",{header}\n{rows[::-1]}\n".encode(),
        }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()
