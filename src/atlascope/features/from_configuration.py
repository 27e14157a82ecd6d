"""Feature objects from siibra-configurations entries: one ``@type`` builder each (lazy: URLs only).

Registered types (see :func:`atlascope.configuration.factory.register_type`):

=============================================  ==============================================
``siibra/feature/fingerprint/receptor/v0.1``   :class:`ReceptorDensityFingerprint`
``siibra/feature/profile/receptor/v0.1``       :class:`ReceptorDensityProfile`
``siibra/feature/fingerprint/celldensity/v0.1``  :class:`LayerwiseCellDensity`
``siibra/feature/profile/celldensity/v0.1``    not supported (counted as such by the loader)
``siibra/feature/connectivitymatrix/v0.3``     :class:`StreamlineCounts`, :class:`StreamlineLengths`,
                                               :class:`FunctionalConnectivity`, ... by ``modality``
``siibra/feature/timeseries/activity/v0.1``    :class:`RegionalTimeseriesActivity`
``siibra/feature/voi/v0.1``                    :class:`VolumeOfInterest`
``siibra/feature/section/v0.1``                :class:`CellbodyStainedSection`
``atlascope/feature/pack/v1``                  the offline feature pack (:mod:`.pack`), added to
                                               the registry of the build context
=============================================  ==============================================

Catalogue builders read nothing but the JSON entry; they do not add the feature to the registry (the
loader does that with what they return).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..configuration.builtin import FEATURE_PACK_TYPE
from ..configuration.factory import BuildContext, Unsupported, register_type
from ..errors import ConfigurationError
from .base import Anchor, provenance_from_spec
from .cells import LayerwiseCellDensity
from .connectivity_matrices import CONNECTIVITY_CLASSES
from .images import CellbodyStainedSection, RegionalTimeseriesActivity, VolumeOfInterest
from .pack import load_feature_pack
from .receptors import ReceptorDensityFingerprint, ReceptorDensityProfile

__all__: list[str] = []


def _need(spec: dict, key: str, ctx: BuildContext) -> Any:
    if key not in spec:
        raise ConfigurationError(f"{ctx.path or spec.get('@id', '?')}: feature entry without {key!r}.")
    return spec[key]


def _space_id(obj: Any) -> str | None:
    if isinstance(obj, dict):
        return obj.get("@id")
    return str(obj) if obj else None


def _location(spec: dict) -> tuple[np.ndarray | None, str | None]:
    loc = spec.get("location") or spec.get("boundingbox")
    if not isinstance(loc, dict):
        return None, None
    space = _space_id(loc.get("space"))
    if "coordinates" in loc:
        coords = np.asarray(loc["coordinates"], dtype=float).reshape(-1, 3)
    elif "coordinate" in loc:
        coords = np.asarray(loc["coordinate"], dtype=float).reshape(-1, 3)
    else:
        return None, space
    return coords, space


def _region_anchor(spec: dict, ctx: BuildContext) -> Anchor:
    coords, space = _location(spec)
    return Anchor(
        region=str(_need(spec, "region", ctx)),
        species=str(spec.get("species", "Homo sapiens")),
        coordinates=coords,
        space=space,
    )


def _common(spec: dict, files: list[str], dataset: str = "") -> dict:
    return {
        "id": str(spec.get("@id", "")),
        "datasets": [provenance_from_spec(spec, files, dataset)],
        "description": str(spec.get("description", "")),
    }


@register_type("siibra/feature/fingerprint/receptor/v0.1")
def _receptor_fingerprint(spec: dict, ctx: BuildContext) -> ReceptorDensityFingerprint:
    url = str(_need(spec, "file", ctx))
    anchor = _region_anchor(spec, ctx)
    return ReceptorDensityFingerprint(
        anchor, url, **_common(spec, [url], f"Receptor density fingerprint of {anchor.region}")
    )


@register_type("siibra/feature/profile/receptor/v0.1")
def _receptor_profile(spec: dict, ctx: BuildContext) -> ReceptorDensityProfile:
    url = str(_need(spec, "file", ctx))
    anchor = _region_anchor(spec, ctx)
    rec = str(spec.get("receptor", ""))
    return ReceptorDensityProfile(
        anchor, url, rec, **_common(spec, [url], f"{rec} receptor density profile of {anchor.region}")
    )


@register_type("siibra/feature/fingerprint/celldensity/v0.1")
def _layerwise_cells(spec: dict, ctx: BuildContext) -> LayerwiseCellDensity:
    seg = [str(u) for u in _need(spec, "segmentfiles", ctx)]
    lay = [str(u) for u in _need(spec, "layerfiles", ctx)]
    anchor = _region_anchor(spec, ctx)
    return LayerwiseCellDensity(
        anchor,
        seg,
        lay,
        unit=str(spec.get("unit", "detected cells / 0.1mm3")),
        **_common(spec, seg + lay, f"Layer-wise cell densities of {anchor.region}"),
    )


@register_type("siibra/feature/profile/celldensity/v0.1")
def _cell_profile(spec: dict, ctx: BuildContext) -> Any:
    raise Unsupported(
        "depth-resolved cell density profiles (computed from segments.txt cell positions) are not "
        "implemented; the layer-wise densities of the same patches are (LayerwiseCellDensity)"
    )


def _repository(spec: dict) -> tuple[str | None, str | None]:
    repo = spec.get("repository") or {}
    url = repo.get("url") if isinstance(repo, dict) else None
    return (str(url) if url else None), (str(spec["base_url"]) if spec.get("base_url") else None)


@register_type("siibra/feature/connectivitymatrix/v0.3")
def _connectivity(spec: dict, ctx: BuildContext) -> Any:
    modality = str(_need(spec, "modality", ctx))
    cls = CONNECTIVITY_CLASSES.get(modality.lower())
    if cls is None:
        raise Unsupported(f"connectivity modality {modality!r}")
    repo, base = _repository(spec)
    files = {str(k): str(v) for k, v in _need(spec, "files", ctx).items()}
    anchor = Anchor(
        parcellation=_space_id(spec.get("parcellation")),
        region_names=[str(r) for r in _need(spec, "regions", ctx)],
        species=str(spec.get("species", "Homo sapiens")),
    )
    cohort = str(spec.get("cohort", ""))
    feat = cls(
        anchor,
        files,
        repository=repo,
        base_url=base,
        decoder=spec.get("decoder") or {},
        cohort=cohort,
        paradigm=str(spec.get("paradigm", "")),
        files_indexed_by=str(spec.get("files_indexed_by", "subject")),
        modality=modality,
        **_common(spec, [u for u in (repo, base) if u], f"{modality} ({cohort})"),
    )
    feat.prerelease = bool(spec.get("prerelease", False))
    return feat


@register_type("siibra/feature/timeseries/activity/v0.1")
def _timeseries(spec: dict, ctx: BuildContext) -> RegionalTimeseriesActivity:
    repo, _base = _repository(spec)
    anchor = Anchor(
        parcellation=_space_id(spec.get("parcellation")),
        region_names=[str(r) for r in _need(spec, "regions", ctx)],
    )
    modality = str(spec.get("modality", "RegionalBOLD"))
    feat = RegionalTimeseriesActivity(
        anchor,
        {str(k): str(v) for k, v in _need(spec, "files", ctx).items()},
        repo,
        decoder=spec.get("decoder") or {},
        timestep=str(spec.get("timestep", "")),
        cohort=str(spec.get("cohort", "")),
        paradigm=str(spec.get("paradigm", "")),
        modality=modality,
        **_common(spec, [repo] if repo else [], f"{modality} ({spec.get('cohort', '')})"),
    )
    feat.prerelease = bool(spec.get("prerelease", False))
    return feat


def _image(cls: type, spec: dict, ctx: BuildContext) -> Any:
    coords, space = _location(spec)
    space = _space_id(spec.get("space")) or space
    region = spec.get("region")
    anchor = Anchor(region=str(region) if region else None, coordinates=coords, space=space)
    providers = {str(k): str(v) for k, v in (spec.get("providers") or {}).items()}
    name = str(spec.get("name", ""))
    return cls(
        anchor,
        providers,
        name=name,
        modality=str(spec.get("modality", "")),
        **_common(spec, list(providers.values()), name),
    )


@register_type("siibra/feature/voi/v0.1")
def _voi(spec: dict, ctx: BuildContext) -> VolumeOfInterest:
    return _image(VolumeOfInterest, spec, ctx)


@register_type("siibra/feature/section/v0.1")
def _section(spec: dict, ctx: BuildContext) -> CellbodyStainedSection:
    return _image(CellbodyStainedSection, spec, ctx)


@register_type(FEATURE_PACK_TYPE)
def _feature_pack(spec: dict, ctx: BuildContext) -> None:
    """Add the offline feature pack to the context's registry (returns nothing to add)."""
    load_feature_pack(ctx.registry)
