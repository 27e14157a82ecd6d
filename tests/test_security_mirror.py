"""Regression tests of issue 11 (and issue 9) for mirrors and zip members: symbolic links leaving a
mirror, a foreign manifest.json, over-long file names from Allen API queries, deeply nested members."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from atlascope.cli import main
from atlascope.errors import InvalidInputError, RetrievalError
from atlascope.files import fit_name
from atlascope.retrieval import build_mirror, fetch_json, mirror_relpath, zip_member, zip_member_path
from atlascope.retrieval.mirror import mirror_file, mirror_url
from httpserver import json_bytes, zip_bytes

pytest_plugins = ["httpserver"]

ALLEN = (
    "https://api.brain-map.org/api/v2/data/query.json?criteria=service::human_microarray_expression"
    "[probes$in" + ",".join(str(1023146 + 17 * i) for i in range(60)) + "][donors$eq15496]"
)


def test_mirror_file_linking_outside_is_refused_for_reading(tmp_path, isolated_cache, monkeypatch):
    secret = tmp_path / "secret.json"
    secret.write_text('{"password": "hunter2"}')
    mirror = tmp_path / "mirror"
    url = "https://example.org/maps/a.json"
    link = mirror_file(url, mirror)
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    monkeypatch.setenv("ATLASCOPE_MIRROR", str(mirror))
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    with pytest.raises(InvalidInputError, match="symbolic link"):
        fetch_json(url)


def test_mirror_folder_linking_outside_is_refused(tmp_path, isolated_cache, monkeypatch):
    outside = tmp_path / "outside"
    (outside / "maps").mkdir(parents=True)
    (outside / "maps" / "a.json").write_text('{"x": 1}')
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "example.org").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidInputError, match="symbolic link"):
        mirror_file("https://example.org/maps/a.json", mirror)


def test_links_inside_the_mirror_are_fine(tmp_path, isolated_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    real = mirror / "store" / "a.json"
    real.parent.mkdir(parents=True)
    real.write_bytes(json_bytes({"inside": True}))
    link = mirror_file("https://example.org/a.json", mirror)
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    monkeypatch.setenv("ATLASCOPE_MIRROR", str(mirror))
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    assert fetch_json("https://example.org/a.json") == {"inside": True}


def test_build_mirror_does_not_write_through_a_host_symlink(http_server, tmp_path, isolated_cache):
    http_server.add("/maps/a.json", json_bytes({"a": 1}))
    url = http_server.url_for("/maps/a.json")
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "mirror"
    out.mkdir()
    host = mirror_relpath(url).parts[0]
    (out / host).symlink_to(outside, target_is_directory=True)
    result = CliRunner().invoke(main, ["mirror", "--out", str(out), "--urls-from", "-", "-q"], input=url + "\n")
    assert result.exit_code == 2
    assert "symbolic link" in result.output
    assert list(outside.iterdir()) == []


def test_foreign_manifest_is_refused_and_left_alone(http_server, tmp_path, isolated_cache):
    http_server.add("/b.json", json_bytes({"b": 2}))
    out = tmp_path / "project"
    out.mkdir()
    foreign = json.dumps({"name": "my-web-app", "version": "1.0", "icons": [{"src": "a.png"}]})
    (out / "manifest.json").write_text(foreign)
    with pytest.raises(InvalidInputError, match="not an atlascope mirror manifest"):
        build_mirror([http_server.url_for("/b.json")], out, progress=False)
    assert (out / "manifest.json").read_text() == foreign
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


def test_own_manifest_is_extended(http_server, tmp_path, isolated_cache):
    http_server.add("/c.json", json_bytes({"c": 3}))
    http_server.add("/d.json", json_bytes({"d": 4}))
    out = tmp_path / "mirror"
    build_mirror([http_server.url_for("/c.json")], out, progress=False)
    build_mirror([http_server.url_for("/d.json")], out, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest) == sorted([http_server.url_for("/c.json"), http_server.url_for("/d.json")])


def test_long_query_names_fit_the_file_system():
    rel = mirror_relpath(ALLEN)
    assert len(ALLEN) > 500
    assert all(len(part.encode()) <= 255 for part in rel.parts)
    assert rel.parts[-1].startswith("query.json%3Fcriteria%3Dservice")  # readable prefix kept
    other = ALLEN.replace("donors$eq15496", "donors$eq15497")
    assert mirror_relpath(other) != rel  # the hash keeps queries apart
    assert mirror_relpath(ALLEN) == rel  # deterministic
    assert fit_name("short.json") == "short.json"


def test_long_allen_query_through_a_folder_mirror(http_server, tmp_path, isolated_cache, monkeypatch):
    answer = json_bytes({"success": True, "msg": [{"probes": [1, 2, 3]}]})
    query = ALLEN.split("?", 1)[1].replace("[", "%5B").replace("]", "%5D")  # as requests sends it
    http_server.add(f"/api/v2/data/query.json?{query}", answer)
    url = http_server.url_for("/api/v2/data/query.json") + "?" + query
    out = build_mirror([url], tmp_path / "mirror", progress=False)
    assert mirror_file(url, out).is_file()
    monkeypatch.setenv("ATLASCOPE_MIRROR", str(out))
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "fresh-cache"))
    assert fetch_json(url) == json.loads(answer)
    assert http_server.count("/api/v2/data/query.json") == 1  # built once, then read from the folder


def test_long_query_through_an_http_mirror(http_server, tmp_path, isolated_cache, monkeypatch):
    answer = json_bytes({"via": "http mirror"})
    url = ALLEN
    mirror_root = tmp_path / "m"
    path = mirror_file(url, mirror_root)
    path.parent.mkdir(parents=True)
    path.write_bytes(answer)
    http_server.serve_folder(mirror_root)
    monkeypatch.setenv("ATLASCOPE_MIRROR", http_server.url)
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    assert mirror_url(url, http_server.url).startswith(http_server.url)
    assert fetch_json(url) == {"via": "http mirror"}


def test_zip_member_1500_folders_deep_is_a_clear_error(http_server, isolated_cache):
    deep = "/".join(["d"] * 1500) + "/leaf.txt"
    http_server.add("/deep.zip", zip_bytes({deep: b"deep data", "top.txt": b"top"}))
    url = http_server.url_for("/deep.zip")
    with pytest.raises(InvalidInputError, match="nested 1500 folders deep"):
        zip_member_path(url, deep)
    assert zip_member(url, deep) == b"deep data"  # reading the bytes needs no folders
    assert zip_member_path(url, "top.txt").read_bytes() == b"top"


def test_zip_member_with_a_long_name_extracts(http_server, isolated_cache):
    long = "x" * 300 + ".csv"
    http_server.add("/long.zip", zip_bytes({f"sub/{long}": b"1,2\n"}))
    path = zip_member_path(http_server.url_for("/long.zip"), f"sub/{long}")
    assert path.read_bytes() == b"1,2\n" and len(path.name.encode()) <= 255


def test_mirror_build_failure_for_a_link_is_listed_not_crashing(http_server, tmp_path, isolated_cache):
    http_server.add("/e.json", json_bytes({"e": 5}))
    http_server.add("/f.json", json_bytes({"f": 6}))
    out = tmp_path / "mirror"
    out.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    host = mirror_relpath(http_server.url_for("/e.json")).parts[0]
    (out / host).mkdir()
    (out / host / "e.json").symlink_to(outside / "e.json")
    with pytest.raises(RetrievalError, match="symbolic link"):
        build_mirror([http_server.url_for("/e.json"), http_server.url_for("/f.json")], out, progress=False)
    assert not (outside / "e.json").exists()
    assert (out / host / "f.json").is_file()
    assert os.path.islink(out / host / "e.json")
    assert Path(out / "manifest.json").is_file()
