"""Write a characterisation to a report folder: the entry point that runs the other report modules.

Files of a report folder (names in :mod:`atlascope.report.folder`):

================================  ==============================================================
``clusters.tsv``                  statmap: nilearn's cluster table plus one label column per atlas;
                                  sampling: cluster, samples, x, y, z (centroid, mm), peak value, color
``labels.tsv``                    statmap: cluster, peak, atlas, label, value, metric (long form)
``clusters.nii.gz``               statmap: cluster label image (+id positive, −id negative clusters)
``peaks.tsv``                     peak, x, y, z (mm), value (input at the peak), sigma_mm
``peak_assignments.tsv``          assignment of the peaks (region by name, centroid as x/y/z)
``cluster_assignments.tsv``       assignment of each cluster's map, best first, with ``cluster``
``samples.tsv``                   sampling: x, y, z, label (-1 = noise)
``input_glass_brain.png``         the input's maximum-intensity projections over the template's outline
``clusters_glass_brain.png``      all clusters, projected the same way
``cluster_<id>.png``              orthogonal slices through a cluster's peak, the cluster outlined
``feature_<n>_<m>.png``           plot of a feature of the n-th shown region (when any exist)
``viewer.html``                   offline slice viewer of the input (brainsprite.js; optional)
``report.json``                   parameters, versions, provenance, region details, feature panels
``index.html``                    the report (images embedded, no network needed)
================================  ==============================================================

The folder is written as a whole (:func:`~atlascope.report.folder.staged_folder`).
:func:`~atlascope.report.html.build_report` reads only these files, so ``atlascope report DIR``
rebuilds the page after the TSVs or PNGs were edited, without recomputing anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..affines import voxel_to_mm
from ..commons import logger, progress
from ..workflow import Characterization
from .figures import FigureContext, plot_cluster_slices
from .folder import (
    CLUSTERS_NII,
    CLUSTERS_PNG,
    INDEX_HTML,
    INPUT_PNG,
    METADATA_JSON,
    VIEWER_HTML,
    check_output_dir,
    cluster_png,
    staged_folder,
)
from .glass import GlassBrains, plot_clusters, plot_input
from .html import build_report
from .panels import FEATURE_TYPES, feature_panels
from .provenance import collect_metadata, shown_region_objects
from .tables import best_regions, result_tables, shown_regions, summary_rows, write_tables
from .template import load_template
from .viewer import write_viewer

__all__ = ["write_outputs", "build_report", "cluster_figures", "draw_figures"]


def cluster_figures(
    result: Characterization, tables: dict[str, Any], out: Path, ctx: FigureContext, limit: int
) -> list[dict[str, str]]:
    """Draw the orthogonal slices of the first ``limit`` clusters; return ``{"cluster", "image"}`` each.

    Statistical-map clusters are outlined from the label image, sampling clusters from their density
    map (above a quarter of its maximum); the slices pass through the cluster's peak.
    """
    done = []
    label_maps = getattr(result, "label_maps", None)
    df = tables["clusters"]
    if label_maps is not None and "Cluster ID" in df.columns:
        data = np.asanyarray(label_maps.dataobj)
        affine = label_maps.affine
        main = df[df["Cluster ID"].astype(str).str.fullmatch(r"-?\d+")]
        for rec in main.head(limit).to_dict("records"):
            cid = int(rec["Cluster ID"])
            sign = 1 if float(rec.get("Peak Stat", 1.0)) >= 0 else -1
            mask = data == sign * abs(cid)
            name = cluster_png(cid)
            plot_cluster_slices(
                ctx, (rec["X"], rec["Y"], rec["Z"]), (mask, affine), out / name, title=f"cluster {cid}"
            )
            done.append({"cluster": str(cid), "image": name})
        return done
    colors = dict(zip(df["cluster"].astype(int), df.get("color", [])))
    for rec in df.head(limit).to_dict("records"):
        c = int(rec["cluster"])
        vol = result.cluster_maps.get(c) if result.cluster_maps else None
        if vol is None:
            continue
        img = vol.fetch()
        dens = np.asanyarray(img.dataobj, dtype=np.float32)
        top = float(np.nanmax(dens)) if dens.size else 0.0
        if top <= 0:
            continue
        peak_ijk = np.unravel_index(int(np.nanargmax(dens)), dens.shape)
        peak = voxel_to_mm(np.asarray(peak_ijk, float), img.affine)
        name = cluster_png(c)
        plot_cluster_slices(
            ctx,
            peak,
            (dens > 0.25 * top, img.affine),
            out / name,
            title=f"cluster {c} ({int(rec.get('samples', 0))} samples)",
            color=str(colors.get(c, "#00c000")),
        )
        done.append({"cluster": str(c), "image": name})
    return done


def draw_figures(
    result: Characterization,
    tables: dict[str, Any],
    out: Path,
    label: str,
    max_cluster_figures: int = 6,
    viewer: bool = True,
) -> tuple[dict[str, Any], bool]:
    """Draw every figure of the report once into ``out``.

    Returns
    -------
    (dict, bool)
        File names (``input``, ``clusters``, ``cluster_slices``: list of ``{"cluster", "image"}``)
        and whether the slice viewer was written.
    """
    img = result.input.fetch()
    label_maps = getattr(result, "label_maps", None)
    figures: dict[str, Any] = {"input": "", "clusters": "", "cluster_slices": []}
    has_viewer = False
    tpl = load_template()
    glass = GlassBrains(tpl)
    steps = ["input", "clusters", "slices", *(["viewer"] if viewer else [])]
    for step in progress(steps, desc="figures", unit="figure"):
        if step == "input":
            figures["input"] = plot_input(img, out / INPUT_PNG, glass, title=label).name
        elif step == "clusters":
            s = tables.get("samples")
            df = tables["clusters"]
            if "Cluster ID" in df.columns:
                n = int(df["Cluster ID"].astype(str).str.fullmatch(r"-?\d+").sum())
            else:
                n = len(df)
            colors = dict(zip(df["cluster"].astype(int), df["color"])) if "color" in df else {}
            plot_clusters(
                None if s is None else s[["x", "y", "z"]].to_numpy(),
                None if s is None else s["label"].to_numpy(),
                colors,
                out / CLUSTERS_PNG,
                glass,
                title=f"{n} clusters",
                label_image=label_maps,
                input_image=img,
            )
            figures["clusters"] = CLUSTERS_PNG
            glass.close()
        elif step == "slices":
            ctx = FigureContext(img, tpl)
            try:
                figures["cluster_slices"] = cluster_figures(result, tables, out, ctx, max_cluster_figures)
            finally:
                ctx.close()
        else:
            has_viewer = write_viewer(img, out / VIEWER_HTML, tpl, title=label) is not None
    return figures, has_viewer


def write_outputs(
    result: Characterization,
    out_dir: str | Path,
    plots: bool = True,
    top_n: int = 5,
    viewer: bool = True,
    feature_types: Sequence[str] = FEATURE_TYPES,
    input_label: str = "",
    input_provenance: dict[str, Any] | None = None,
    max_cluster_figures: int = 6,
) -> Path:
    """Write TSVs, PNGs, ``report.json`` and ``index.html`` of a characterisation into ``out_dir``.

    Parameters
    ----------
    result : Characterization
        What :func:`atlascope.workflow.characterize` returned (either method).
    out_dir : path
        Output folder; replaced as a whole at the end (checked first with
        :func:`~atlascope.report.folder.check_output_dir`).
    plots : bool
        Draw the figures, feature plots and the slice viewer.
    top_n : int
        Number of regions (the clusters' best, in summary order) shown with their feature panels.
    viewer : bool
        Include the offline slice viewer tab (needs ``plots``).
    feature_types : sequence of str
        Feature types queried for the shown regions.
    input_label : str
        Display name of the input (default: the volume's name).
    input_provenance : dict, optional
        Where the input comes from (``source``, ``dataset``, ``citation``...), cited in the report.
    max_cluster_figures : int
        Clusters (largest first) that get an orthogonal-slices figure.

    Returns
    -------
    pathlib.Path
        Path of ``index.html``.
    """
    target = check_output_dir(out_dir)
    with staged_folder(target) as out:
        write_tables(result, out)
        tables = result_tables(result)
        label_maps = getattr(result, "label_maps", None)
        if label_maps is not None:
            label_maps.to_filename(str(out / CLUSTERS_NII))
        summary = summary_rows(
            tables["clusters"],
            tables.get("cluster_assignments"),
            result.map.parcellation.name,
            result.parameters.min_correlation,
        )
        order = [r["cluster"] for r in (summary or {}).get("rows", [])]
        winners = best_regions(tables.get("cluster_assignments"))
        best = [winners[c][0] for c in order if c in winners] + [v[0] for v in winners.values()]
        shown = best + shown_regions(tables.get("cluster_assignments")) + shown_regions(tables.get("peak_assignments"))
        regions = shown_region_objects(result, shown)
        featured = shown_region_objects(result, best)[:top_n]
        # the feature queries first: their transient arrays then sit on less memory than after the figures
        panels = feature_panels(featured, out, feature_types, plots=plots)
        figures: dict[str, Any] = {"input": "", "clusters": "", "cluster_slices": []}
        has_viewer = False
        if plots:
            figures, has_viewer = draw_figures(
                result, tables, out, input_label or result.input.name, max_cluster_figures, viewer
            )
        meta = collect_metadata(
            result,
            regions,
            panels,
            figures,
            input_label=input_label,
            input_provenance=input_provenance,
            viewer=has_viewer,
        )
        (out / METADATA_JSON).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        build_report(out)
    logger.info("Report written to %s", target / INDEX_HTML)
    return target / INDEX_HTML
