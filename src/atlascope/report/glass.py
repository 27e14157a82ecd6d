"""Glass brains of the report: maximum-intensity projections over the outline of the template's head.

Drawn with matplotlib ``imshow`` instead of nilearn's ``plot_glass_brain``: importing
``nilearn.plotting`` alone takes 2–5 s and about 270 MB (it pulls scikit-learn) on a 2-core machine,
more than the whole report may cost, and each of its glass brains draws a vector schematic of some
2,000 patches (about 1 s). Here the input is sampled with nearest neighbour on the template's 2 mm grid
(only its support, :func:`atlascope.volumes.resampling.crop_resample`) and projected along x, y and z: each
pixel shows the value of largest magnitude along its ray (with its sign), so the colours are values of
the input. Three views (sagittal, coronal, axial) share MNI mm axes; L and R mark the hemispheres.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..volumes.resampling import crop_resample
from .figures import DPI, save_pixels, threshold_of
from .template import Template

__all__ = ["GlassBrains", "on_template_grid", "projection", "plot_input", "plot_clusters"]

#: The three views: projected axis, view name, (horizontal, vertical) axes.
_VIEWS = ((0, "sagittal", (1, 2)), (1, "coronal", (0, 2)), (2, "axial", (0, 1)))
_AXIS_NAMES = "xyz"


def on_template_grid(data: np.ndarray, affine: np.ndarray, tpl: Template, nearest: bool = True) -> np.ndarray:
    """Sample a 3D volume on the template's 2 mm grid (0 outside the volume's support).

    Parameters
    ----------
    data : numpy.ndarray, shape (X, Y, Z)
        The volume (NaN counts as 0).
    affine : numpy.ndarray, shape (4, 4)
        Its voxel-to-mm matrix.
    tpl : Template
        The template whose 2 mm grid is sampled.
    nearest : bool
        Nearest neighbour (values of the input, dtype kept) instead of linear interpolation (float32).

    Returns
    -------
    numpy.ndarray, shape of ``tpl.data2``
    """
    data = np.asanyarray(data)
    if data.dtype.kind == "f":
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    sub, off = crop_resample(data, affine, tpl.data2.shape, tpl.affine2, labels=nearest)
    out = np.zeros(tpl.data2.shape, sub.dtype if sub.size else np.float32)
    if sub.size:
        out[off[0] : off[0] + sub.shape[0], off[1] : off[1] + sub.shape[1], off[2] : off[2] + sub.shape[2]] = sub
    return out


def projection(values: np.ndarray, axis: int, weight: np.ndarray | None = None) -> np.ndarray:
    """Signed maximum-intensity projection: along ``axis``, the value where ``weight`` is largest.

    Parameters
    ----------
    values : numpy.ndarray, shape (X, Y, Z)
        Values to show.
    axis : int
        Projected axis.
    weight : numpy.ndarray, optional
        Same shape; default ``abs(values)``.

    Returns
    -------
    numpy.ndarray
        Shape of the two other axes.
    """
    w = np.abs(values) if weight is None else weight
    idx = np.expand_dims(np.argmax(w, axis=axis), axis)
    return np.take_along_axis(values, idx, axis=axis).squeeze(axis)


def _extent(tpl: Template, axes: tuple[int, int]) -> tuple[float, float, float, float]:
    """imshow extent (mm, voxel edges) of the 2 mm grid over two axes."""
    ext = []
    for a in axes:
        step = float(tpl.affine2[a, a])
        start = float(tpl.affine2[a, 3])
        ext += [start - step / 2, start + step * (tpl.data2.shape[a] - 0.5)]
    return tuple(ext)


class GlassBrains:
    """The glass-brain figure, laid out once and reused: silhouettes, axes and marks stay, layers go.

    Parameters
    ----------
    tpl : Template
        The template whose 2 mm grid the inputs are sampled on.
    """

    def __init__(self, tpl: Template) -> None:
        self.tpl = tpl
        self._fig: Any = None
        self._axes: list[Any] = []
        self._layers: list[Any] = []
        self._suptitle: Any = None

    def axes(self) -> list[Any]:
        """The three axes (sagittal, coronal, axial), created at the first call."""
        if self._fig is None:
            self._layout()
        return self._axes

    def _layout(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MultipleLocator

        tpl = self.tpl
        widths = [tpl.data2.shape[h] for _a, _n, (h, _v) in _VIEWS]
        fig = Figure(figsize=(8.4, 3.1), dpi=DPI, facecolor="white")
        canvas = FigureCanvasAgg(fig)
        axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": widths})
        for (axis, name, (h, v)), ax in zip(_VIEWS, axes):
            sil = tpl.silhouette(axis).T.astype(np.float32)
            ext = _extent(tpl, (h, v))
            ax.imshow(np.where(sil > 0, 0.93, 1.0), origin="lower", cmap="gray", vmin=0, vmax=1, extent=ext,
                      interpolation="nearest")
            ax.contour(sil, levels=[0.5], colors=["#707070"], linewidths=0.8, extent=ext, origin="lower")
            ax.set_autoscale_on(False)
            ax.set_title(f"{name} (projected along {_AXIS_NAMES[axis]})", fontsize=8)
            ax.set_xlabel(f"{_AXIS_NAMES[h]} (mm)", fontsize=7)
            ax.set_ylabel(f"{_AXIS_NAMES[v]} (mm)", fontsize=7, labelpad=1)
            ax.xaxis.set_major_locator(MultipleLocator(50))
            ax.yaxis.set_major_locator(MultipleLocator(50))
            ax.tick_params(labelsize=6, length=2)
            if h == 0:  # x runs left to right: the hemispheres
                ax.text(0.03, 0.03, "L", transform=ax.transAxes, fontsize=9, fontweight="bold", color="#404040")
                ax.text(0.92, 0.03, "R", transform=ax.transAxes, fontsize=9, fontweight="bold", color="#404040")
            else:
                ax.text(0.03, 0.03, "P", transform=ax.transAxes, fontsize=8, color="#404040")
                ax.text(0.93, 0.03, "A", transform=ax.transAxes, fontsize=8, color="#404040")
        self._suptitle = fig.suptitle("", fontsize=9, animated=True)
        fig.subplots_adjust(left=0.05, right=0.9, top=0.85, bottom=0.13, wspace=0.25)
        canvas.draw()  # the part every glass brain shares, drawn once
        self._fig, self._axes = fig, list(axes)
        self._canvas, self._background = canvas, canvas.copy_from_bbox(fig.bbox)

    def layer(self, ax: Any, values: np.ndarray, h: int, v: int, cmap: Any, norm: Any) -> None:
        """Draw ``values`` (shape (n_h, n_v) on the 2 mm grid; NaN: not drawn) in ``ax``.

        The colours are computed here (``cmap(norm(values))``), so each pixel shows exactly its value's
        colour (matplotlib's own resampling of scalar images can drop values at the ends of the
        range). The layer is removed after the next save.
        """
        rgba = np.zeros(values.shape + (4,), np.float32)
        shown = np.isfinite(values)
        rgba[shown] = cmap(norm(values[shown]))
        image = ax.imshow(rgba.transpose(1, 0, 2), origin="lower", extent=_extent(self.tpl, (h, v)),
                          interpolation="nearest", animated=True)
        self._layers.append(image)

    def colorbar(self, cmap: Any, norm: Any, label: str, ticks: Any = None) -> None:
        """A colour bar of ``cmap`` on ``norm`` naming ``label`` (removed after the next save)."""
        from matplotlib.cm import ScalarMappable

        cax = self._fig.add_axes((0.915, 0.16, 0.012, 0.64), animated=True)
        cb = self._fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, ticks=ticks)
        cb.set_label(label, fontsize=8)
        cb.ax.tick_params(labelsize=7)
        self._layers.append(cax)

    def scatter(self, ax: Any, *args: Any, **kwargs: Any) -> None:
        """Markers in ``ax`` (removed after the next save)."""
        self._layers.append(ax.scatter(*args, animated=True, **kwargs))

    def save(self, path: Path, title: str) -> Path:
        """Write the figure with ``title``, then remove its layers for the next glass brain.

        The layers and the title are drawn over a copy of the shared part (matplotlib's blitting).
        """
        self.axes()
        self._canvas.restore_region(self._background)
        self._suptitle.set_text(title or "")
        for artist in [*self._layers, self._suptitle]:
            self._fig.draw_artist(artist)
        save_pixels(self._canvas, path)
        for artist in reversed(self._layers):  # the colour bar before the image it shows
            artist.remove()
        self._layers = []
        return path

    def close(self) -> None:
        """Let go of the figure."""
        self._fig = None


def plot_input(
    img: Any, path: Path, glass: GlassBrains, title: str = "", quantity: str = "input value (t or z)"
) -> Path:
    """Glass brain of the input (positive and negative values) with a colour bar naming ``quantity``.

    Values of magnitude at most the 75th percentile of the non-zero magnitudes are not drawn.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, TwoSlopeNorm

    data = np.asanyarray(img.dataobj, dtype=np.float32)
    data = data.reshape(data.shape[:3])
    thr = threshold_of(data, 75) or 0.0
    grid = on_template_grid(data, np.asarray(img.affine, float), glass.tpl)
    del data
    signed = bool(grid.min() < 0)
    top = float(np.abs(grid).max()) or 1.0
    cmap = colormaps["RdBu_r" if signed else "hot"]
    norm = TwoSlopeNorm(0.0, -top, top) if signed else Normalize(0.0, top)
    for (axis, _name, (h, v)), ax in zip(_VIEWS, glass.axes()):
        proj = projection(grid, axis)
        proj = np.where(np.abs(proj) > thr, proj, np.nan)
        glass.layer(ax, proj, h, v, cmap, norm)
    glass.colorbar(cmap, norm, quantity)
    return glass.save(path, title)


def plot_clusters(
    coords: np.ndarray | None,
    labels: np.ndarray | None,
    colors: Mapping[int, str],
    path: Path,
    glass: GlassBrains,
    title: str = "clusters",
    label_image: Any = None,
    input_image: Any = None,
) -> Path:
    """All clusters over one glass brain.

    With ``label_image`` (statistical-map method: +id positive, −id negative clusters) each pixel shows
    the cluster holding the strongest input voxel along its ray (``input_image``; without it the
    cluster of largest id magnitude), with a colour bar of the cluster id. Otherwise the samples
    (``coords``, MNI mm, shape (n, 3)) of each cluster are drawn in its colour; noise samples
    (label −1) are never drawn.
    """
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, ListedColormap

    tpl = glass.tpl
    axes = glass.axes()
    if label_image is not None:
        lab = on_template_grid(np.asanyarray(label_image.dataobj), np.asarray(label_image.affine, float), tpl)
        lab = lab.astype(np.int32, copy=False)
        if input_image is not None:
            val = on_template_grid(np.asanyarray(input_image.dataobj, dtype=np.float32),
                                   np.asarray(input_image.affine, float), tpl)
            weight = np.where(lab != 0, np.abs(val) + 1.0, 0.0).astype(np.float32)
            del val
        else:
            weight = np.abs(lab).astype(np.float32)
        ids = [int(i) for i in np.unique(lab) if i != 0]
        if ids:
            bounds = np.r_[np.asarray(ids, float) - 0.5, ids[-1] + 0.5]
            palette = colormaps["tab20"]
            cmap = ListedColormap([palette(k % 20) for k in range(len(ids))])
            norm = BoundaryNorm(bounds, cmap.N)
            for (axis, _name, (h, v)), ax in zip(_VIEWS, axes):
                proj = projection(lab, axis, weight).astype(np.float32)
                proj[proj == 0] = np.nan
                glass.layer(ax, proj, h, v, cmap, norm)
            glass.colorbar(cmap, norm, "cluster id (− = negative)", ticks=ids if len(ids) <= 24 else None)
        return glass.save(path, title)
    if coords is not None and labels is not None:
        labels = np.asarray(labels, int)
        sel = labels >= 0
        if sel.any():
            xyz = np.asarray(coords, float)[sel]
            col = [colors.get(int(v), "#808080") for v in labels[sel]]
            for (_axis, _name, (h, v)), ax in zip(_VIEWS, axes):
                glass.scatter(ax, xyz[:, h], xyz[:, v], s=1.5, c=col, linewidths=0, alpha=0.6)
    return glass.save(path, title)
