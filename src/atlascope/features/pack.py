"""The offline feature pack: real published data shipped in ``atlascope/features/data``.

:func:`load_feature_pack` adds to a registry (it runs with the builtin offline pack):

- one :class:`~atlascope.features.receptors.ReceptorDensityFingerprint` per Zilles &
  Palomero-Gallagher (2018) area and counterpart of the explicit mapping table
  ``zilles2018_area_mapping.tsv`` (anchored at the offline Juelich (FSL) area and, as a separate
  feature, at the Julich-Brain name; unmapped areas get no feature);
- one :class:`~atlascope.features.cells.VonEconomoCellDensity` per row of
  ``vonEconomo_correspondence.tsv`` (qualified "homologous area" in query answers);
- the ENIGMA HCP group-average :class:`~atlascope.features.connectivity_matrices.StreamlineCounts`
  and :class:`~atlascope.features.connectivity_matrices.FunctionalConnectivity` of the 68 cortical
  Desikan-Killiany regions.

Sources, citations and licences: ``data/PROVENANCE.md`` and the ``LICENSE-*`` files next to it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.provenance import Provenance
from .base import Anchor
from .cells import VonEconomoCellDensity
from .connectivity_matrices import FunctionalConnectivity, StreamlineCounts
from .receptors import ReceptorDensityFingerprint

__all__ = ["load_feature_pack", "pack_dir", "ZILLES_MAPPING", "ECONOMO_CORRESPONDENCE"]

#: File names of the mapping tables (in :func:`pack_dir`).
ZILLES_MAPPING = "zilles2018_area_mapping.tsv"
ECONOMO_CORRESPONDENCE = "vonEconomo_correspondence.tsv"

#: Ids of the builtin parcellations the pack's features refer to.
FSL_ID = "atlascope/parcellation/julich"
DK_ID = "atlascope/parcellation/desikan_killiany"

_ZILLES = Provenance(
    source="atlascope offline feature pack",
    dataset="Zilles & Palomero-Gallagher 2018, Supplementary Table 2 (receptor densities)",
    citation=(
        "Zilles K, Palomero-Gallagher N (2018) Multiple transmitter receptors in regions and layers of "
        "the human cerebral cortex. Front. Neuroanat. 11:78"
    ),
    licence="MIT (AlGoulas/receptor_principles)",
    urls=("https://doi.org/10.3389/fnana.2017.00078", "https://github.com/AlGoulas/receptor_principles"),
)
_ECONOMO = Provenance(
    source="atlascope offline feature pack",
    dataset="von Economo & Koskinas layer-wise neuron densities (human-multi-area-model tabulation)",
    citation=(
        "von Economo C, Koskinas GN (1925/2009) Cellular Structure of the Human Cerebral Cortex, "
        "ed. L.C. Triarhou. Karger, Basel"
    ),
    licence="GPL-3.0 (shimoura/human-multi-area-model)",
    urls=("https://github.com/shimoura/human-multi-area-model",),
)
_ENIGMA = Provenance(
    source="atlascope offline feature pack",
    dataset="ENIGMA Toolbox HCP group-average connectivity (Desikan-Killiany, 68 cortical regions)",
    citation=(
        "Larivière S et al. (2021) The ENIGMA Toolbox: multiscale neural contextualization of multisite "
        "neuroimaging datasets. Nat Methods 18:698-700"
    ),
    licence="BSD-3-Clause (ENIGMA Toolbox)",
    urls=("https://doi.org/10.1038/s41592-021-01186-4", "https://github.com/MICA-MNI/ENIGMA"),
)


def pack_dir() -> Path:
    """Folder of the pack's tables (package data ``atlascope/features/data``)."""
    return Path(str(resources.files("atlascope.features") / "data"))


def _table(name: str) -> pd.DataFrame:
    return pd.read_csv(pack_dir() / name, sep="\t", dtype=str, keep_default_na=False)


def load_feature_pack(registry: Any) -> None:
    """Add the pack's features to ``registry`` (only small tables are read; data load lazily)."""
    d = pack_dir()
    fsl = FSL_ID if registry.by_id("parcellation", FSL_ID) is not None else None
    dk = DK_ID if registry.by_id("parcellation", DK_ID) is not None else None
    receptors = str(d / "receptors_zilles2018.tsv")
    for _, row in _table(ZILLES_MAPPING).iterrows():
        for name, parc in ((row["fsl_area"], fsl), (row["julich_brain_area"], None)):
            if not name:
                continue
            registry.add_feature(
                ReceptorDensityFingerprint(
                    Anchor(region=name, parcellation=parc),
                    receptors,
                    area=row["zilles_area"],
                    description=f"Receptor densities of area {row['zilles_area']} (Zilles & Palomero-Gallagher 2018)",
                    datasets=[_ZILLES],
                )
            )
    layers = str(d / "vonEconomo_layers.tsv")
    for _, row in _table(ECONOMO_CORRESPONDENCE).iterrows():
        for name, parc in ((row["fsl_area"], fsl), (row["julich_brain_area"], None)):
            if not name:
                continue
            registry.add_feature(
                VonEconomoCellDensity(
                    Anchor(region=name, parcellation=parc),
                    layers,
                    row["economo_area"],
                    description=(
                        f"Neuron densities per layer of von Economo area {row['economo_area']}, "
                        f"homologous to {name}"
                    ),
                    datasets=[_ECONOMO],
                )
            )
    for cls, fname in (
        (StreamlineCounts, "hcp_enigma_structural_dk68.csv"),
        (FunctionalConnectivity, "hcp_enigma_functional_dk68.csv"),
    ):
        path = d / fname
        names = path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")[1:]
        registry.add_feature(
            cls(
                Anchor(parcellation=dk, region_names=[n.strip() for n in names]),
                files={"group average": str(path)},
                decoder={"delimiter": ","},
                cohort="HCP ENIGMA group average",
                files_indexed_by="feature",
                description=f"HCP group-average {cls.MODALITY} (ENIGMA Toolbox)",
                datasets=[_ENIGMA],
            )
        )
