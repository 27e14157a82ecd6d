"""Precomputed chunks in the jpeg and compressed_segmentation encodings, written with the same
libraries neuroglancer's own tools use (Pillow, seung-lab's compressed_segmentation), served over
127.0.0.1 and read back through a mirror."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pytest

from atlascope.errors import InvalidInputError, RetrievalError
from atlascope.volumes.precomputed import PrecomputedProvider
from httpserver import LocalServer

SIZE = (24, 20, 12)
CHUNK = (16, 16, 8)


def _chunks(arr: np.ndarray, encode) -> dict[str, bytes]:
    out = {}
    for x0 in range(0, SIZE[0], CHUNK[0]):
        for y0 in range(0, SIZE[1], CHUNK[1]):
            for z0 in range(0, SIZE[2], CHUNK[2]):
                x1, y1, z1 = (min(a + c, s) for a, c, s in zip((x0, y0, z0), CHUNK, SIZE))
                out[f"{x0}-{x1}_{y0}-{y1}_{z0}-{z1}"] = encode(arr[x0:x1, y0:y1, z0:z1])
    return out


def _jpeg(block: np.ndarray) -> bytes:
    from PIL import Image

    x, y, z = block.shape
    img = np.transpose(block, (2, 1, 0)).reshape(z * y, x)  # width x, height y*z
    buf = io.BytesIO()
    Image.fromarray(img.astype(np.uint8), mode="L").save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _cseg(block: np.ndarray) -> bytes:
    import compressed_segmentation as cseg

    return cseg.compress(np.asfortranarray(block), block_size=(8, 8, 8), order="F")


def _serve(srv: LocalServer, name: str, arr: np.ndarray, encoding: str, encode) -> str:
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": "image" if encoding == "jpeg" else "segmentation",
        "data_type": str(arr.dtype),
        "num_channels": 1,
        "scales": [
            {
                "key": "1mm",
                "size": list(SIZE),
                "resolution": [1e6, 1e6, 1e6],
                "voxel_offset": [0, 0, 0],
                "chunk_sizes": [list(CHUNK)],
                "encoding": encoding,
                **({"compressed_segmentation_block_size": [8, 8, 8]} if encoding != "jpeg" else {}),
            }
        ],
    }
    srv.add(f"/host.example/{name}/info", json.dumps(info).encode())
    for key, data in _chunks(arr, encode).items():
        srv.add(f"/host.example/{name}/1mm/{key}", data)
    return f"https://host.example/{name}"


@pytest.fixture
def served(monkeypatch, tmp_path):
    with LocalServer() as srv:
        monkeypatch.setenv("ATLASCOPE_MIRROR", srv.url)
        monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
        monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
        yield srv


def test_jpeg_chunks(served):
    x, y, z = np.meshgrid(*(np.arange(s) for s in SIZE), indexing="ij")
    arr = (40 + 6 * x + 4 * y + 3 * z).astype(np.uint8)  # smooth, so JPEG is nearly lossless
    url = _serve(served, "grey", arr, "jpeg", _jpeg)
    img = PrecomputedProvider(url).fetch(resolution_mm=1)
    got = np.asarray(img.dataobj)
    assert got.shape == SIZE and got.dtype == np.uint8
    err = np.abs(got.astype(int) - arr.astype(int))
    assert err.mean() < 1.5 and err.max() <= 10  # lossy, but in the right voxel order
    box = PrecomputedProvider(url).fetch(resolution_mm=1, bbox_mm=((10, 5, 3), (20, 17, 10)))
    np.testing.assert_allclose(np.asarray(box.dataobj), arr[10:21, 5:18, 3:11], atol=10)


def test_compressed_segmentation_chunks(served):
    rng = np.random.default_rng(3)
    labels = np.zeros(SIZE, np.uint32)
    for lab in range(1, 6):  # five boxes of labels, some crossing chunk borders
        lo = rng.integers(0, [s - 4 for s in SIZE])
        hi = lo + rng.integers(3, 10, 3)
        labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = lab * 1000
    url = _serve(served, "labels", labels, "compressed_segmentation", _cseg)
    got = np.asarray(PrecomputedProvider(url).fetch(resolution_mm=1).dataobj)
    np.testing.assert_array_equal(got, labels)  # lossless


def test_corrupt_compressed_segmentation_is_a_clear_error(served):
    labels = np.ones(SIZE, np.uint32)
    url = _serve(served, "broken", labels, "compressed_segmentation", lambda b: b"\x00\x01garbage")
    with pytest.raises(RetrievalError, match="compressed_segmentation"):
        PrecomputedProvider(url).fetch(resolution_mm=1)
    assert _cached_chunks() == []


def test_truncated_gzip_compressed_segmentation_chunk_is_invalid_input():
    from atlascope.volumes.precomputed import _decode_cseg

    with pytest.raises(InvalidInputError, match="truncated or corrupt gzip"):
        _decode_cseg(b"\x1f\x8b\x08garbage", (16, 16, 8, 1), np.dtype(np.uint32), (8, 8, 8), "local")


def _cached_chunks() -> list[str]:
    from atlascope.retrieval import cache_dir

    files = cache_dir() / "files"
    return sorted(p.name for p in files.iterdir() if "-0-" in p.name and not p.name.endswith(".lock"))


def _gz(block: np.ndarray) -> bytes:
    return gzip.compress(np.asfortranarray(block).tobytes(order="F"), mtime=0)


BAD_BODIES = {
    "short gzip": lambda good: good[: len(good) // 2],
    "corrupt gzip": lambda good: good[:10] + bytes(b ^ 0xFF for b in good[10:30]) + good[30:],
    "empty": lambda good: b"",
    "html": lambda good: b"<!doctype html><html><body>Service busy</body></html>",
    "json": lambda good: b'{"error": "not found"}',
}


@pytest.mark.parametrize("fault", sorted(BAD_BODIES))
def test_bad_raw_chunk_is_never_cached_and_later_reads_recover(served, fault, monkeypatch):
    from atlascope.retrieval import http as retrieval_http

    monkeypatch.setattr(retrieval_http, "BACKOFF_BASE", 0.01)
    rng = np.random.default_rng(5)
    arr = rng.integers(0, 1000, SIZE).astype(np.uint16)
    url = _serve(served, "raw", arr, "raw", _gz)
    chunk = "/host.example/raw/1mm/0-16_0-16_0-8"
    good = served._lookup(chunk, chunk).body
    served.add(chunk, BAD_BODIES[fault](good))
    with pytest.raises(RetrievalError, match="0-16_0-16_0-8") as info:
        PrecomputedProvider(url).fetch(resolution_mm=1)
    assert "EOFError" not in type(info.value).__name__
    assert "0-16_0-16_0-8" not in " ".join(_cached_chunks())
    served.add(chunk, good)  # the server recovers: no cache clearing needed
    got = np.asarray(PrecomputedProvider(url).fetch(resolution_mm=1).dataobj)
    np.testing.assert_array_equal(got, arr)


def test_bad_chunk_already_in_the_cache_is_evicted(served):
    arr = np.arange(np.prod(SIZE), dtype=np.uint16).reshape(SIZE)
    url = _serve(served, "evict", arr, "raw", _gz)
    PrecomputedProvider(url).fetch(resolution_mm=1)
    from atlascope.retrieval.cache import entry_path

    entry = entry_path(f"{url}/1mm/0-16_0-16_0-8")
    entry.write_bytes(b"\x1f\x8b\x08\x00truncated")  # damaged on disk
    got = np.asarray(PrecomputedProvider(url).fetch(resolution_mm=1).dataobj)
    np.testing.assert_array_equal(got, arr)
    assert served.count("/host.example/evict/1mm/0-16_0-16_0-8") == 2


def test_volume_of_interest_opens_its_precomputed_provider(served):
    from atlascope.features import VolumeOfInterest
    from atlascope.features.base import Anchor

    labels = np.zeros(SIZE, np.uint32)
    labels[4:12, 6:14, 2:7] = 5
    url = _serve(served, "voi", labels, "compressed_segmentation", _cseg)
    voi = VolumeOfInterest(Anchor(space="mni152"), {"neuroglancer/precomputed": url}, name="a VOI")
    vol = voi.fetch()
    assert vol.space.name.startswith("MNI 152")
    np.testing.assert_array_equal(np.asarray(vol.fetch().dataobj), labels)
