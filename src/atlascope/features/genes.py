"""Gene expressions from the Allen Human Brain Atlas, queried live (microarray, six donors).

The query follows the Allen Brain Atlas RMA API (``api/v2/data/query.json``):

1. genes: ``model::Gene`` with ``acronym$il'<symbol>'`` for the HumanMA product; the symbol is
   then matched *exactly* first, case-insensitively second, never as a substring (``TAC1`` never
   resolves to ``CRTAC1``);
2. probes of each gene (``model::Probe``, DNA probes of HumanMA), paged with ``start_row``/``num_rows``;
3. donors of HumanMA (``model::Donor``) and, per donor, the specimen's ``alignment3d`` (the 3 × 4
   affine ``tvr_00..tvr_11`` from the donor's MRI voxels to MNI152 mm);
4. per donor, ``service::human_microarray_expression[probes$in...][donors$eq...]``: per probe the
   expression levels and z-scores of every sample, with each sample's MRI voxel position.

Samples are kept, as siibra does, when their MNI152 position rounded to 0.01 mm falls into the
region's labelled map (else its probability map above ``threshold``) or inside the ROI volume.
Answers are cached like every download (through :func:`atlascope.retrieval.fetch`); when the
service does not answer, :class:`~atlascope.errors.ServiceUnavailableError` names the service and
the URL: at once when its host cannot be reached (offline: DNS failure, refused connection), after
the download retries for server faults (HTTP 5xx, 429).

``ATLASCOPE_ALLEN_API`` (read at every call) replaces the base URL ``https://api.brain-map.org/api/v2``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import nibabel as nib
import numpy as np
import pandas as pd

from ..affines import voxel_to_mm
from ..commons import logger
from ..core.provenance import Provenance
from ..core.region import Region
from ..errors import (
    AtlascopeError,
    InvalidInputError,
    NotFoundError,
    RetrievalError,
    ServiceUnavailableError,
)
from ..locations.spaces import resolve_space
from ..retrieval import fetch_json
from ..volumes.volume import Volume
from .base import Anchor, Feature, _axes, _short
from .query import _points_in_volume, registry_of, resolve_region

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.axes

__all__ = [
    "GeneExpressions",
    "AllenClient",
    "ALLEN_API",
    "SERVICE_NAME",
    "match_gene_symbol",
    "rma_target",
]

#: Default base URL of the Allen Brain Atlas API.
ALLEN_API = "https://api.brain-map.org/api/v2"
#: Name used in error messages.
SERVICE_NAME = "Allen Brain Atlas API (api.brain-map.org)"
#: Rows per page of RMA queries.
PAGE_SIZE = 50
#: Product abbreviation of the human microarray data.
PRODUCT = "HumanMA"

_PROVENANCE = Provenance(
    source="Allen Brain Atlas API",
    dataset="Allen Human Brain Atlas, microarray expression",
    citation=(
        "Hawrylycz MJ et al. (2012) An anatomically comprehensive atlas of the adult human brain "
        "transcriptome. Nature 489:391-399, doi:10.1038/nature11405"
    ),
    licence="Allen Institute Terms of Use (https://alleninstitute.org/terms-of-use/)",
    urls=("https://doi.org/10.1038/nature11405", "https://human.brain-map.org"),
)


def api_base() -> str:
    """Base URL of the Allen API (``$ATLASCOPE_ALLEN_API`` or :data:`ALLEN_API`)."""
    return os.environ.get("ATLASCOPE_ALLEN_API", "").strip().rstrip("/") or ALLEN_API


def rma_target(criteria: str, start_row: int | None = None, num_rows: int | None = None) -> str:
    """Path and query (relative to the API base) of an RMA query, percent-encoded deterministically.

    Parameters
    ----------
    criteria : str
        The RMA criteria (``model::Gene,rma::criteria,...``).
    start_row, num_rows : int, optional
        Paging; appended as ``rma::options[start_row$eqS][num_rows$eqN]``.
    """
    if start_row is not None:
        criteria += f",rma::options[start_row$eq{int(start_row)}][num_rows$eq{int(num_rows or PAGE_SIZE)}]"
    return "/data/query.json?criteria=" + quote(criteria, safe="")


def match_gene_symbol(symbol: str, candidates: list[dict]) -> list[dict]:
    """The candidate genes whose ``acronym`` is ``symbol``: exact matches, else case-insensitive
    ones; never substrings."""
    exact = [c for c in candidates if str(c.get("acronym", "")) == symbol]
    if exact:
        return exact
    low = symbol.lower()
    return [c for c in candidates if str(c.get("acronym", "")).lower() == low]


@dataclass
class _Donor:
    id: int
    name: str
    affine: np.ndarray  # 4 x 4, MRI voxel -> MNI152 mm


class AllenClient:
    """Minimal Allen Brain Atlas RMA client (paging, service errors).

    Parameters
    ----------
    base : str, optional
        API base URL; default :func:`api_base`.
    page_size : int, optional
        Rows per page; default :data:`PAGE_SIZE`.
    """

    def __init__(self, base: str | None = None, page_size: int | None = None) -> None:
        self.base = (base or api_base()).rstrip("/")
        self.page_size = int(page_size or PAGE_SIZE)

    def _get(self, target: str) -> Any:
        url = self.base + target
        try:
            answer = fetch_json(url)
        except RetrievalError as exc:
            raise ServiceUnavailableError(
                f"The {SERVICE_NAME} did not answer for {url}: {exc} The gene expression query needs "
                "this live service; try again later (other features do not depend on it)."
            ) from exc
        except InvalidInputError as exc:
            raise ServiceUnavailableError(
                f"The {SERVICE_NAME} sent an unreadable answer for {url}: {exc}"
            ) from exc
        if not isinstance(answer, dict) or not answer.get("success", False):
            msg = answer.get("msg") if isinstance(answer, dict) else answer
            raise ServiceUnavailableError(f"The {SERVICE_NAME} reported a failure for {url}: {msg!r}")
        return answer

    def query(self, criteria: str) -> Any:
        """``msg`` of one unpaged query."""
        return self._get(rma_target(criteria))["msg"]

    def query_all(self, criteria: str) -> list[dict]:
        """Every row of a paged query (pages of :attr:`page_size` rows until ``total_rows``)."""
        rows: list[dict] = []
        start = 0
        while True:
            answer = self._get(rma_target(criteria, start, self.page_size))
            msg = answer.get("msg") or []
            rows.extend(msg)
            total = int(answer.get("total_rows", len(rows)))
            start += len(msg)
            if not msg or start >= total:
                return rows

    # ----------------------------------------------------------------- steps
    def genes(self, symbol: str) -> list[dict]:
        """Genes called ``symbol`` (exact, else case-insensitive; never substring).

        Raises
        ------
        NotFoundError
            The service knows no gene of that symbol.
        """
        crit = f"model::Gene,rma::criteria,[acronym$il'{symbol}'],products[abbreviation$eq'{PRODUCT}']"
        found = match_gene_symbol(symbol, self.query_all(crit))
        if not found:
            raise NotFoundError(
                f"The {SERVICE_NAME} knows no human microarray gene with the symbol {symbol!r}."
            )
        return found

    def probes(self, gene_id: int) -> list[int]:
        """Ids of the DNA probes of a gene."""
        crit = (
            f"model::Probe,rma::criteria,[probe_type$eq'DNA'],products[abbreviation$eq'{PRODUCT}'],"
            f"gene[id$eq{int(gene_id)}]"
        )
        return [int(p["id"]) for p in self.query_all(crit)]

    def donors(self) -> list[_Donor]:
        """The donors with their MRI-to-MNI152 alignment."""
        rows = self.query_all(f"model::Donor,rma::criteria,products[abbreviation$eq'{PRODUCT}']")
        out = []
        for d in rows:
            spec = self.query(
                f"model::Specimen,rma::criteria,[name$eq'{d['name']}'],rma::include,alignment3d"
            )
            if not spec:
                raise ServiceUnavailableError(f"The {SERVICE_NAME} gave no specimen for donor {d['name']!r}.")
            t = spec[0]["alignment3d"]
            aff = np.array(
                [
                    [t["tvr_00"], t["tvr_01"], t["tvr_02"], t["tvr_09"]],
                    [t["tvr_03"], t["tvr_04"], t["tvr_05"], t["tvr_10"]],
                    [t["tvr_06"], t["tvr_07"], t["tvr_08"], t["tvr_11"]],
                    [0.0, 0.0, 0.0, 1.0],
                ],
                dtype=float,
            )
            out.append(_Donor(int(d["id"]), str(d["name"]), aff))
        return out

    def expression(self, probe_ids: list[int], donor: _Donor) -> dict:
        """The microarray service's answer (``probes`` and ``samples``) for one donor."""
        ids = ",".join(str(int(p)) for p in probe_ids)
        return self.query(f"service::human_microarray_expression[probes$in{ids}][donors$eq{donor.id}]")


