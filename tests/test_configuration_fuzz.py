"""A seeded fuzz of the configuration loader (issue 11): one file of a small copy of the real
siibra-configurations catalogue is mutated (a value replaced by a hostile one, a key removed, or the
text cut), and loading must report that file and carry on: no exception escapes ``load_source``, and
whatever was built holds usable values (finite colours, whole-number indices)."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from atlascope.configuration.sources import FolderSource, load_source
from atlascope.core.registry import Registry
from shared_data import shared_path

FILES = (
    "spaces/icbm_152_2009c_nonl_asym.json",
    "parcellations/difumo64.json",
    "maps/mni152-difumo64-continuous.json",
    "maps/mni152-difumo64-labelled.json",
)

#: JSON texts put in place of one value (``1e400`` parses as inf, ``-1e400`` as -inf).
HOSTILE = [
    "1e400",
    "-1e400",
    str(10**30),
    str(-(10**30)),
    "NaN",
    "Infinity",
    "-1",
    "2.5",
    "0",
    "true",
    "null",
    '""',
    "[]",
    "{}",
    '"\\u0000\\ud800"',
    '"' + "x" * 5000 + '"',
    "[1e400, 0, 0]",
    '{"name": "n", "children": ' + "[" * 300 + "]" * 300 + "}",
    '"javascript:alert(1)"',
    '"../../../../etc/passwd"',
]


@pytest.fixture(scope="module")
def catalogue():
    return shared_path("siibra-configurations")


def _paths(node, prefix=()):
    """Every (path, value) in a JSON tree, leaves and containers alike."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:50]):  # long lists: the first entries are enough
            yield from _paths(v, (*prefix, i))


def _set(tree, path, value):
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _mutated(text: str, choice: int, mutation: str, hostile: str) -> str:
    tree = json.loads(text)
    paths = [p for p, _v in _paths(tree) if p]
    path = paths[choice % len(paths)]
    if mutation == "cut":
        return text[: choice % max(len(text), 1)]
    if mutation == "drop":
        node = tree
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return json.dumps(tree)
    _set(tree, path, "@@HOSTILE@@")
    return json.dumps(tree).replace('"@@HOSTILE@@"', hostile)


def _check_built(reg: Registry) -> None:
    for parc in reg.parcellations:
        for region in (r for top in parc for r in top):  # a Region iterates over its subtree
            if region.rgb is not None:
                assert all(isinstance(c, int) and 0 <= c <= 255 for c in region.rgb)
    for m in reg.maps:
        for entries in m.indices.values():
            for e in entries:
                for v in (e.volume, e.label, e.z):
                    assert v is None or (isinstance(v, int) and 0 <= v < 2**31)
                assert 0 <= e.volume < len(m.volumes)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from(FILES),
    st.integers(0, 10**6),
    st.sampled_from(["replace", "replace", "replace", "drop", "cut"]),
    st.sampled_from(HOSTILE),
)
def test_a_mutated_file_is_reported_and_the_rest_loads(catalogue, tmp_path_factory, rel, choice, mutation, hostile):
    dest = tmp_path_factory.mktemp("fuzzed-configuration")
    for f in FILES:
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(catalogue / f, dest / f)
    (dest / rel).write_text(_mutated((catalogue / rel).read_text(), choice, mutation, hostile))
    reg = Registry()
    report = load_source(FolderSource(dest), reg)  # must not raise, whatever the file holds
    failed = {p for p, _t, _w in report.failed}
    assert failed <= {str(dest / f) for f in FILES}
    if failed:
        event("file reported")
        assert all(w for _p, _t, w in report.failed)  # every failure says why
    else:
        event("mutation tolerated")
    if not rel.startswith("spaces/"):  # the untouched space file always loads
        assert report.built["siibra/space/v0.0.1"] == 1
    reg.ensure_loaded()
    _check_built(reg)
