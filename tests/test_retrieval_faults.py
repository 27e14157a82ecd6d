"""fetch() against a real local server that fails in scripted ways, for NIfTI, JSON and zip content.

After every scenario the cache folder is listed: it must hold either the one complete, valid file
or nothing at all (lock files aside) — never a partial, temporary or corrupt file.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nibabel as nib
import pytest

from atlascope.errors import IntegrityError, RetrievalError
from atlascope.retrieval import fetch
from httpserver import json_bytes, nifti_gz_bytes, zip_bytes

pytest_plugins = ["httpserver"]

PAYLOADS = {
    "nifti": ("/data-proxy.ebrains.eu/api/v1/buckets/maps/hOc1_pmap.nii.gz", nifti_gz_bytes()),
    "json": ("/data-proxy.ebrains.eu/api/v1/buckets/conf/space.json", json_bytes()),
    "zip": ("/data-proxy.ebrains.eu/api/v1/buckets/conn/connectivity.zip", zip_bytes()),
}

RECOVERABLE = [
    ["500"],
    ["503"],
    ["429:1"],
    ["reset"],
    ["truncate"],
    ["corrupt"],  # a validation failure counts as transient once
    ["wrong"],
    ["500", "reset", "truncate"],  # three failures, the fourth and last attempt succeeds
]


def cache_listing(cache: Path) -> list[str]:
    """Names in the cache's files folder that are not lock files."""
    folder = cache / "files"
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def assert_valid(kind: str, path: Path, expected: bytes) -> None:
    assert path.read_bytes() == expected
    if kind == "nifti":
        img = nib.load(path)
        assert img.shape == (6, 5, 4)
        assert img.get_fdata().shape == (6, 5, 4)
    elif kind == "json":
        assert json.loads(path.read_text("utf-8"))["name"].startswith("MNI 152")
    else:
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            assert len(zf.namelist()) == 2


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
@pytest.mark.parametrize("faults", RECOVERABLE, ids=lambda f: "+".join(f))
def test_transient_fault_then_success(http_server, isolated_cache, fast_retries, kind, faults):
    path, body = PAYLOADS[kind]
    url = http_server.add(path, body)
    http_server.set_faults(path, faults)

    local = fetch(url)

    assert http_server.count(path) == len(faults) + 1
    assert_valid(kind, local, body)
    assert local.parent == isolated_cache / "files"
    assert cache_listing(isolated_cache) == [local.name]


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
@pytest.mark.parametrize("fault", ["corrupt", "wrong"])
def test_persistent_bad_content_is_integrity_error(http_server, isolated_cache, fast_retries, kind, fault):
    path, body = PAYLOADS[kind]
    url = http_server.add(path, body)
    http_server.set_faults(path, [fault], repeat_last=True)

    with pytest.raises(IntegrityError) as info:
        fetch(url)

    message = str(info.value)
    assert url in message
    assert "failed validation" in message
    if fault == "wrong":
        assert "HTML" in message
    assert http_server.count(path) == 2  # validation failures are retried once only
    assert cache_listing(isolated_cache) == []


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_persistent_truncation_is_retrieval_error(http_server, isolated_cache, fast_retries, kind):
    path, body = PAYLOADS[kind]
    url = http_server.add(path, body)
    http_server.set_faults(path, ["truncate"], repeat_last=True)

    with pytest.raises(RetrievalError) as info:
        fetch(url)

    assert url in str(info.value)
    assert "ATLASCOPE_MIRROR" in str(info.value)
    assert http_server.count(path) == fast_retries.MAX_ATTEMPTS
    assert cache_listing(isolated_cache) == []


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_persistent_500_names_url_status_and_fix(http_server, isolated_cache, fast_retries, kind):
    path, body = PAYLOADS[kind]
    url = http_server.add(path, body)
    http_server.set_faults(path, ["500"], repeat_last=True)

    with pytest.raises(RetrievalError) as info:
        fetch(url)

    message = str(info.value)
    assert url in message and "HTTP 500" in message
    assert "check the network" in message.lower() and "ATLASCOPE_MIRROR" in message
    assert not isinstance(info.value, IntegrityError)
    assert http_server.count(path) == 4
    assert cache_listing(isolated_cache) == []


