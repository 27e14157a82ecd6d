"""The report's figures: glass brains of the input and of the clusters, orthogonal slices per cluster.

All figures are saved at :data:`DPI`; every colour bar names its quantity. The slices of the clusters
share one :class:`FigureContext` (background template and input read once), and sample only the three
planes they show (nearest neighbour), so no volume is resampled as a whole and no figure is drawn twice.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..commons import logger

__all__ = [
    "DPI",
    "FigureContext",
    "plot_input",
    "plot_clusters",
    "plot_cluster_slices",
    "write_viewer",
    "save_figure",
]

#: Resolution of every PNG of the report (dots per inch).
DPI = 150

#: PNG writer options: fast zlib level (the files are embedded once; encoding time dominates).
PNG_OPTIONS = {"pil_kwargs": {"compress_level": 1}}

#: Bounding box of the slice figures (MNI mm): x, y, z ranges.
_BOX = ((-90.0, 90.0), (-126.0, 90.0), (-72.0, 108.0))
_STEP_MM = 1.0


@contextlib.contextmanager
def _nilearn_quiet():
    """Hide a harmless numpy warning nilearn's glass brains raise on masked arrays."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*'partition' will ignore the 'mask'", category=UserWarning)
        yield


def save_figure(display_or_fig: Any, path: Path) -> Path:
    """Save a matplotlib figure or nilearn display at :data:`DPI` on white, then close it."""
    import matplotlib.pyplot as plt

    fig = getattr(display_or_fig, "frame_axes", None)
    fig = fig.figure if fig is not None else display_or_fig
    with _nilearn_quiet():
        fig.savefig(path, dpi=DPI, facecolor="white", **PNG_OPTIONS)
    if hasattr(display_or_fig, "close"):
        display_or_fig.close()
    plt.close(fig)
    return path


def _label_colorbar(display: Any, label: str) -> None:
    cbar = getattr(display, "_cbar", None)
    if cbar is not None:
        cbar.set_label(label, fontsize=8)


def _threshold(data: np.ndarray, percentile: float) -> float | None:
    nz = np.abs(data[np.isfinite(data) & (data != 0)])
    return float(np.percentile(nz, percentile)) if nz.size else None


def plot_input(img: Any, path: Path, title: str = "", quantity: str = "input value (t or z)") -> Path:
    """Glass brain of the input image (positive and negative values) with a labelled colour bar."""
    from nilearn import plotting

    data = np.asanyarray(img.dataobj)
    plot_abs = bool(np.all(data >= 0))
    with _nilearn_quiet():
        d = plotting.plot_glass_brain(
            img,
            display_mode="lyrz",
            colorbar=True,
            plot_abs=plot_abs,
            threshold=_threshold(data, 75),
            title=title or None,
            cmap="cold_hot" if not plot_abs else "hot",
        )
    _label_colorbar(d, quantity)
    return save_figure(d, path)


def plot_clusters(
    coords: np.ndarray | None,
    labels: np.ndarray | None,
    colors: dict[int, str],
    path: Path,
    title: str = "clusters",
    label_image: Any = None,
) -> Path:
    """All clusters over one glass brain.

    With ``label_image`` (statistical-map method: +id positive, −id negative clusters) the image is
    drawn with a colour bar of the cluster id; otherwise the samples of each cluster are drawn in its
    colour. Noise samples (label −1) are never drawn.
    """
    from nilearn import plotting

    if label_image is not None:
        with _nilearn_quiet():
            d = plotting.plot_glass_brain(
                label_image, display_mode="lyrz", colorbar=True, plot_abs=False, cmap="tab20", title=title,
                threshold=0.5,
            )
        _label_colorbar(d, "cluster id (− = negative)")
        return save_figure(d, path)
    d = plotting.plot_glass_brain(None, display_mode="lyrz", title=title)
    if coords is not None and labels is not None:
        labels = np.asarray(labels, int)
        sel = labels >= 0
        if sel.any():
            d.add_markers(
                np.asarray(coords)[sel],
                marker_color=[colors.get(int(v), "#808080") for v in labels[sel]],
                marker_size=4,
            )
    return save_figure(d, path)


class FigureContext:
    """What the slice figures share: the background template and the input, each read once.

    Parameters
    ----------
    img : nibabel.Nifti1Image
        The input (any grid; sampled with nearest neighbour).
    background : nibabel.Nifti1Image, optional
        Anatomical background (default: nilearn's MNI152 template).
    """

    def __init__(self, img: Any, background: Any = None) -> None:
        if background is None:
            from nilearn import datasets

            background = datasets.load_mni152_template(resolution=1)
        self.bg = (np.asanyarray(background.dataobj, dtype=np.float32), np.asarray(background.affine, float))
        data = np.asanyarray(img.dataobj, dtype=np.float32)
        self.input = (data.reshape(data.shape[:3]), np.asarray(img.affine, float))
        finite = np.abs(data[np.isfinite(data)])
        self.vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        self.threshold = _threshold(data, 75) or 0.0
        self.signed = bool(np.any(data < 0))

    def plane(self, volume: tuple[np.ndarray, np.ndarray], axis: int, mm: float) -> np.ndarray:
        """Nearest-neighbour values of ``volume`` (data, affine) on the plane ``axis = mm`` of the box.

        Returns an array of shape (n_u, n_v) over the other two axes (1 mm steps, NaN outside).
        """
        data, affine = volume
        other = [a for a in range(3) if a != axis]
        grids = [np.arange(_BOX[a][0], _BOX[a][1] + _STEP_MM, _STEP_MM) for a in other]
        u, v = np.meshgrid(*grids, indexing="ij")
        world = np.empty((4, u.size))
        world[axis] = mm
        world[other[0]] = u.ravel()
        world[other[1]] = v.ravel()
        world[3] = 1.0
        from scipy import ndimage  # heavy: imported when a figure is drawn, not with the package

        ijk = np.linalg.inv(affine) @ world
        vals = ndimage.map_coordinates(data, ijk[:3], order=0, mode="constant", cval=np.nan)
        return vals.reshape(u.shape)


