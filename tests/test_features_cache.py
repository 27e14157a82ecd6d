"""Feature tables follow the one cache-integrity rule: a cached copy that does not parse is evicted and
fetched again once (atlascope.retrieval.fetching.fetch_parsed); a local file that does not parse is
reported, not "repaired"."""

from __future__ import annotations

import numpy as np
import pytest

from atlascope.errors import InvalidInputError
from atlascope.features import Anchor, ReceptorDensityFingerprint, StreamlineCounts
from atlascope.retrieval.cache import entry_path

pytest_plugins = ["httpserver"]

FINGERPRINT = (
    "receptor\tdensity (mean)\tdensity (sd)\tunit\nAMPA\t500.5\t50.1\tfmol/mg\nNMDA\t1200\t99\tfmol/mg\n"
)
MATRIX = ",a,b,c\na,0,1,2\nb,1,0,3\nc,2,3,0\n"


def test_corrupt_cached_fingerprint_is_fetched_again(http_server, isolated_cache):
    url = http_server.add("/receptors/fp.tsv", FINGERPRINT)
    first = ReceptorDensityFingerprint(Anchor(region="Area X"), url).data
    assert http_server.count("/receptors/fp.tsv") == 1
    entry_path(url).write_bytes(b"\xff\xfe\x00not a table\x00\xff")  # damaged on disk
    again = ReceptorDensityFingerprint(Anchor(region="Area X"), url).data
    assert http_server.count("/receptors/fp.tsv") == 2
    assert list(again.index) == ["AMPA", "NMDA"] and again.loc["NMDA", "mean"] == 1200
    assert again.equals(first)


def test_corrupt_cached_matrix_is_fetched_again(http_server, isolated_cache):
    url = http_server.add("/conn/000.csv", MATRIX)
    base = url.rsplit("/", 1)[0]

    def feature() -> StreamlineCounts:
        return StreamlineCounts(Anchor(region_names=["a", "b", "c"]), {"000": "000.csv"}, base_url=base)

    np.testing.assert_array_equal(feature().get_matrix("000").to_numpy(), [[0, 1, 2], [1, 0, 3], [2, 3, 0]])
    entry_path(url).write_text("0,1,2\n1,0,3\n")  # truncated: not a square matrix any more
    np.testing.assert_array_equal(feature().get_matrix("000").to_numpy(), [[0, 1, 2], [1, 0, 3], [2, 3, 0]])
    assert http_server.count("/conn/000.csv") == 2


def test_unreadable_local_table_is_reported(tmp_path):
    path = tmp_path / "fp.tsv"
    path.write_bytes(b"\xff\xfe\x00not a table\x00\xff")
    with pytest.raises(InvalidInputError, match="not a tab-separated table"):
        _ = ReceptorDensityFingerprint(Anchor(region="Area X"), str(path)).data
