"""A stand-in atlas mirror built at test time (PYTEST_DONT_REWRITE).

``build_fixture_mirror(catalogue, out)`` writes, below ``out``:

* ``catalogue/`` — a copy of the siibra-configurations JSON from ``../shared`` (copied into the
  temporary folder only, never into the repository), and the same as the GitHub archive
  ``github.com/FZJ-INM1-BDA/siibra-configurations/archive/<TAG>.zip`` inside the mirror;
* ``mirror/<host>/<path>`` — stand-in data files in the real formats at the real URL paths:

  - one probability NIfTI per region of the Jülich-Brain 3.0.3 statistical map in MNI152 2009c (a
    smooth Gaussian blob at the centre of the region's bounding box from the catalogue, peak 0.9);
  - the DiFuMo-64 4D NIfTI (64 blobs, each at the centre of one Jülich-Brain region);
  - the Jülich-Brain 3.0.3 labelled volume (label of the most probable blob, p >= 0.2);
  - the BigBrain template as a neuroglancer precomputed volume (``info``, ``transform.json``,
    two scales of gzip-compressed raw chunks);
  - with ``julich29=True`` also Julich-Brain 2.9 in MNI152 2009c: one probability NIfTI per region
    on a 1 mm grid that covers only a 46 mm cube around the point of siibra's coordinate-assignment
    example (``JBA29_STAT_GRID``: an uncertain point of sigma 3 mm needs 1 mm voxels, and 296
    full-brain 1 mm maps would take minutes to write and index); blobs as above, the regions of
    ``JBA29_PLACES`` centred on a given point instead; and the labelled volume as its two
    hemisphere fragments on the 4 mm grid (label of the most probable blob of that hemisphere,
    p >= 0.2).

Every other image is on one coarse 4 mm grid of MNI152 (49 x 58 x 49 voxels) to keep the session
quick. None of these voxels is real atlas data.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from atlascope.retrieval import mirror_relpath

TAG = "atlascope-test-1.0"
REPO = "FZJ-INM1-BDA/siibra-configurations"
ARCHIVE_URL = f"https://github.com/{REPO}/archive/{TAG}.zip"

JBA_STAT = "maps/mni152-jba30_157regions-continuous.json"
JBA_LABELLED = "maps/mni152-jba30-labelled.json"
DIFUMO = "maps/mni152-difumo64-continuous.json"
BIGBRAIN = "spaces/bigbrain_2015.json"
JBA29_STAT = "maps/mni152-jba29-continuous.json"
JBA29_LABELLED = "maps/mni152-jba29-labelled.json"

SHAPE = (49, 58, 49)
AFFINE = np.array([[4.0, 0, 0, -96], [0, 4.0, 0, -132], [0, 0, 4.0, -78], [0, 0, 0, 1]])

#: DiFuMo components placed on named Jülich-Brain regions (others cycle through the regions).
DIFUMO_PLACES = {
    3: "Area hOc1 (V1, 17, CalcS) - left hemisphere",
    31: "Area hOc2 (V2, 18) - right hemisphere",
    30: "Area Fp1 (FPole) - left hemisphere",
}

#: Julich-Brain 2.9 stand-ins centred on a given point (mm) rather than on their bounding box: the
#: point siibra's coordinate-assignment example says lies in PostCG of the right hemisphere.
JBA29_PLACES = {
    "Area 3b (PostCG) - right hemisphere": (27.75, -32.0, 63.725),
}
#: (shape, affine) of the Julich-Brain 2.9 probability maps: 1 mm, x 5..50, y -55..-10, z 41..86 mm.
JBA29_STAT_GRID = ((46, 46, 46), np.array([[1.0, 0, 0, 5], [0, 1.0, 0, -55], [0, 0, 1.0, 41], [0, 0, 0, 1]]))


@dataclass
class FixtureMirror:
    """Paths of a built fixture: the mirror root, the catalogue copy and its archive URL."""

    root: Path
    mirror: Path
    catalogue: Path
    archive_url: str
    centroids: dict[str, np.ndarray]
    precomputed_url: str


def _write(root: Path, url: str, data: bytes) -> Path:
    dest = root / mirror_relpath(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def _nifti_gz(arr: np.ndarray, affine: np.ndarray = AFFINE) -> bytes:
    img = nib.Nifti1Image(arr.astype(np.float32), affine)
    img.header.set_xyzt_units("mm")
    return gzip.compress(img.to_bytes(), compresslevel=1)


def _axes(shape: tuple[int, int, int] = SHAPE, affine: np.ndarray = AFFINE) -> list[np.ndarray]:
    return [affine[a, a] * np.arange(shape[a]) + affine[a, 3] for a in range(3)]


def blob(
    center_mm: np.ndarray,
    sigma_mm: np.ndarray,
    peak: float = 0.9,
    grid: tuple[tuple[int, int, int], np.ndarray] = (SHAPE, AFFINE),
) -> np.ndarray:
    """A separable Gaussian (x, y, z) on ``grid`` (default: the 4 mm fixture grid), zero where below
    2 % of the peak."""
    g = [np.exp(-0.5 * ((ax - c) / s) ** 2) for ax, c, s in zip(_axes(*grid), center_mm, sigma_mm)]
    arr = peak * g[0][:, None, None] * g[1][None, :, None] * g[2][None, None, :]
    arr[arr < 0.02 * peak] = 0
    return arr.astype(np.float32)


def _bbox(vol: dict) -> np.ndarray | None:
    bb = vol.get("boundingbox", {}).get("coordinates")
    return None if bb is None else np.asarray(bb, float)


def _labelled_fragments(mirror: Path, spec: dict, blobs: dict[str, np.ndarray]) -> None:
    """Write each fragment of a labelled map: the label of its strongest blob where p >= 0.2."""
    providers = spec["volumes"][0]["providers"]["nii"]
    for fragment, url in providers.items():
        best = np.zeros(SHAPE, np.float32)
        labels = np.zeros(SHAPE, np.int16)
        for name, entries in spec["indices"].items():
            entry = entries[0]
            if entry.get("fragment") != fragment or name not in blobs:
                continue
            arr = blobs[name]
            better = (arr > best) & (arr >= 0.2)
            best[better] = arr[better]
            labels[better] = entry["label"]
        img = nib.Nifti1Image(labels, AFFINE)
        _write(mirror, url, gzip.compress(img.to_bytes(), compresslevel=1))


def _julich29(mirror: Path, catalogue: Path) -> None:
    """Julich-Brain 2.9 in MNI152: probability maps per region and the two labelled fragments."""
    stat = json.loads((catalogue / JBA29_STAT).read_text())
    names_by_vol = {e[0]["volume"]: n for n, e in stat["indices"].items()}
    blobs = {}
    for j, vol in enumerate(stat["volumes"]):
        bb = _bbox(vol)
        name = names_by_vol[j]
        center = bb.mean(0) if bb is not None else np.zeros(3)
        center = np.asarray(JBA29_PLACES.get(name, center), float)
        sigma = np.maximum((bb[1] - bb[0]) / 5 if bb is not None else np.full(3, 6.0), 4.0)
        blobs[name] = blob(center, sigma)
        fine = blob(center, sigma, grid=JBA29_STAT_GRID)
        _write(mirror, vol["providers"]["nii"], _nifti_gz(fine, JBA29_STAT_GRID[1]))
    _labelled_fragments(mirror, json.loads((catalogue / JBA29_LABELLED).read_text()), blobs)


def build_fixture_mirror(catalogue_src: Path, out: Path, julich29: bool = False) -> FixtureMirror:
    """Build the stand-in mirror below ``out`` (see the module documentation)."""
    out = Path(out)
    mirror = out / "mirror"
    catalogue = out / "catalogue"
    shutil.copytree(catalogue_src, catalogue, ignore=shutil.ignore_patterns("*.md", "*.rst"))

    # the catalogue as the GitHub archive of a tag
    zdest = mirror / mirror_relpath(ARCHIVE_URL)
    zdest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zdest, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for p in sorted(catalogue.rglob("*.json")):
            zf.write(p, f"siibra-configurations-{TAG}/{p.relative_to(catalogue).as_posix()}")

    # Jülich-Brain 3.0.3 probability maps, one file per region
    stat = json.loads((catalogue / JBA_STAT).read_text())
    names_by_vol = {e[0]["volume"]: n for n, e in stat["indices"].items()}
    centroids: dict[str, np.ndarray] = {}
    best = np.zeros(SHAPE, np.float32)
    best_name = np.full(SHAPE, -1, np.int32)
    order = []
    for j, vol in enumerate(stat["volumes"]):
        bb = _bbox(vol)
        name = names_by_vol[j]
        center = bb.mean(0) if bb is not None else np.zeros(3)
        sigma = np.maximum((bb[1] - bb[0]) / 5 if bb is not None else np.full(3, 6.0), 4.0)
        arr = blob(center, sigma)
        centroids[name] = center
        _write(mirror, vol["providers"]["nii"], _nifti_gz(arr))
        better = arr > best
        best[better] = arr[better]
        best_name[better] = len(order)
        order.append(name)

    # the labelled volume: label of the strongest blob
    lab = json.loads((catalogue / JBA_LABELLED).read_text())
    label_of = {n: e[0]["label"] for n, e in lab["indices"].items()}
    labels = np.zeros(SHAPE, np.int16)
    keep = best >= 0.2
    lut = np.array([label_of.get(n, 0) for n in order], np.int16)
    labels[keep] = lut[best_name[keep]]
    img = nib.Nifti1Image(labels, AFFINE)
    _write(mirror, lab["volumes"][0]["providers"]["nii"], gzip.compress(img.to_bytes(), compresslevel=1))

    # DiFuMo 64: a 4D file, component k on a Jülich-Brain region
    dif = json.loads((catalogue / DIFUMO).read_text())
    comps = sorted(dif["indices"].items(), key=lambda kv: kv[1][0]["z"])
    data = np.zeros((*SHAPE, len(comps)), np.float32)
    for k, (name, entries) in enumerate(comps):
        number = int(name.split(":")[0].split()[-1])
        region = DIFUMO_PLACES.get(number, order[(7 * k) % len(order)])
        data[..., entries[0]["z"]] = blob(centroids[region], np.full(3, 7.0), peak=1.0)
    _write(mirror, dif["volumes"][0]["providers"]["nii"], _nifti_gz(data))

    # BigBrain template as neuroglancer precomputed (raw, gzip chunks)
    bb = json.loads((catalogue / BIGBRAIN).read_text())
    ng = bb["volumes"][0]["providers"]["neuroglancer/precomputed"]
    precomputed_volume(mirror, ng)
    if julich29:
        _julich29(mirror, catalogue)
    return FixtureMirror(out, mirror, catalogue, ARCHIVE_URL, centroids, ng)


def precomputed_array(shape: tuple[int, int, int] = (40, 30, 20)) -> np.ndarray:
    """The uint8 image stored at the finest scale of the fixture's precomputed volume (x, y, z)."""
    x, y, z = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    return ((x * 3 + y * 5 + z * 7) % 251).astype(np.uint8)


