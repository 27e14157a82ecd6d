"""The catalogue loader puts feature entries into the registry, so features.get finds them."""

from __future__ import annotations

import pytest

from atlascope.configuration.sources import FolderSource, load_source
from atlascope.core.registry import Registry
from atlascope.features import (
    CompoundFeature,
    LayerwiseCellDensity,
    ReceptorDensityFingerprint,
    StreamlineCounts,
    get,
)
from shared_data import shared_path


@pytest.fixture(scope="module")
def catalogue_registry():
    from atlascope.configuration.builtin import load_builtin

    reg = Registry()
    load_builtin(reg)
    report = load_source(FolderSource(shared_path("siibra-configurations")), reg)
    return reg, report


def test_feature_entries_are_registered(catalogue_registry):
    reg, report = catalogue_registry
    built = sum(n for t, n in report.built.items() if t.startswith("siibra/feature/"))
    assert built > 400
    pack = [f for f in reg.features if f.provenance.source == "atlascope offline feature pack"]
    assert pack  # the builtin offline feature pack is loaded too
    assert len(reg.features) == built + len(pack)
    assert not report.failed
    # depth-resolved cell profiles are counted as not usable, not silently dropped
    assert report.unsupported["siibra/feature/profile/celldensity/v0.1"] > 0


def test_features_get_finds_catalogue_features_without_reading_data(catalogue_registry, monkeypatch):
    reg, _ = catalogue_registry

    def no_download(*a, **k):  # listing and ranking must not touch data files
        raise AssertionError("a data file was fetched")

    monkeypatch.setattr("atlascope.retrieval.fetch", no_download)
    hoc1 = "Area hOc1 (V1, 17, CalcS) left"
    receptors = get(hoc1, "receptor", registry=reg)
    assert receptors and all(isinstance(f, ReceptorDensityFingerprint) for f in receptors)
    qual = next(iter(receptors[0].anchor.regions.values()))
    assert qual == "contains"  # the fingerprint is anchored at the area, the query is its left half
    conn = get(hoc1, "streamline counts", registry=reg)
    assert conn and all(isinstance(f, CompoundFeature) for f in conn)  # siibra's compound features
    assert any(isinstance(f.base, StreamlineCounts) for f in conn)
    assert all(isinstance(f, LayerwiseCellDensity) for f in get(hoc1, "cell density", registry=reg))


def test_each_query_gets_its_own_qualifications(catalogue_registry):
    reg, _ = catalogue_registry
    left = get("Area hOc1 (V1, 17, CalcS) left", "receptor", registry=reg)[0]
    area = get("Area hOc1 (V1, 17, CalcS)", "receptor", registry=reg)[0]
    assert list(left.anchor.regions.values()) == ["contains"]
    assert list(area.anchor.regions.values()) == ["exact"]  # the earlier answer is not overwritten
    assert left._cache is area._cache  # views of one feature share its loaded data
    assert not any(f.anchor._matches for f in reg.features)  # the registry's features stay untouched
