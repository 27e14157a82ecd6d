"""HTTP behaviour of atlascope.retrieval (status codes, Retry-After, timeouts, progress) and of the test server."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest

from atlascope import VERBOSE
from atlascope.errors import InvalidInputError, RetrievalError
from atlascope.retrieval import NotAtSourceError, fetch, fetch_bytes, fetch_json, fetch_text
from atlascope.retrieval import http as rhttp
from httpserver import HTML_ERROR_PAGE, LocalServer, json_bytes

pytest_plugins = ["httpserver"]


def test_404_is_not_retried(http_server, isolated_cache, fast_retries):
    url = http_server.url_for("/missing/file.nii.gz")
    with pytest.raises(NotAtSourceError) as info:
        fetch(url)
    assert url in str(info.value) and "404" in str(info.value)
    assert "check the url" in str(info.value).lower()
    assert http_server.count("/missing/file.nii.gz") == 1


def test_403_is_not_retried(http_server, isolated_cache, fast_retries):
    http_server.add("/private.json", b"{}")
    http_server.set_faults("/private.json", ["403"], repeat_last=True)
    with pytest.raises(RetrievalError, match="403"):
        fetch(http_server.url_for("/private.json"))
    assert http_server.count("/private.json") == 1


def test_retry_after_is_honoured(http_server, isolated_cache, monkeypatch):
    monkeypatch.setattr(rhttp, "BACKOFF_BASE", 0.01)
    url = http_server.add("/limited.json", json_bytes())
    http_server.set_faults("/limited.json", ["429:1"])
    start = time.monotonic()
    fetch(url)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 5
    assert http_server.count("/limited.json") == 2


def test_retry_after_is_capped(http_server, isolated_cache, monkeypatch):
    monkeypatch.setattr(rhttp, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(rhttp, "RETRY_AFTER_CAP", 0.2)
    url = http_server.add("/busy.json", json_bytes())
    http_server.set_faults("/busy.json", ["503:3600"])
    start = time.monotonic()
    fetch(url)
    assert time.monotonic() - start < 2


def test_retry_delay_backoff_and_retry_after(monkeypatch):
    monkeypatch.setattr(rhttp, "BACKOFF_BASE", 0.2)
    assert [rhttp.retry_delay(a) for a in (1, 2, 3)] == pytest.approx([0.2, 0.4, 0.8])
    assert rhttp.retry_delay(1, retry_after=5) == 5
    assert rhttp.retry_delay(1, retry_after=3600) == rhttp.RETRY_AFTER_CAP
    assert rhttp.retry_delay(30) == rhttp.BACKOFF_MAX
    assert rhttp.parse_retry_after("7") == 7
    assert rhttp.parse_retry_after(None) is None
    assert rhttp.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert rhttp.parse_retry_after("soon") is None


def test_timeouts_from_environment(monkeypatch):
    monkeypatch.delenv("ATLASCOPE_TIMEOUT", raising=False)
    assert rhttp.timeouts() == (10.0, 60.0)
    monkeypatch.setenv("ATLASCOPE_TIMEOUT", "120")
    assert rhttp.timeouts() == (10.0, 120.0)
    monkeypatch.setenv("ATLASCOPE_TIMEOUT", "3, 30")
    assert rhttp.timeouts() == (3.0, 30.0)
    for bad in ("fast", "0", "1,2,3", "-1"):
        monkeypatch.setenv("ATLASCOPE_TIMEOUT", bad)
        with pytest.raises(InvalidInputError, match="ATLASCOPE_TIMEOUT"):
            rhttp.timeouts()


def test_read_timeout_is_retried(http_server, isolated_cache, fast_retries, monkeypatch):
    monkeypatch.setenv("ATLASCOPE_TIMEOUT", "0.3")
    url = http_server.add("/slow.json", json_bytes())
    http_server.set_faults("/slow.json", ["slow:1"])
    assert fetch_json(url)["name"].startswith("MNI")
    assert http_server.count("/slow.json") == 2


def test_connection_refused_is_retrieval_error(isolated_cache, fast_retries):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/nothing.json"
    with pytest.raises(RetrievalError) as info:
        fetch(url)
    assert url in str(info.value) and "connection failed" in str(info.value)


def test_progress_bar_for_large_bodies(http_server, isolated_cache, fast_retries, monkeypatch, capsys):
    monkeypatch.setattr(rhttp, "PROGRESS_MIN_BYTES", 1000)
    url = http_server.add("/big.bin", bytes(range(256)) * 100)
    with VERBOSE:  # progress bars on, whatever the logging set-up of the test run
        fetch(url, desc="big test file")
    assert "big test file" in capsys.readouterr().err


def test_convenience_readers(http_server, isolated_cache):
    http_server.add("/a.json", b'{"x": [1, 2]}')
    http_server.add("/b.tsv", "name\tvalue\nhOc1\t3.5\n")
    http_server.add("/c.bin", b"\x00\x01\x02")
    http_server.add("/d", "plain text without suffix")
    assert fetch_json(http_server.url_for("/a.json")) == {"x": [1, 2]}
    assert fetch_text(http_server.url_for("/b.tsv")).splitlines()[1] == "hOc1\t3.5"
    assert fetch_bytes(http_server.url_for("/c.bin")) == b"\x00\x01\x02"
    assert fetch_text(http_server.url_for("/d")) == "plain text without suffix"


def test_session_is_reused():
    assert rhttp.get_session() is rhttp.get_session()
    assert rhttp.get_session().headers["User-Agent"].startswith("atlascope/")


# -- the test server itself -------------------------------------------------------------------------
def _get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def test_server_scripts_and_counts(tmp_path):
    with LocalServer(files={"/x.txt": b"0123456789" * 10}) as srv:
        srv.set_faults("/x.txt", ["503:2", "wrong", "corrupt", "ok"])
        status, body, headers = _get(srv.url_for("/x.txt"))
        assert status == 503 and headers["Retry-After"] == "2"
        status, body, headers = _get(srv.url_for("/x.txt"))
        assert status == 200 and body == HTML_ERROR_PAGE and headers["Content-Type"].startswith("text/html")
        status, body, _ = _get(srv.url_for("/x.txt"))
        assert len(body) == 100 and body != b"0123456789" * 10
        assert _get(srv.url_for("/x.txt"))[1] == b"0123456789" * 10
        assert _get(srv.url_for("/x.txt?v=2"))[1] == b"0123456789" * 10  # query ignored for plain paths
        assert srv.count("/x.txt") == 5 and srv.count("/x.txt?v=2") == 1
        assert _get(srv.url_for("/nope"))[0] == 404


def test_server_truncate_and_reset_break_the_body():
    import http.client

    with LocalServer(files={"/y.bin": bytes(1000)}) as srv:
        for step in ("truncate", "reset"):
            srv.set_faults("/y.bin", [step])
            with pytest.raises((http.client.IncompleteRead, ConnectionError)):
                _get(srv.url_for("/y.bin"))


def test_server_serves_folder_tree_and_refuses_escape(tmp_path):
    root = tmp_path / "mirror"
    (root / "data-proxy.ebrains.eu" / "api" / "v1").mkdir(parents=True)
    (root / "data-proxy.ebrains.eu" / "api" / "v1" / "a b.json").write_bytes(b"[1]")
    (tmp_path / "secret.txt").write_text("no")
    with LocalServer() as srv:
        base = srv.serve_folder(root, prefix="/m")
        assert base == srv.url + "/m"
        status, body, headers = _get(base + "/data-proxy.ebrains.eu/api/v1/a%20b.json")
        assert (status, body) == (200, b"[1]") and headers["Content-Type"] == "application/json"
        assert _get(base + "/../secret.txt")[0] == 404
        assert _get(base + "/%2E%2E/secret.txt")[0] == 404
        srv.reset()
        assert _get(base + "/data-proxy.ebrains.eu/api/v1/a%20b.json")[0] == 404