def precomputed_volume(mirror: Path, url: str, chunk: int = 16) -> None:
    """Write ``info``, ``transform.json`` and chunks of two scales for ``url`` into ``mirror``."""
    fine = precomputed_array()
    coarse = fine[::2, ::2, ::2]
    scales = []
    for key, arr, res in (("20um", fine, 20000), ("40um", coarse, 40000)):
        scales.append(
            {
                "key": key,
                "size": list(arr.shape),
                "resolution": [res] * 3,
                "voxel_offset": [0, 0, 0],
                "chunk_sizes": [[chunk] * 3],
                "encoding": "raw",
            }
        )
        for x0 in range(0, arr.shape[0], chunk):
            for y0 in range(0, arr.shape[1], chunk):
                for z0 in range(0, arr.shape[2], chunk):
                    c = arr[x0 : x0 + chunk, y0 : y0 + chunk, z0 : z0 + chunk]
                    x1, y1, z1 = x0 + c.shape[0], y0 + c.shape[1], z0 + c.shape[2]
                    raw = np.asfortranarray(c).tobytes(order="F")
                    _write(mirror, f"{url}/{key}/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}", gzip.compress(raw))
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": "image",
        "data_type": "uint8",
        "num_channels": 1,
        "scales": scales,
    }
    _write(mirror, f"{url}/info", json.dumps(info).encode())
    tf = [[20000.0, 0, 0, -70e6], [0, 20000.0, 0, -70e6], [0, 0, 20000.0, -58e6], [0, 0, 0, 1]]
    _write(mirror, f"{url}/transform.json", json.dumps(tf).encode())
