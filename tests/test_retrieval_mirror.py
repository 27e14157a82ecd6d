"""Offline mode, mirror folders, http(s) mirrors, path mapping and traversal, build/verify_mirror."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import quote

import nibabel as nib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlascope.errors import IntegrityError, InvalidInputError, OfflineError, RetrievalError
from atlascope.retrieval import build_mirror, fetch, fetch_json, mirror_relpath, verify_mirror, zip_member
from atlascope.retrieval.mirror import mirror_file, mirror_url
from httpserver import LocalServer, json_bytes, nifti_gz_bytes, zip_bytes

pytest_plugins = ["httpserver"]

EBRAINS = "https://data-proxy.ebrains.eu/api/v1/buckets/d-07ab1221/maps/hOc1_pmap.nii.gz"
EBRAINS_REL = "data-proxy.ebrains.eu/api/v1/buckets/d-07ab1221/maps/hOc1_pmap.nii.gz"


def write(root: Path, rel: str, data: bytes) -> Path:
    path = root.joinpath(*rel.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def cached_names(cache: Path) -> list[str]:
    folder = cache / "files"
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) if folder.exists() else []


# -- path mapping ---------------------------------------------------------------------------------
def test_mirror_relpath_rules():
    assert str(mirror_relpath(EBRAINS)) == EBRAINS_REL
    assert str(mirror_relpath("https://Example.ORG:443/a//./b.json")) == "example.org/a/b.json"
    assert str(mirror_relpath("http://127.0.0.1:8000/x.json")) == "127.0.0.1_8000/x.json"
    assert str(mirror_relpath("https://h.org/a/b.json?x=1&y=a/b")) == "h.org/a/b.json%3Fx%3D1%26y%3Da%2Fb"
    assert str(mirror_relpath("https://h.org/dir/")) == "h.org/dir/index"
    assert str(mirror_relpath("https://h.org/a%20b/c.tsv#frag")) == "h.org/a b/c.tsv"
    assert mirror_url("https://h.org/a b/q.json?x=1", "http://m.org/base/") == (
        "http://m.org/base/h.org/a%20b/q.json%253Fx%253D1"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://h.org/a/../../etc/passwd",
        "https://h.org/a/%2e%2e/%2E%2E/etc/passwd",
        "https://h.org/a/..%2f..%2fetc/passwd",
        "https://h.org/a/..",
        "https://h.org/a\\..\\..\\x",
        "https://h.org/a%00b",
    ],
)
def test_mirror_traversal_is_refused(url, tmp_path, isolated_cache, monkeypatch):
    with pytest.raises(InvalidInputError, match="Refusing"):
        mirror_relpath(url)
    monkeypatch.setenv("ATLASCOPE_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(InvalidInputError, match="Refusing"):
        fetch(url)
    with pytest.raises(InvalidInputError):
        mirror_file(url, tmp_path / "mirror")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5), st.text(max_size=10))
def test_mirror_paths_never_leave_the_root(segments, query):
    root = Path("/srv/mirror")
    url = (
        "https://h.org/"
        + "/".join(quote(s, safe="") for s in segments)
        + (f"?{quote(query)}" if query else "")
    )
    try:
        path = mirror_file(url, root)
    except InvalidInputError:
        assert any(".." in s or "\\" in s or "\x00" in s for s in segments)
        return
    assert path.is_relative_to(root / "h.org")
    assert ".." not in path.parts


# -- offline --------------------------------------------------------------------------------------
def test_offline_with_empty_cache_is_offline_error(http_server, isolated_cache, monkeypatch):
    url = http_server.add("/x.json", json_bytes())
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    with pytest.raises(OfflineError) as info:
        fetch(url)
    message = str(info.value)
    assert url in message and "ATLASCOPE_MIRROR" in message and "atlascope mirror" in message
    assert "ATLASCOPE_OFFLINE" in message
    assert http_server.count("/x.json") == 0
    assert cached_names(isolated_cache) == []


def test_offline_serves_cached_files(http_server, isolated_cache, monkeypatch):
    url = http_server.add("/x.json", json_bytes())
    fetch(url)
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "true")
    assert fetch_json(url)["name"].startswith("MNI")
    assert http_server.count("/x.json") == 1


def test_offline_with_mirror_folder(tmp_path, isolated_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    body = nifti_gz_bytes()
    expected = write(mirror, EBRAINS_REL, body)
    monkeypatch.setenv("ATLASCOPE_MIRROR", str(mirror))
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    path = fetch(EBRAINS)
    assert path == expected  # used in place, not copied
    assert nib.load(path).shape == (6, 5, 4)
    assert cached_names(isolated_cache) == []
    with pytest.raises(OfflineError) as info:
        fetch(EBRAINS.replace("hOc1", "hOc2"))
    assert "hOc2" in str(info.value) and str(mirror) in str(info.value)


def test_mirror_folder_as_file_url(tmp_path, isolated_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    expected = write(mirror, EBRAINS_REL, nifti_gz_bytes())
    monkeypatch.setenv("ATLASCOPE_MIRROR", mirror.as_uri())
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    assert fetch(EBRAINS) == expected


def test_mirror_folder_miss_falls_back_online(http_server, tmp_path, isolated_cache, monkeypatch):
    url = http_server.add("/y.json", json_bytes())
    monkeypatch.setenv("ATLASCOPE_MIRROR", str(tmp_path / "empty-mirror"))
    assert fetch(url).parent == isolated_cache / "files"
    assert http_server.count("/y.json") == 1


def test_mirror_folder_copy_with_wrong_size(http_server, tmp_path, isolated_cache, monkeypatch, caplog):
    body = json_bytes()
    url = http_server.add("/z.json", body)
    mirror = tmp_path / "mirror"
    write(mirror, str(mirror_relpath(url)), b"{}")
    monkeypatch.setenv("ATLASCOPE_MIRROR", str(mirror))
    with caplog.at_level(logging.WARNING, logger="atlascope"):
        assert fetch(url, size=len(body)).read_bytes() == body  # online: falls back to the URL
    assert "mirror copy" in caplog.text
    # offline, a wrong mirror copy of a file that is not cached is an error naming the fix
    twin = http_server.add("/twin.json", body)
    write(mirror, str(mirror_relpath(twin)), b"[]")
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    with pytest.raises(IntegrityError, match="verify_mirror"):
        fetch(twin, size=len(body))


# -- http(s) mirrors ------------------------------------------------------------------------------
def test_http_mirror_serves_ebrains_paths_offline(http_server, tmp_path, isolated_cache, monkeypatch):
    tree = tmp_path / "tree"
    body = nifti_gz_bytes()
    write(tree, EBRAINS_REL, body)
    base = http_server.serve_folder(tree, prefix="/mirror")
    monkeypatch.setenv("ATLASCOPE_MIRROR", base + "/")
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    path = fetch(EBRAINS)
    assert path.parent == isolated_cache / "files" and path.read_bytes() == body
    assert http_server.count("/mirror/" + EBRAINS_REL) == 1
    assert fetch(EBRAINS) == path  # cached now
    assert http_server.count("/mirror/" + EBRAINS_REL) == 1


def test_http_mirror_with_query_and_faults(http_server, tmp_path, isolated_cache, fast_retries, monkeypatch):
    tree = tmp_path / "tree"
    url = "https://api.brain-map.org/api/v2/data/query.json?criteria=model::Gene,rma::criteria,[acronym$eq'TAC1']"
    write(tree, str(mirror_relpath(url)), json_bytes({"msg": [{"id": 1}]}))
    http_server.serve_folder(tree)
    served = "/" + str(mirror_relpath(url))
    http_server.set_faults(served, ["503", "reset"])
    monkeypatch.setenv("ATLASCOPE_MIRROR", http_server.url)
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    assert fetch_json(url) == {"msg": [{"id": 1}]}
    assert http_server.count(served) == 3


def test_http_mirror_404_falls_back_to_origin(isolated_cache, fast_retries, monkeypatch):
    with LocalServer() as origin, LocalServer() as mirror:
        url = origin.add("/data/a.json", json_bytes())
        monkeypatch.setenv("ATLASCOPE_MIRROR", mirror.url)
        assert fetch_json(url)["name"].startswith("MNI")
        assert mirror.count("/" + str(mirror_relpath(url))) == 1  # asked once, no retries on 404
        assert origin.count("/data/a.json") == 1
        url2 = origin.add("/data/b.json", json_bytes())
        monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
        with pytest.raises(OfflineError, match=mirror.url):
            fetch(url2)
        assert origin.count("/data/b.json") == 0


def test_http_mirror_failing_falls_back_to_origin(isolated_cache, fast_retries, monkeypatch):
    with LocalServer() as origin, LocalServer() as mirror:
        url = origin.add("/data/a.json", json_bytes())
        rel = "/" + str(mirror_relpath(url))
        mirror.add(rel, json_bytes())
        mirror.set_faults(rel, ["500"], repeat_last=True)
        monkeypatch.setenv("ATLASCOPE_MIRROR", mirror.url)
        assert fetch_json(url)["name"].startswith("MNI")
        assert mirror.count(rel) == fast_retries.MAX_ATTEMPTS and origin.count("/data/a.json") == 1
        url2 = origin.add("/data/b.json", json_bytes())
        mirror.add("/" + str(mirror_relpath(url2)), json_bytes())
        mirror.set_faults("/" + str(mirror_relpath(url2)), ["wrong"], repeat_last=True)
        monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
        with pytest.raises(OfflineError) as info:
            fetch(url2)
        assert url2 in str(info.value) and "HTML" in str(info.value)
        assert cached_names(isolated_cache) == [p.name for p in [fetch(url)]]


# -- build_mirror / verify_mirror -----------------------------------------------------------------
def test_build_and_use_mirror(http_server, tmp_path, isolated_cache, monkeypatch):
    files = {
        "/data-proxy.ebrains.eu/api/v1/buckets/m/hOc1.nii.gz": nifti_gz_bytes(),
        "/data-proxy.ebrains.eu/api/v1/buckets/m/space.json": json_bytes(),
        "/data-proxy.ebrains.eu/api/v1/buckets/m/conn.zip": zip_bytes(),
    }
    urls = [http_server.add(p, b) for p, b in files.items()]
    out = tmp_path / "mirror"
    assert build_mirror(urls + urls[:1], out, progress=False) == out
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest) == sorted(urls)
    for url, (path, body) in zip(urls, files.items()):
        entry = manifest[url]
        assert entry["path"] == f"127.0.0.1_{http_server.port}{path}"
        assert (out / entry["path"]).read_bytes() == body and entry["size"] == len(body)
    assert verify_mirror(out) == {}
    assert all(http_server.count(p) == 1 for p in files)

    # idempotent: nothing is downloaded again, even with an empty cache
    for p in (isolated_cache / "files").iterdir():
        p.unlink()
    build_mirror(urls, out, progress=False)
    assert all(http_server.count(p) == 1 for p in files)

    # the mirror works offline, with an empty cache
    monkeypatch.setenv("ATLASCOPE_MIRROR", str(out))
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    assert nib.load(fetch(urls[0])).shape == (6, 5, 4)
    assert zip_member(urls[2], "subject01/matrix.csv").startswith(b",r0")

    # verify_mirror finds tampering and loss
    (out / manifest[urls[1]]["path"]).write_bytes(json_bytes({"x": 1}))
    (out / manifest[urls[2]]["path"]).unlink()
    problems = verify_mirror(out)
    assert sorted(problems) == sorted(urls[1:])
    assert "missing" in problems[urls[2]]


def test_build_mirror_reports_failures_and_keeps_the_rest(
    http_server, tmp_path, isolated_cache, fast_retries
):
    good = http_server.add("/ok.json", json_bytes())
    bad = http_server.url_for("/missing.json")
    out = tmp_path / "mirror"
    with pytest.raises(RetrievalError) as info:
        build_mirror([good, bad], out, progress=False)
    assert bad in str(info.value) and "1 of 2" in str(info.value)
    assert list(json.loads((out / "manifest.json").read_text())) == [good]


def test_verify_mirror_needs_a_manifest(tmp_path):
    with pytest.raises(InvalidInputError, match="manifest.json"):
        verify_mirror(tmp_path)