def _region_mask(region: Region, registry: Any, threshold: float) -> Any:
    """A nibabel image (MNI152) of the region: its labelled mask (as siibra selects samples), else its
    probability map above ``threshold``."""
    mni = None
    try:
        mni = resolve_space("mni152")
    except AtlascopeError:
        pass
    candidates = []
    for m in registry.maps:
        if mni is not None and not (m.space is mni or m.space.is_compatible(mni) or m.space == mni):
            continue
        same = m.parcellation is region.parcellation
        if same or any(r.assign(region) == "exact" for r in m.parcellation.find(region.name)):
            candidates.append((not same, m.maptype != "labelled", m))
    candidates.sort(key=lambda t: t[:2])
    for _a, _b, m in candidates:
        try:
            img = m.fetch(
                m.parcellation.get_region(region.name)
                if m.parcellation is not region.parcellation
                else region
            )
        except AtlascopeError as exc:
            logger.debug("no mask of %s in %s: %s", region, m.name, exc)
            continue
        cut = threshold if m.maptype == "statistical" else 0.0
        mask = np.asanyarray(img.dataobj) > cut  # compared in the file's dtype: no float64 copy
        return nib.Nifti1Image(mask.astype(np.uint8), img.affine)
    raise NotFoundError(
        f"No map in MNI152 space holds {region.name!r}, so Allen samples cannot be selected; pass a Volume "
        "(ROI image in MNI152) instead of the region."
    )


