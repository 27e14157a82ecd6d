"""The report's interactive slice viewer: one standalone HTML page (brainsprite.js, as nilearn's view_img).

nilearn's ``view_img`` would cost more than the whole report may take: importing ``nilearn.plotting``
pulls scikit-learn (2–5 s, about 270 MB on a 2-core machine) and it resamples the input onto the
template with cubic splines (about 2 s). The page here is the same viewer — the brainsprite.js and
jQuery scripts nilearn ships, read from its package data and inlined, driven by the parameters
nilearn gives them — built from the template's 2 mm grid (:mod:`atlascope.report.template`) and the
input sampled on it by linear interpolation of its support only. Values at most the threshold are
transparent; the colour bar greys them out, as nilearn does.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..commons import logger
from ..configuration.package_data import package_file
from .glass import on_template_grid
from .template import Template

__all__ = ["SCRIPTS", "write_viewer", "sprite"]

#: nilearn's copies of the viewer's scripts (path parts inside the nilearn package), inlined in order.
SCRIPTS = (("_assets", "js", "jquery.min.js"), ("_assets", "js", "brainsprite.min.js"))

_IDS = ("viewer", "canvas", "sprite", "overlay", "color_map", "opacity", "opacity_value")

_INIT = """(function () {
var brain;
function start() {
  if (brain) { return; }
  brain = brainsprite(%(params)s);
  var slider = document.getElementById("%(opacity)s");
  var output = document.getElementById("%(opacity_value)s");
  slider.oninput = function () {
    output.innerHTML = this.value;
    brain.overlay.opacity = this.value / 100;
    brain.init();
    brain.drawAll();
  };
}
var images = ["%(sprite)s", "%(overlay)s", "%(color_map)s"].map(function (id) { return document.getElementById(id); });
if (images.every(function (im) { return im.complete; })) { start(); } else {
  images.forEach(function (im) { im.addEventListener("load", function () {
    if (images.every(function (i) { return i.complete; })) { start(); } }, {once: true}); });
}
})();"""


def sprite(data: np.ndarray) -> np.ndarray:
    """All sagittal slices of ``data`` (X, Y, Z) pasted row by row into one 2D image.

    Each slice is shown with z up and y to the right (nz x ny pixels); the mosaic has
    ``ceil(sqrt(X))`` rows and the last row is completed with empty slices (the layout brainsprite.js
    reads).
    """
    nx, ny, nz = data.shape
    nrows = int(np.ceil(np.sqrt(nx)))
    ncols = int(np.ceil(nx / nrows))
    tiles = np.zeros((nrows * ncols, nz, ny), data.dtype)
    tiles[:nx] = data[:, :, ::-1].transpose(0, 2, 1)
    return tiles.reshape(nrows, ncols, nz, ny).transpose(0, 2, 1, 3).reshape(nrows * nz, ncols * ny)


def _png_b64(pixels: np.ndarray, palette: np.ndarray | None = None, transparent: int | None = None) -> str:
    """Base64 PNG of uint8 ``pixels``: grey (2D), RGB(A) (3D), or indices into ``palette`` (256, 3).

    Palette images keep the sprites at one byte per pixel (no RGBA copy of a million pixels); the
    ``transparent`` palette index is see-through.
    """
    im = Image.fromarray(np.ascontiguousarray(pixels))
    extra: dict[str, Any] = {}
    if palette is not None:
        im.putpalette(np.ascontiguousarray(palette, dtype=np.uint8).tobytes())
        if transparent is not None:
            extra["transparency"] = transparent
    buf = io.BytesIO()
    im.save(buf, format="png", compress_level=1, **extra)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _levels(values: np.ndarray, vmin: float, vmax: float, first: int = 0) -> np.ndarray:
    """uint8 indices ``first``…255 of ``values`` on [vmin, vmax] (1 byte per voxel, no float copy)."""
    span = 255.999 - first
    scaled = (values - np.float32(vmin)) * np.float32(span / ((vmax - vmin) or 1.0))
    np.clip(scaled, 0, span - 1e-3, out=scaled)
    scaled += first
    return scaled.astype(np.uint8)


def write_viewer(img: Any, path: Path, tpl: Template, title: str = "", threshold: float | None = None) -> Path | None:
    """Write the slice viewer of ``img`` over the template as one standalone HTML file.

    Parameters
    ----------
    img : nibabel.Nifti1Image
        The input (3D, MNI mm).
    path : path
        HTML file to write.
    tpl : Template
        Background (its 2 mm grid).
    title : str
        Shown above the views.
    threshold : float, optional
        Magnitudes at most this are transparent (default: the median of the non-zero magnitudes).

    Returns
    -------
    pathlib.Path or None
        ``path``, or None when nilearn's scripts are missing (the report then has no viewer tab).
    """
    from matplotlib import colormaps

    try:
        scripts = [package_file("nilearn", *parts).read_text(encoding="utf-8") for parts in SCRIPTS]
    except Exception as exc:  # the viewer is optional decoration
        logger.warning("The interactive slice viewer could not be made: %s", exc)
        return None
    data = np.asanyarray(img.dataobj, dtype=np.float32)
    data = data.reshape(data.shape[:3])
    if threshold is None:
        nz = np.abs(data[np.isfinite(data) & (data != 0)])
        threshold = float(np.median(nz)) if nz.size else 0.0
    signed = bool(np.nanmin(data) < 0) if data.size else False
    grid = on_template_grid(data, np.asarray(img.affine, float), tpl, nearest=False)
    del data
    top = float(np.abs(grid).max()) or 1.0
    vmin, vmax = (-top, top) if signed else (0.0, top)
    cmap = colormaps["RdBu_r" if signed else "hot"]
    bg = _levels(tpl.data2, 0.0, 1.0)  # grey levels
    bg[tpl.data2 <= 1e-6] = 255  # outside the head: white
    bg_png = _png_b64(sprite(bg))
    del bg
    # palette entries 1…255 span [vmin, vmax]; entry 0 (at most the threshold) is transparent
    stat = _levels(grid, vmin, vmax, first=1)
    stat[np.abs(grid) <= threshold] = 0
    palette = np.zeros((256, 3), np.uint8)
    palette[1:] = cmap(np.linspace(0.0, 1.0, 255), bytes=True)[:, :3]
    stat_png = _png_b64(sprite(stat), palette, transparent=0)
    del stat
    levels = np.linspace(vmin, vmax, 256)
    bar = cmap(np.linspace(0.0, 1.0, 256)[None, :], bytes=True)
    bar[0, np.abs(levels) < threshold, :3] = 128  # hidden values greyed out on the colour bar
    peak = np.unravel_index(int(np.argmax(np.abs(grid))), grid.shape)
    ids = {k: f"atlascope-{k}" for k in _IDS}  # one viewer per page
    # brainsprite reads coordinates as affine @ (slice + 1): shift by one voxel, as nilearn does
    affine = tpl.affine2 @ np.array([[1, 0, 0, -1], [0, 1, 0, -1], [0, 0, 1, -1], [0, 0, 0, 1.0]])
    shape = {"X": grid.shape[0], "Y": grid.shape[1], "Z": grid.shape[2]}
    params = {
        "canvas": ids["canvas"], "sprite": ids["sprite"], "nbSlice": shape,
        "overlay": {"sprite": ids["overlay"], "nbSlice": shape, "opacity": 1},
        "colorBackground": "#FFFFFF", "colorFont": "#000000", "crosshair": True, "affine": affine.tolist(),
        "flagCoordinates": True, "title": title or None, "flagValue": False,
        "numSlice": {"X": int(peak[0]), "Y": int(peak[1]), "Z": int(peak[2])},
        "radiological": False, "showLR": True,
        "colorMap": {"img": ids["color_map"], "min": vmin, "max": vmax},
    }
    init = _INIT % {**ids, "params": json.dumps(params).replace("</", "<\\/")}
    page = "\n".join([
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="UTF-8">',
        f"<title>{html.escape(title or 'Slice viewer')}</title>\n<style>.hidden {{ display: none; }}</style>",
        f'</head>\n<body>\n<div id="{ids["viewer"]}">\n<canvas id="{ids["canvas"]}">',
        f'<img id="{ids["sprite"]}" class="hidden" alt="background" src="data:image/png;base64,{bg_png}">',
        f'<img id="{ids["color_map"]}" class="hidden" alt="colour map" src="data:image/png;base64,{_png_b64(bar)}">',
        f'<img id="{ids["overlay"]}" class="hidden" alt="overlay" src="data:image/png;base64,{stat_png}">',
        "</canvas>",
        f'<div style="display: flex; align-items: center; gap: 10px;"><p>Opacity</p><input type="range" min="1" '
        f'max="100" value="100" class="slider" id="{ids["opacity"]}"><span id="{ids["opacity_value"]}"></span></div>',
        "</div>",
        *[f"<script>{s}</script>" for s in scripts],
        f"<script>{init}</script>",
        "</body>\n</html>\n",
    ])
    path.write_text(page, encoding="utf-8")
    return path