def test_size_and_sha256_checked_before_caching(http_server, isolated_cache, fast_retries):
    import hashlib

    path, body = PAYLOADS["json"]
    url = http_server.add(path, body)
    good = hashlib.sha256(body).hexdigest()

    with pytest.raises(IntegrityError, match="SHA-256"):
        fetch(url, sha256="0" * 64)
    assert cache_listing(isolated_cache) == []
    with pytest.raises(IntegrityError, match="size"):
        fetch(url, size=len(body) + 1)
    assert cache_listing(isolated_cache) == []

    local = fetch(url, sha256=good.upper(), size=len(body))
    assert local.read_bytes() == body
    # a later call with the same expectations is a cache hit (no new request)
    before = http_server.count(path)
    assert fetch(url, sha256=good, size=len(body)) == local
    assert http_server.count(path) == before


def test_explicit_kind_overrides_suffix(http_server, isolated_cache, fast_retries):
    """An API URL without suffix validated as JSON; HTML from it is refused."""
    url = http_server.add("/api/v2/query", json_bytes({"ok": True}))
    assert json.loads(fetch(url, kind="json").read_text()) == {"ok": True}

    bad = http_server.add("/api/v2/other", b"<html><body>login</body></html>")
    with pytest.raises(IntegrityError, match="HTML"):
        fetch(bad, kind="json")


def test_corrupt_gzip_content_encoding_is_integrity_error(http_server, isolated_cache, fast_retries):
    """JSON sent gzip-compressed on the wire (Content-Encoding) and corrupted: decoding fails."""
    path, body = PAYLOADS["json"]
    url = http_server.add(path, body, encoding="gzip")
    assert fetch_json_bytes(url) == body  # the clean case decodes transparently

    url2 = http_server.add(path + "2", body, encoding="gzip")
    http_server.set_faults(path + "2", ["corrupt"], repeat_last=True)
    with pytest.raises(IntegrityError) as info:
        fetch(url2, kind="json")
    assert url2 in str(info.value)
    assert [n for n in cache_listing(isolated_cache) if "space.json2" in n] == []


def fetch_json_bytes(url: str) -> bytes:
    return fetch(url, kind="json").read_bytes()


def test_gzip_kind_validates_stream(http_server, isolated_cache, fast_retries):
    import gzip

    body = gzip.compress(b"label\tname\n1\thOc1\n" * 200)
    url = http_server.add("/tables/labels.tsv.gz", body)
    http_server.set_faults("/tables/labels.tsv.gz", ["corrupt", "ok"])
    assert gzip.decompress(fetch(url).read_bytes()).startswith(b"label")
    assert http_server.count("/tables/labels.tsv.gz") == 2

    url = http_server.add("/tables/broken.tsv.gz", body[: len(body) // 2])  # truncated at the source
    with pytest.raises(IntegrityError, match="gzip"):
        fetch(url)
    assert not [n for n in cache_listing(isolated_cache) if "broken" in n]


def test_nifti_with_too_little_data_is_refused(http_server, isolated_cache, fast_retries):
    import gzip

    raw = gzip.decompress(nifti_gz_bytes())
    url = http_server.add("/maps/short.nii.gz", gzip.compress(raw[:-20]))
    with pytest.raises(IntegrityError, match="incomplete"):
        fetch(url)
    url = http_server.add("/maps/plain.nii", raw)
    assert nib.load(fetch(url)).shape == (6, 5, 4)


@pytest.mark.parametrize("fault", ["ok", "truncate", "reset", "corrupt"])
def test_gz_file_labelled_content_encoding_gzip_is_stored_as_sent(
    http_server, isolated_cache, fast_retries, fault
):
    """Buckets often serve ``x.nii.gz`` with ``Content-Encoding: gzip``: keep the .gz bytes as they are."""
    body = nifti_gz_bytes()
    url = http_server.add("/bucket/labelled.nii.gz", body, headers={"Content-Encoding": "gzip"})
    http_server.set_faults("/bucket/labelled.nii.gz", [fault])
    path = fetch(url)
    assert path.read_bytes() == body
    assert nib.load(path).shape == (6, 5, 4)
    assert cache_listing(isolated_cache) == [path.name]


def test_transfer_compressed_nifti_is_decoded(http_server, isolated_cache, fast_retries):
    import gzip

    raw = gzip.decompress(nifti_gz_bytes())
    url = http_server.add("/maps/plain-on-the-wire.nii", raw, encoding="gzip")
    assert fetch(url).read_bytes() == raw
