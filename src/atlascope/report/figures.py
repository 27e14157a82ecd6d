"""The report's figure basics and the orthogonal slices through each cluster.

All figures are saved at :data:`DPI` with :data:`PNG_OPTIONS`; every colour bar names its quantity.
The slices of the clusters share one :class:`FigureContext`: the background template and the input
are read once, and one matplotlib figure is drawn for the first cluster and then updated for the
others (new pixels, titles and marks), so the axes, colour bar and fonts are laid out once. Each panel
is one RGB image composed with numpy — template in grey, the input above its threshold in colour, the
cluster's outline in its colour — from the three planes through the peak, sampled with nearest
neighbour at 1 mm; no volume is resampled as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from PIL import Image

from ..affines import nearest_voxel
from .template import Template

__all__ = ["DPI", "PNG_OPTIONS", "FigureContext", "plot_cluster_slices", "save_pixels", "threshold_of"]

#: Resolution of every PNG of the report (dots per inch).
DPI = 150

#: PNG writer options: fast zlib level (the files are embedded once; encoding time dominates).
PNG_OPTIONS = MappingProxyType({"pil_kwargs": MappingProxyType({"compress_level": 1})})

#: Bounding box of the slice figures (MNI mm): x, y, z ranges.
_BOX = ((-90.0, 90.0), (-126.0, 90.0), (-72.0, 108.0))
_STEP_MM = 1.0
_PLANES = ("sagittal x", "coronal y", "axial z")


def threshold_of(data: np.ndarray, percentile: float) -> float | None:
    """The ``percentile`` of the finite non-zero magnitudes of ``data`` (None if there are none)."""
    nz = np.abs(data[np.isfinite(data) & (data != 0)])
    return float(np.percentile(nz, percentile)) if nz.size else None


def _grid(axis: int) -> np.ndarray:
    return np.arange(_BOX[axis][0], _BOX[axis][1] + _STEP_MM, _STEP_MM)


def _axis_indices(affine: np.ndarray, axis: int, coords: np.ndarray) -> np.ndarray:
    """Nearest voxel indices along ``axis`` of mm ``coords`` on that axis (axes parallel to x, y, z)."""
    pts = np.zeros((len(coords), 3))
    pts[:, axis] = coords
    return nearest_voxel(pts, affine)[:, axis]


def _edge(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` (2D bool) with a 4-neighbour outside it: the outline."""
    p = np.pad(mask, 1)
    inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return mask & ~inner