def plot_cluster_slices(
    ctx: FigureContext,
    peak_mm: Sequence[float],
    mask: tuple[np.ndarray, np.ndarray],
    path: Path,
    title: str,
    color: str = "#00c000",
    quantity: str = "input value (t or z)",
) -> Path:
    """Sagittal, coronal and axial slices through a cluster's peak, the cluster outlined.

    Parameters
    ----------
    ctx : FigureContext
        Shared background and input.
    peak_mm : sequence of 3 float
        The cluster's peak (MNI mm); the slices pass through it.
    mask : (ndarray, ndarray)
        The cluster as a boolean (or 0/1) volume and its affine (4, 4).
    path : path
        PNG to write.
    title : str
        Figure title.
    color : str
        Outline colour (the cluster's colour).
    quantity : str
        Name and unit of the input's values (colour bar label).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    peak = [float(v) for v in peak_mm]
    fig, axes = plt.subplots(1, 3, figsize=(9.0, 3.3), gridspec_kw={"width_ratios": [216, 180, 180]})
    vmax = ctx.vmax
    cmap = plt.get_cmap("RdBu_r" if ctx.signed else "hot")
    norm = TwoSlopeNorm(0.0, -vmax, vmax) if ctx.signed else matplotlib.colors.Normalize(0.0, vmax)
    image = None
    names = ("sagittal x", "coronal y", "axial z")
    mask_vol = (np.asarray(mask[0], np.float32), np.asarray(mask[1], float))
    for axis, ax in enumerate(axes):
        bg = ctx.plane(ctx.bg, axis, peak[axis])
        val = ctx.plane(ctx.input, axis, peak[axis])
        m = ctx.plane(mask_vol, axis, peak[axis])
        val = np.where(np.abs(np.nan_to_num(val)) > ctx.threshold, val, np.nan)
        other = [a for a in range(3) if a != axis]
        ext = (_BOX[other[0]][0], _BOX[other[0]][1], _BOX[other[1]][0], _BOX[other[1]][1])
        ax.imshow(np.nan_to_num(bg).T, origin="lower", cmap="gray", extent=ext, interpolation="nearest")
        image = ax.imshow(val.T, origin="lower", cmap=cmap, norm=norm, extent=ext, interpolation="nearest")
        if np.nanmax(np.nan_to_num(m)) > 0:
            gu = np.arange(_BOX[other[0]][0], _BOX[other[0]][1] + _STEP_MM, _STEP_MM)
            gv = np.arange(_BOX[other[1]][0], _BOX[other[1]][1] + _STEP_MM, _STEP_MM)
            ax.contour(gu, gv, (np.nan_to_num(m) > 0.5).T.astype(float), levels=[0.5], colors=[color], linewidths=1.2)
        ax.plot([peak[other[0]]], [peak[other[1]]], marker="+", color="#00e0ff", markersize=9, mew=1.5)
        ax.set_title(f"{names[axis]} = {peak[axis]:.0f} mm", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if axis != 0:  # hemisphere markers
            ax.text(0.02, 0.02, "L", transform=ax.transAxes, color="white", fontsize=9, fontweight="bold")
            ax.text(0.93, 0.02, "R", transform=ax.transAxes, color="white", fontsize=9, fontweight="bold")
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.9, top=0.84, bottom=0.03, wspace=0.04)
    cax = fig.add_axes((0.915, 0.12, 0.015, 0.66))
    cb = fig.colorbar(image, cax=cax)
    cb.set_label(quantity, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    fig.savefig(path, dpi=DPI, facecolor="white", **PNG_OPTIONS)
    plt.close(fig)
    return path


def write_viewer(img: Any, path: Path, title: str = "") -> Path | None:
    """nilearn's slice viewer of ``img`` as one standalone HTML file (JS inlined; favicon link removed).

    Returns None when nilearn cannot render it.
    """
    from nilearn import plotting

    try:
        data = np.asanyarray(img.dataobj)
        with _nilearn_quiet():
            view = plotting.view_img(
                img, threshold=_threshold(data, 50), title=title or None, symmetric_cmap=not np.all(data >= 0)
            )
        page = view.get_standalone()
    except Exception as exc:  # nilearn's viewer is optional decoration
        logger.warning("The interactive slice viewer could not be made: %s", exc)
        return None
    page = re.sub(r"<link[^>]*rel=\"icon\"[^>]*>", "", page, flags=re.S)
    if re.search(r"<script[^>]+src=|<link[^>]+href=\"https?:", page):
        logger.warning("nilearn's viewer refers to network resources; it is left out of the offline report.")
        return None
    path.write_text(page, encoding="utf-8")
    return path
