"""Zip archives: downloaded once, members read or extracted on demand, unsafe names refused."""

from __future__ import annotations

import os

import pytest

from atlascope.errors import InvalidInputError, NotFoundError
from atlascope.retrieval import zip_member, zip_member_path, zip_members
from httpserver import zip_bytes

pytest_plugins = ["httpserver"]

ARCHIVE = "/data-proxy.ebrains.eu/api/v1/buckets/hcp/1000BRAINS_StructuralConnectivity.zip"


@pytest.fixture
def archive(http_server, isolated_cache):
    members = {
        "subject01/matrix.csv": b",a,b\na,0,1\nb,1,0\n",
        "subject02/matrix.csv": b",a,b\na,0,2\nb,2,0\n",
        "README.txt": b"two subjects\n",
    }
    url = http_server.add(ARCHIVE, zip_bytes(members))
    return url, members


def test_members_read_from_one_download(http_server, archive):
    url, members = archive
    assert sorted(zip_members(url)) == sorted(members)
    for name, data in members.items():
        assert zip_member(url, name) == data
    assert http_server.count(ARCHIVE) == 1


def test_member_path_extracted_once(http_server, isolated_cache, archive):
    url, members = archive
    path = zip_member_path(url, "subject02/matrix.csv")
    assert path.read_bytes() == members["subject02/matrix.csv"]
    assert path.is_relative_to(isolated_cache / "extracted")
    assert path.parts[-2:] == ("subject02", "matrix.csv")
    os.utime(path, (1_000_000, 1_000_000))
    assert zip_member_path(url, "subject02/matrix.csv") == path
    assert path.stat().st_mtime > 1_000_000  # a hit, touched, not rewritten from scratch
    assert http_server.count(ARCHIVE) == 1
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(".part-")]
    assert leftovers == []


@pytest.mark.parametrize(
    "member",
    [
        "../evil.txt",
        "subject01/../../evil.txt",
        "/etc/passwd",
        "\\windows\\evil",
        "C:\\evil.txt",
        "..\\evil",
        "",
    ],
)
def test_unsafe_member_names_refused(http_server, archive, member):
    url, _ = archive
    with pytest.raises(InvalidInputError, match="Refusing"):
        zip_member(url, member)
    with pytest.raises(InvalidInputError, match="Refusing"):
        zip_member_path(url, member)
    assert http_server.count(ARCHIVE) == 0  # refused before anything is downloaded


def test_missing_member_lists_available_names(http_server, archive):
    url, _ = archive
    with pytest.raises(NotFoundError) as info:
        zip_member(url, "subject03/matrix.csv")
    message = str(info.value)
    assert "subject03/matrix.csv" in message and "subject01/matrix.csv" in message and url in message
    with_dirs = http_server.add("/with-dirs.zip", zip_bytes({"subject01/": b"", "subject01/m.csv": b"1"}))
    with pytest.raises(NotFoundError, match="folder"):
        zip_member_path(with_dirs, "subject01/")
    assert zip_members(with_dirs) == ["subject01/m.csv"]


def test_local_zip_file(tmp_path, isolated_cache):
    local = tmp_path / "conn.zip"
    local.write_bytes(zip_bytes())
    assert zip_member(local, "subject01/matrix.csv").startswith(b",r0")
    extracted = zip_member_path(str(local), "subject01/matrix.csv")
    assert extracted.read_bytes() == zip_member(local, "subject01/matrix.csv")
    # an archive changed in place is extracted again
    local.write_bytes(zip_bytes({"subject01/matrix.csv": b"new"}))
    os.utime(local, (2_000_000_000, 2_000_000_000))
    assert zip_member_path(local, "subject01/matrix.csv").read_bytes() == b"new"