class FigureContext:
    """What the slice figures share: the background template, the input, and the figure itself.

    Parameters
    ----------
    img : nibabel.Nifti1Image
        The input (any grid; sampled with nearest neighbour).
    template : Template
        Anatomical background (its 1 mm grid).
    """

    def __init__(self, img: Any, template: Template) -> None:
        self.bg = (template.data, template.affine)
        data = np.asanyarray(img.dataobj, dtype=np.float32)
        self.input = (data.reshape(data.shape[:3]), np.asarray(img.affine, float))
        finite = np.abs(data[np.isfinite(data)])
        self.vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        self.threshold = threshold_of(data, 75) or 0.0
        self.signed = bool(np.any(data < 0))
        self._figure: dict[str, Any] | None = None

    def plane(self, volume: tuple[np.ndarray, np.ndarray], axis: int, mm: float, fill: Any = np.nan) -> np.ndarray:
        """Nearest-neighbour values of ``volume`` (data, affine) on the plane ``axis = mm`` of the box.

        Returns an array of shape (n_u, n_v) over the other two axes (1 mm steps, ``fill`` outside the
        volume), of the volume's dtype (float for a NaN ``fill``).
        """
        data, affine = volume
        other = [a for a in range(3) if a != axis]
        dtype = np.result_type(data.dtype, np.float32) if isinstance(fill, float) and np.isnan(fill) else data.dtype
        lin = np.asarray(affine, float)[:3, :3]
        if not np.any(lin - np.diag(np.diag(lin))):  # axes parallel to x, y, z: one index vector per axis
            i = _axis_indices(affine, axis, np.array([float(mm)]))[0]
            iu = _axis_indices(affine, other[0], _grid(other[0]))
            iv = _axis_indices(affine, other[1], _grid(other[1]))
            out = np.full((len(iu), len(iv)), fill, dtype=dtype)
            ou = (iu >= 0) & (iu < data.shape[other[0]])
            ov = (iv >= 0) & (iv < data.shape[other[1]])
            if 0 <= i < data.shape[axis] and ou.any() and ov.any():
                sheet = data[(slice(None),) * axis + (int(i),)]  # a view (np.take would copy)
                out[np.ix_(ou, ov)] = sheet[np.ix_(iu[ou], iv[ov])]
            return out
        u, v = np.meshgrid(_grid(other[0]), _grid(other[1]), indexing="ij")
        world = np.empty((u.size, 3))
        world[:, axis] = mm
        world[:, other[0]] = u.ravel()
        world[:, other[1]] = v.ravel()
        ijk = nearest_voxel(world, affine)
        ok = np.all((ijk >= 0) & (ijk < np.asarray(data.shape[:3])), axis=1)
        out = np.full(u.size, fill, dtype=dtype)
        out[ok] = data[tuple(ijk[ok].T)]
        return out.reshape(u.shape)

    def close(self) -> None:
        """Let go of the shared figure (once every slice figure is written)."""
        self._figure = None

    def figure(self, quantity: str) -> dict[str, Any]:
        """The shared figure: created and drawn once at the first call (axes, colour bar, fonts).

        What changes between clusters (pixels, peak marks, titles, the L/R marks drawn over the
        pixels) is animated: left out of that first drawing, whose pixels are kept, and drawn over a
        copy of them for each cluster (matplotlib's blitting), so each figure costs three images and a
        few labels instead of a whole layout.
        """
        if self._figure is not None:
            return self._figure
        from matplotlib import colormaps
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize, TwoSlopeNorm
        from matplotlib.figure import Figure

        vmax = self.vmax
        cmap = colormaps["RdBu_r" if self.signed else "hot"]
        norm = TwoSlopeNorm(0.0, -vmax, vmax) if self.signed else Normalize(0.0, vmax)
        fig = Figure(figsize=(7.2, 2.7), dpi=DPI, facecolor="white")
        canvas = FigureCanvasAgg(fig)
        axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [216, 180, 180]})
        layers: list[list[Any]] = []
        for axis, ax in enumerate(axes):
            other = [a for a in range(3) if a != axis]
            lo_u, hi_u = _BOX[other[0]]
            lo_v, hi_v = _BOX[other[1]]
            ext = (lo_u - _STEP_MM / 2, hi_u + _STEP_MM / 2, lo_v - _STEP_MM / 2, hi_v + _STEP_MM / 2)
            blank = np.ones((len(_grid(other[1])), len(_grid(other[0])), 3), np.float32)
            drawn = [ax.imshow(blank, origin="lower", extent=ext, interpolation="nearest")]
            drawn.append(ax.plot([0.0], [0.0], marker="+", color="#00e0ff", markersize=9, mew=1.5)[0])
            drawn.append(ax.set_title("", fontsize=8))
            ax.set_xticks([])
            ax.set_yticks([])
            if axis != 0:  # hemisphere markers
                drawn.append(ax.text(0.02, 0.02, "L", transform=ax.transAxes, color="white", fontsize=9,
                                     fontweight="bold"))
                drawn.append(ax.text(0.93, 0.02, "R", transform=ax.transAxes, color="white", fontsize=9,
                                     fontweight="bold"))
            layers.append(drawn)
        suptitle = fig.suptitle("", fontsize=9)
        fig.subplots_adjust(left=0.01, right=0.9, top=0.84, bottom=0.03, wspace=0.04)
        cax = fig.add_axes((0.915, 0.12, 0.015, 0.66))
        cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
        cb.set_label(quantity, fontsize=8)
        cb.ax.tick_params(labelsize=7)
        for artist in [*(a for drawn in layers for a in drawn), suptitle]:
            artist.set_animated(True)
        canvas.draw()
        self._figure = {"fig": fig, "canvas": canvas, "background": canvas.copy_from_bbox(fig.bbox),
                        "layers": layers, "suptitle": suptitle, "cmap": cmap, "norm": norm}
        return self._figure

    def panel(self, axis: int, mm: float, mask: tuple[np.ndarray, np.ndarray], color: Any) -> np.ndarray:
        """RGB pixels (n_v, n_u, 3) of one plane: template grey, input above threshold, cluster outline."""
        from matplotlib.colors import to_rgb

        fig = self._figure
        if fig is None:
            raise RuntimeError("FigureContext.figure() must be called before panel()")
        bg = self.plane(self.bg, axis, mm, fill=0).astype(np.float32)
        val = self.plane(self.input, axis, mm)
        m = self.plane(mask, axis, mm, fill=False).astype(bool, copy=False)
        lo, hi = float(bg.min()), float(bg.max())
        grey = (bg - lo) / (hi - lo) if hi > lo else np.zeros_like(bg)
        rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
        shown = np.abs(np.nan_to_num(val)) > self.threshold
        if shown.any():
            rgb[shown] = fig["cmap"](fig["norm"](val[shown]))[:, :3]
        rgb[_edge(m)] = to_rgb(color)
        return rgb.transpose(1, 0, 2)


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
        Shared background, input and figure (call ``ctx.close()`` after the last cluster).
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
        Name and unit of the input's values (colour bar label; fixed by the first call).
    """
    peak = [float(v) for v in peak_mm]
    fig = ctx.figure(quantity)
    mask_vol = (np.asarray(mask[0]) > 0.5, np.asarray(mask[1], float))
    canvas = fig["canvas"]
    canvas.restore_region(fig["background"])
    for axis, (image, mark, heading, *marks) in enumerate(fig["layers"]):
        other = [a for a in range(3) if a != axis]
        image.set_data(ctx.panel(axis, peak[axis], mask_vol, color))
        mark.set_data([peak[other[0]]], [peak[other[1]]])
        heading.set_text(f"{_PLANES[axis]} = {peak[axis]:.0f} mm")
        for artist in (image, mark, *marks, heading):
            fig["fig"].draw_artist(artist)
    fig["suptitle"].set_text(title)
    fig["fig"].draw_artist(fig["suptitle"])
    return save_pixels(canvas, path)


def save_pixels(canvas: Any, path: Path) -> Path:
    """Write what an Agg canvas holds as an RGB PNG at :data:`DPI` (no new drawing)."""
    rgba = np.asarray(canvas.buffer_rgba())
    Image.fromarray(rgba[..., :3]).save(path, format="png", dpi=(DPI, DPI), **PNG_OPTIONS["pil_kwargs"])
    return path
