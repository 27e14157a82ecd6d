"""Offline without cache or mirror: the error names the cause and the fix, and the cache stays clean."""

from __future__ import annotations

import pytest

from atlascope.configuration.builtin import load_builtin
from atlascope.configuration.sources import load_source, source_from_spec
from atlascope.core.registry import Registry
from atlascope.errors import NotFoundError, OfflineError


def test_offline_configuration_source_failure_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ATLASCOPE_MIRROR", raising=False)
    reg = Registry()
    reg.add_loader("builtin", load_builtin)
    source = source_from_spec("github:siibra-1.0.1")
    reg.add_loader("catalogue", lambda r: load_source(source, r))
    with pytest.raises(NotFoundError) as info:
        reg.get_map("julich 3.0.3", "mni152", "statistical")
    msg = str(info.value)
    assert "ATLASCOPE_OFFLINE" in msg and "ATLASCOPE_MIRROR" in msg and "failed to load" in msg
    # the offline pack still works beside the failed source
    assert reg.get_map("julich fsl", "mni152", "statistical").maptype == "statistical"
    files = list((tmp_path / "cache").rglob("*"))
    assert not [
        f for f in files if f.is_file() and f.suffix not in (".lock", ".TAG") and f.name != "CACHEDIR.TAG"
    ]


def test_offline_fetch_raises_offline_error(monkeypatch, tmp_path):
    from atlascope.retrieval import fetch

    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ATLASCOPE_MIRROR", raising=False)
    with pytest.raises(OfflineError, match="atlascope mirror"):
        fetch("https://data-proxy.ebrains.eu/api/v1/buckets/x/y.nii.gz")
