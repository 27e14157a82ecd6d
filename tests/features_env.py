"""Shared set-up of the feature tests (PYTEST_DONT_REWRITE): a test registry with the catalogue's
feature entries, mini Julich-Brain 2.9 / 3.0.3 trees, an hOc1 left map, and the mirror served over
127.0.0.1."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import feature_fixtures as ff
from atlascope.core.parcellation import Parcellation
from atlascope.core.region import Region
from atlascope.core.registry import REGISTRY, Registry

JB = "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579"


def julich_tree(version: str, pid: str) -> Parcellation:
    """A small Julich-Brain tree with the real names of a few occipital and frontal areas."""

    def area(name: str) -> Region:
        return Region(name, children=[Region(f"{name} left"), Region(f"{name} right")])

    occipital = Region(
        "occipital cortex",
        children=[area("Area hOc1 (V1, 17, CalcS)"), area("Area hOc2 (V2, 18)"), area("Area hOc3d (Cuneus)")],
    )
    frontal = Region(
        "frontal lobe", children=[area("Area 44 (IFG)"), area("Area 45 (IFG)"), area("Area 4a (PreCG)")]
    )
    return Parcellation(
        pid,
        f"Julich-Brain Cytoarchitectonic Atlas (v{version})",
        f"Julich-Brain v{version}",
        [occipital, frontal],
        version=version,
        family="julich-brain",
    )


@dataclass
class Env:
    registry: Registry
    root: Path
    server: object
    shared: Path
    receptors: dict
    cells: dict
    jb303: Parcellation
    jb29: Parcellation


def make_env(shared: Path, root: Path, server) -> Env:
    """Build the mirror tree, serve it, and fill a registry (features built lazily from the JSON)."""
    reg = Registry()
    jb303 = reg.add_parcellation(julich_tree("3.0.3", f"{JB}-300"))
    jb29 = reg.add_parcellation(julich_tree("2.9", f"{JB}-290"))
    dk = REGISTRY.get_parcellation("desikan")

    rec_entries = ff.load_entries(shared, "tabular/fingerprints/receptor")
    cell_entries = ff.load_entries(shared, "tabular/layerstatistics/celldensity")
    conn_entries = ff.load_entries(shared, "connectivity/regional")
    receptors = ff.place_receptors(root, shared, rec_entries)
    cells = ff.place_cells(root, shared, cell_entries)
    sc303 = next(s for p, s in conn_entries if p.name.endswith("maps_3_0_streamlinecounts_hcp.json"))
    ff.place_streamline_zip(root, sc303)
    ff.place_enigma(root, shared)
    enigma, _ = ff.enigma_specs(shared, dk.id)

    ff.build_into(reg, rec_entries)
    ff.build_into(reg, cell_entries)
    ff.build_into(reg, conn_entries)
    ff.build_into(reg, [(Path(f"enigma-{s['modality']}.json"), s) for s in enigma])
    server.serve_folder(root)
    return Env(reg, root, server, shared, receptors, cells, jb303, jb29)


class mirror_env:
    """Context manager setting ATLASCOPE_MIRROR to the server (restored afterwards)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.saved: dict[str, str | None] = {}

    def __enter__(self):
        for k in ("ATLASCOPE_MIRROR", "ATLASCOPE_OFFLINE"):
            self.saved[k] = os.environ.get(k)
        os.environ["ATLASCOPE_MIRROR"] = self.url
        os.environ.pop("ATLASCOPE_OFFLINE", None)
        return self

    def __exit__(self, *exc) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