class GeneExpressions(Feature):
    """Microarray expression of genes in the samples of the Allen Human Brain Atlas that fall in a
    region or ROI.

    ``data`` columns: ``level`` (log2 expression), ``zscore``, ``gene``, ``donor``, ``mni_xyz``
    (tuple, mm, rounded to 0.01 mm as siibra does before the inside test), ``sample`` (the sample's
    position in the donor's answer, siibra's ``sample_index``), ``well`` (Allen well id),
    ``probe_id``.

    Parameters
    ----------
    anchor : Anchor
        The queried region or ROI.
    genes : list of str
        Gene symbols.
    mask : nibabel image
        Where samples are kept (non-zero voxels, MNI152).
    client : AllenClient, optional
        The API client.
    """

    MODALITY = "gene expression"
    LIVE = True

    def __init__(
        self, anchor: Anchor, genes: list[str], mask: Any, client: AllenClient | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("datasets", [_PROVENANCE])
        kwargs.setdefault("description", "Allen Human Brain Atlas microarray samples in " + str(anchor))
        super().__init__(anchor, **kwargs)
        self.genes = [str(g) for g in genes]
        self.mask = mask
        self.client = client or AllenClient()

    @classmethod
    def live_query(
        cls,
        concept: Any,
        gene: str | list[str] | None = None,
        registry: Any = None,
        threshold: float = 0.2,
        **kwargs: Any,
    ) -> list[GeneExpressions]:
        """The feature for ``concept`` (Region, region name or Volume), genes ``gene``.

        Parameters
        ----------
        concept : Region, str or Volume
            Region (its MNI152 labelled map; else its probability map above ``threshold``) or ROI
            volume (non-zero voxels).
        gene : str or list of str
            Gene symbol(s), e.g. ``"MAOA"`` or ``["GABARAPL1", "TAC1"]``.
        threshold : float
            Lower bound of the probability for a sample to count as inside a region.

        Raises
        ------
        InvalidInputError
            No gene given.
        """
        if gene is None or (not isinstance(gene, str) and not list(gene)):
            raise InvalidInputError("GeneExpressions need gene=... (a symbol such as 'MAOA', or a list).")
        genes = [gene] if isinstance(gene, str) else list(gene)
        registry = registry_of(concept, registry)
        if isinstance(concept, str):
            concept, _spec = resolve_region(concept, registry)
        if isinstance(concept, Region):
            mask = _region_mask(concept, registry, threshold)
            anchor = Anchor(region=concept.name)
            anchor._matches = {concept: "exact"}
        elif isinstance(concept, Volume):
            mask = concept.fetch()
            anchor = Anchor(space=getattr(concept.space, "id", None))
            anchor.region = concept.name or "ROI volume"
        else:
            raise InvalidInputError(f"GeneExpressions are queried for a Region or a Volume, not {concept!r}.")
        return [cls(anchor, genes, mask, **kwargs)]

    def _load(self) -> pd.DataFrame:
        client = self.client
        probes: dict[int, str] = {}
        for symbol in self.genes:
            for g in client.genes(symbol):
                for pid in client.probes(int(g["id"])):
                    probes[pid] = str(g["acronym"])
        if not probes:
            raise NotFoundError(f"The {SERVICE_NAME} lists no probes for {', '.join(self.genes)}.")
        frames = []
        for donor in client.donors():
            answer = client.expression(sorted(probes), donor)
            samples = answer.get("samples", [])
            if not samples:
                continue
            mri = np.array([s["sample"]["mri"] for s in samples], dtype=float).reshape(-1, 3)
            mni = np.round(voxel_to_mm(mri, donor.affine), 2)
            keep = _points_in_volume(mni, self.mask)
            if not keep.any():
                continue
            wells = [s["sample"].get("well", i) for i, s in enumerate(samples)]
            for p in answer.get("probes", []):
                pid = int(p["id"])
                levels = np.asarray(p.get("expression_level", []), dtype=float)
                zs = np.asarray(p.get("z-score", []), dtype=float)
                idx = np.flatnonzero(keep)
                frames.append(
                    pd.DataFrame(
                        {
                            "level": levels[idx],
                            "zscore": zs[idx],
                            "gene": p.get("gene-symbol", probes.get(pid, "")),
                            "donor": donor.name,
                            "mni_xyz": [tuple(mni[i]) for i in idx],
                            "sample": idx,
                            "well": [wells[i] for i in idx],
                            "probe_id": pid,
                        }
                    )
                )
        if not frames:
            logger.warning("No Allen samples of %s fall into %s.", ", ".join(self.genes), self.anchor)
            return pd.DataFrame(
                columns=["level", "zscore", "gene", "donor", "mni_xyz", "sample", "well", "probe_id"]
            )
        return pd.concat(frames, ignore_index=True)

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """Box plots of the expression levels (or ``value="zscore"``) by gene.

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = _axes(ax)
        value = kwargs.pop("value", "level")
        df = self.data
        genes = [g for g in self.genes if g in set(df["gene"])] or sorted(set(df["gene"]))
        ax.boxplot([df.loc[df["gene"] == g, value].to_numpy(float) for g in genes], **kwargs)
        ax.set_xticks(range(1, len(genes) + 1))
        ax.set_xticklabels(genes)
        ax.set_ylabel("expression level (log2)" if value == "level" else "z-score")
        ax.set_title(_short(f"Allen gene expression, {self.anchor} ({df['donor'].nunique()} donors)"))
        return ax
