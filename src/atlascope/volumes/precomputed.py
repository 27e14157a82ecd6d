"""Neuroglancer *precomputed* volumes (BigBrain and other large images), read chunk by chunk.

Format (https://github.com/google/neuroglancer/tree/master/src/datasource/precomputed): a folder
URL holds ``info`` (JSON: ``data_type``, ``num_channels``, ``scales``) and, per scale, chunk files
named ``<key>/<x0>-<x1>_<y0>-<y1>_<z0>-<z1>`` (voxel ranges of that scale, end exclusive). An
optional ``transform.json`` next to ``info`` gives the 4x4 voxel-to-physical affine in nanometres
of the first (finest) scale, as used by siibra-configurations.

Why not tensorstore or cloud-volume: both open their own HTTP connections, so ``ATLASCOPE_MIRROR``,
``ATLASCOPE_OFFLINE``, the validated cache and the retry policy of :mod:`atlascope.retrieval` would
not apply to chunks — an air-gapped mirror would not work. Chunks are therefore fetched through
:func:`atlascope.retrieval.fetch`, and decoded with maintained libraries: numpy for ``raw``
(optionally gzip-compressed), Pillow for ``jpeg``, and seung-lab's ``compressed_segmentation``
(the decoder cloud-volume uses) for ``compressed_segmentation``. Sharded scales and the ``png``
encoding raise :class:`~atlascope.errors.InvalidInputError` naming the URL and scale.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from ..affines import box_corners, mm_to_voxel
from ..commons import logger, require_extra
from ..errors import InvalidInputError, RetrievalError
from ..retrieval import NotAtSourceError, fetch
from ..retrieval.validate import ValidationFailed
from .providers import Provider

__all__ = ["PrecomputedProvider", "PrecomputedScale", "DEFAULT_MAX_BYTES"]

#: Memory budget (bytes) of a whole-volume fetch when neither resolution nor budget is given.
DEFAULT_MAX_BYTES = 256 * 1024**2

_NM_PER_MM = 1e6


@dataclass(frozen=True)
class PrecomputedScale:
    """One resolution level of a precomputed volume.

    Attributes
    ----------
    key : str
        Folder name of the scale's chunks.
    size : tuple of int
        Shape (x, y, z) in voxels.
    voxel_offset : tuple of int
        Voxel coordinates of the first voxel.
    chunk_size : tuple of int
        Chunk shape (x, y, z) in voxels.
    resolution_nm : tuple of float
        Voxel size (x, y, z) in nm.
    encoding : str
        Chunk encoding: ``"raw"``, ``"jpeg"`` or ``"compressed_segmentation"``.
    sharded : bool
        Whether the scale uses sharding (not read).
    block_size : tuple of int
        Block shape of the ``compressed_segmentation`` encoding.
    """

    key: str
    size: tuple[int, int, int]
    voxel_offset: tuple[int, int, int]
    chunk_size: tuple[int, int, int]
    resolution_nm: tuple[float, float, float]
    encoding: str
    sharded: bool = False
    block_size: tuple[int, int, int] = (8, 8, 8)

    @property
    def resolution_mm(self) -> np.ndarray:
        """Voxel size (x, y, z) in mm, shape (3,)."""
        return np.asarray(self.resolution_nm, float) / _NM_PER_MM

    def nbytes(self, itemsize: int, channels: int = 1) -> int:
        """Bytes of the whole scale as one array."""
        return int(np.prod(self.size, dtype=np.int64)) * itemsize * channels

    def chunk_names(self, lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> list[str]:
        """Names ``x0-x1_y0-y1_z0-z1`` of the chunks covering voxels ``lo``..``hi`` (exclusive)."""
        off = np.asarray(self.voxel_offset, int)
        end = off + np.asarray(self.size, int)
        lo = off if lo is None else np.maximum(np.asarray(lo, int), off)
        hi = end if hi is None else np.minimum(np.asarray(hi, int), end)
        cs = np.asarray(self.chunk_size, int)
        ranges = []
        for a in range(3):
            first = off[a] + ((lo[a] - off[a]) // cs[a]) * cs[a]
            starts = list(range(int(first), int(hi[a]), int(cs[a])))
            ranges.append([(s, min(s + cs[a], end[a])) for s in starts])
        return [
            f"{x0}-{x1}_{y0}-{y1}_{z0}-{z1}"
            for (z0, z1) in ranges[2]
            for (y0, y1) in ranges[1]
            for (x0, x1) in ranges[0]
        ]


#: Chunk encodings read by :meth:`PrecomputedProvider.read`.
ENCODINGS = ("raw", "jpeg", "compressed_segmentation")


def _decode_jpeg(raw: bytes, shape_xyzc: tuple[int, ...], dtype: np.dtype, where: str) -> np.ndarray:
    """A jpeg chunk (width x, height y*z, grey or RGB) as an (x, y, z, c) array."""
    import io

    from PIL import Image, UnidentifiedImageError

    x, y, z, c = shape_xyzc
    try:
        img = np.asarray(Image.open(io.BytesIO(raw)))
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInputError(
            f"Chunk {where} is not a readable JPEG ({exc}). Rebuild the mirror or clear the cache."
        ) from exc
    if img.size != x * y * z * c:
        raise InvalidInputError(
            f"JPEG chunk {where} has {img.size} values, expected {x * y * z * c} for {shape_xyzc}."
        )
    return np.transpose(img.reshape(z, y, x, c), (2, 1, 0, 3)).astype(dtype, copy=False)


def _check_cseg(raw: bytes, shape: tuple[int, int, int], dtype: np.dtype, block: tuple, where: str) -> None:
    """Validate the layout of a one-channel compressed_segmentation chunk before the C decoder sees it.

    Layout (neuroglancer): one uint32 channel offset, then two uint32 words per block — the lookup
    table offset (low 24 bits) with the bit width (high 8 bits), and the encoded values offset — all
    in 32-bit words from the start of the channel. A corrupt chunk would otherwise crash the process.
    """
    bad = InvalidInputError(
        f"Chunk {where} is not valid compressed_segmentation data. Rebuild the mirror or clear the cache."
    )
    if len(raw) % 4 or len(raw) < 4:
        raise bad
    words = np.frombuffer(raw, "<u4")
    start = int(words[0])
    nblocks = int(np.prod([-(-s // b) for s, b in zip(shape, block)]))
    end = start + 2 * nblocks
    if start != 1 or end > len(words):
        raise bad
    head = words[start:end].reshape(nblocks, 2).astype(np.int64)
    table = (head[:, 0] & 0xFFFFFF) + start
    bits = head[:, 0] >> 24
    values = head[:, 1] + start
    per_block = int(np.prod(block))
    value_words = (bits * per_block + 31) // 32
    entry_words = max(1, np.dtype(dtype).itemsize // 4)
    if not np.isin(bits, [0, 1, 2, 4, 8, 16, 32]).all():
        raise bad
    if (table < end).any() or (values < end).any() or (values + value_words > len(words)).any():
        raise bad
    if (table + entry_words > len(words)).any():
        raise bad


def _gunzip(raw: bytes, where: str) -> bytes:
    """``raw`` decompressed if it is gzip; a short or corrupt stream raises InvalidInputError."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise InvalidInputError(
            f"Chunk {where} is a truncated or corrupt gzip stream ({exc}). Rebuild the mirror or clear the cache."
        ) from exc


def _decode_cseg(
    raw: bytes, shape_xyzc: tuple[int, ...], dtype: np.dtype, block: tuple, where: str
) -> np.ndarray:
    """A compressed_segmentation chunk (one channel) as an (x, y, z, 1) array."""
    cseg = require_extra(
        "compressed_segmentation", "precomputed", "Decoding compressed_segmentation label volumes"
    )
    raw = _gunzip(raw, where)
    x, y, z, c = shape_xyzc
    if c != 1:
        raise InvalidInputError(f"{where}: compressed_segmentation with {c} channels is not supported.")
    _check_cseg(raw, (x, y, z), dtype, block, where)
    try:
        arr = cseg.decompress(raw, (x, y, z), dtype, block_size=block, order="F")
    except Exception as exc:  # the C decoder raises plain exceptions on corrupt data
        raise InvalidInputError(
            f"Chunk {where} is not valid compressed_segmentation data ({exc}). Rebuild the mirror or clear the cache."
        ) from exc
    return np.asarray(arr).reshape(x, y, z, 1, order="F")


def _decode(raw: bytes, shape_xyzc: tuple[int, ...], dtype: np.dtype, where: str) -> np.ndarray:
    """A raw chunk as an (x, y, z, c) array (stored x fastest, little-endian)."""
    raw = _gunzip(raw, where)
    expected = int(np.prod(shape_xyzc)) * dtype.itemsize
    if len(raw) != expected:
        raise InvalidInputError(
            f"Chunk {where} has {len(raw)} bytes, expected {expected} for shape {shape_xyzc} of "
            f"{dtype}; the chunk is truncated or not raw-encoded. Rebuild the mirror or clear the cache."
        )
    x, y, z, c = shape_xyzc
    arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape((c, z, y, x))
    return np.transpose(arr, (3, 2, 1, 0))


class PrecomputedProvider(Provider):
    """A neuroglancer precomputed volume, read through :mod:`atlascope.retrieval`.

    Parameters
    ----------
    url : str
        Base URL of the volume (the folder holding ``info``), http(s) or a local folder.
    resolution_mm : float, optional
        Default resolution for :meth:`fetch`: the coarsest scale whose voxels are at most this
        size (mm) is used; if every scale is coarser, the finest.
    max_bytes : int, optional
        Default memory budget for :meth:`fetch` (bytes): the finest scale that fits is used.
        Default :data:`DEFAULT_MAX_BYTES` when neither option is given.

    Notes
    -----
    Nothing is downloaded until :attr:`info` or :meth:`fetch` is used.
    """

    def __init__(self, url: str, resolution_mm: float | None = None, max_bytes: int | None = None) -> None:
        self.url = str(url).rstrip("/")
        self.resolution_mm = resolution_mm
        self.max_bytes = max_bytes
        self._info: dict | None = None
        self._transform: np.ndarray | None = None
        self._has_transform_file = False

    # -------------------------------------------------------------- metadata
    @property
    def identity(self) -> str:
        opts = f"|res={self.resolution_mm}" if self.resolution_mm else ""
        opts += f"|max={self.max_bytes}" if self.max_bytes else ""
        return f"precomputed:{self.url}{opts}"

    @property
    def source(self) -> str:
        return self.url

    def _fetch_bytes(self, relpath: str, kind: str = "bytes") -> bytes:
        return fetch(f"{self.url}/{relpath}", kind=kind).read_bytes()

    def _fetch_chunk(self, scale: PrecomputedScale, name: str, shape_xyzc: tuple[int, ...]) -> np.ndarray:
        """One chunk decoded to (x, y, z, c), validated before it enters the cache.

        The chunk is decoded (gzip, expected byte size, JPEG or compressed_segmentation layout) as
        the download's content check, so an empty, HTML, JSON, short or corrupt body is never
        cached, and a bad cached chunk is evicted and downloaded again.
        """
        where = f"{self.url}/{scale.key}/{name}"
        decoded: dict[str, np.ndarray] = {}

        def decode(raw: bytes) -> np.ndarray:
            if scale.encoding == "jpeg":
                return _decode_jpeg(raw, shape_xyzc, self.dtype, where)
            if scale.encoding == "compressed_segmentation":
                return _decode_cseg(raw, shape_xyzc, self.dtype, scale.block_size, where)
            return _decode(raw, shape_xyzc, self.dtype, where)

        def check(path: Path) -> None:
            try:
                decoded[str(path)] = decode(path.read_bytes())
            except InvalidInputError as exc:
                raise ValidationFailed(str(exc)) from None

        path = fetch(f"{self.url}/{scale.key}/{name}", kind="bytes", check=check)
        found = decoded.get(str(path))
        return found if found is not None else decode(path.read_bytes())

    @property
    def info(self) -> dict:
        """The parsed ``info`` JSON (downloaded once)."""
        if self._info is None:
            try:
                info = json.loads(self._fetch_bytes("info", kind="json"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidInputError(
                    f"{self.url}/info is not JSON ({exc}); is this a precomputed volume?"
                ) from exc
            if not isinstance(info, dict) or not info.get("scales"):
                raise InvalidInputError(
                    f"{self.url}/info has no 'scales': not a neuroglancer precomputed volume."
                )
            self._info = info
        return self._info

    @property
    def dtype(self) -> np.dtype:
        """Voxel data type."""
        return np.dtype(self.info["data_type"])

    @property
    def channels(self) -> int:
        """Number of channels."""
        return int(self.info.get("num_channels", 1))

    @property
    def scales(self) -> list[PrecomputedScale]:
        """Every scale, finest first."""
        out = []
        for s in self.info["scales"]:
            chunk = s.get("chunk_sizes", [[64, 64, 64]])[0]
            out.append(
                PrecomputedScale(
                    key=str(s["key"]),
                    size=tuple(int(v) for v in s["size"]),
                    voxel_offset=tuple(int(v) for v in s.get("voxel_offset", (0, 0, 0))),
                    chunk_size=tuple(int(v) for v in chunk),
                    resolution_nm=tuple(float(v) for v in s["resolution"]),
                    encoding=str(s.get("encoding", "raw")),
                    sharded="sharding" in s and s["sharding"] is not None,
                    block_size=tuple(int(v) for v in s.get("compressed_segmentation_block_size", (8, 8, 8))),
                )
            )
        return sorted(out, key=lambda sc: float(np.prod(sc.resolution_nm)))

    def transform_nm(self) -> np.ndarray:
        """4x4 voxel-to-physical affine (nm) of the finest scale (``transform.json`` or the resolution)."""
        if self._transform is None:
            tf = None
            try:
                tf = np.asarray(json.loads(self._fetch_bytes("transform.json", kind="json")), float)
                if tf.shape == (3, 4):
                    tf = np.vstack([tf, [0, 0, 0, 1]])
                if tf.shape != (4, 4):
                    raise InvalidInputError(f"{self.url}/transform.json is not a 4x4 matrix.")
                self._has_transform_file = True
            except RetrievalError as exc:
                logger.debug("no transform.json for %s (%s); using the scale resolution", self.url, exc)
                tf = None
            if tf is None:
                fine = self.scales[0]
                tf = np.diag([*fine.resolution_nm, 1.0])
            self._transform = tf
        return self._transform

    def affine(self, scale: PrecomputedScale) -> np.ndarray:
        """Voxel-to-mm affine of ``scale`` (voxel indices counted from its ``voxel_offset``), (4, 4)."""
        fine = self.scales[0]
        tf = self.transform_nm().copy()
        ratio = np.asarray(scale.resolution_nm) / np.asarray(fine.resolution_nm)
        shift = np.eye(4)
        shift[:3, 3] = np.asarray(scale.voxel_offset, float)
        aff = tf @ np.diag([*ratio, 1.0]) @ shift
        aff[:3, :] /= _NM_PER_MM
        return aff

    # --------------------------------------------------------- choose scale
    def choose_scale(
        self, resolution_mm: float | None = None, max_bytes: int | None = None
    ) -> PrecomputedScale:
        """The scale for a requested voxel size (mm) or a memory budget (bytes).

        With ``resolution_mm``: the coarsest scale whose largest voxel side is at most that size
        (the finest if none is). With ``max_bytes``: the finest scale whose whole array fits.
        With both, the coarser of the two choices; with neither, the provider's defaults.
        """
        resolution_mm = self.resolution_mm if resolution_mm is None else resolution_mm
        max_bytes = self.max_bytes if max_bytes is None else max_bytes
        if resolution_mm is None and max_bytes is None:
            max_bytes = DEFAULT_MAX_BYTES
        scales = self.scales
        pick = 0
        if resolution_mm is not None:
            fine_enough = [
                i for i, s in enumerate(scales) if s.resolution_mm.max() <= resolution_mm * (1 + 1e-6)
            ]
            pick = max(fine_enough) if fine_enough else 0
        if max_bytes is not None:
            fits = [
                i for i, s in enumerate(scales) if s.nbytes(self.dtype.itemsize, self.channels) <= max_bytes
            ]
            pick = max(pick, min(fits) if fits else len(scales) - 1)
        return scales[pick]

    # ----------------------------------------------------------------- read
    def read(self, scale: PrecomputedScale, lo: Any = None, hi: Any = None) -> np.ndarray:
        """Voxels ``lo``..``hi`` (exclusive, absolute voxel coordinates of ``scale``) as (x, y, z[, c]).

        Missing chunks (HTTP 404 at the source) read as zeros, as neuroglancer does.
        """
        if scale.encoding not in ENCODINGS or scale.sharded:
            raise InvalidInputError(
                f"{self.url} scale {scale.key!r} uses encoding {scale.encoding!r}"
                + (" with sharding" if scale.sharded else "")
                + f"; atlascope reads unsharded precomputed volumes encoded as {', '.join(ENCODINGS)}. "
                "Use a NIfTI provider of the same map if the configuration has one."
            )
        if scale.encoding == "compressed_segmentation":  # before any chunk is downloaded
            require_extra("compressed_segmentation", "precomputed", "Decoding compressed_segmentation label volumes")
        off = np.asarray(scale.voxel_offset, int)
        lo = off if lo is None else np.maximum(np.asarray(lo, int), off)
        hi = (
            off + np.asarray(scale.size, int)
            if hi is None
            else np.minimum(np.asarray(hi, int), off + scale.size)
        )
        shape = np.maximum(hi - lo, 0)
        out = np.zeros((*shape, self.channels), dtype=self.dtype)
        if not shape.all():
            return out[..., 0] if self.channels == 1 else out
        for name in scale.chunk_names(lo, hi):
            (x0, x1), (y0, y1), (z0, z1) = (tuple(int(v) for v in p.split("-")) for p in name.split("_"))
            shape_xyzc = (x1 - x0, y1 - y0, z1 - z0, self.channels)
            try:
                chunk = self._fetch_chunk(scale, name, shape_xyzc)
            except NotAtSourceError:
                logger.debug("chunk %s/%s/%s is absent; reading zeros", self.url, scale.key, name)
                continue
            a = np.maximum([x0, y0, z0], lo)
            b = np.minimum([x1, y1, z1], hi)
            src = tuple(slice(int(a[i] - c0), int(b[i] - c0)) for i, c0 in enumerate((x0, y0, z0)))
            dst = tuple(slice(int(a[i] - lo[i]), int(b[i] - lo[i])) for i in range(3))
            out[dst] = chunk[src]
        return out[..., 0] if self.channels == 1 else out

    def fetch(
        self,
        z: int | None = None,
        *,
        resolution_mm: float | None = None,
        max_bytes: int | None = None,
        bbox_mm: Any = None,
    ) -> nib.Nifti1Image:
        """The volume (or a box of it) at a chosen scale as a NIfTI image.

        Parameters
        ----------
        z : int, optional
            Channel to return for multi-channel volumes.
        resolution_mm, max_bytes : optional
            Scale choice (see :meth:`choose_scale`); ``max_bytes`` applies to the whole volume.
        bbox_mm : BoundingBox or ((x0, y0, z0), (x1, y1, z1)), optional
            Physical box in mm; only the chunks it touches are read.

        Returns
        -------
        nibabel.Nifti1Image
            Array (x, y, z) with the scale's affine (mm), shifted to the box's first voxel.
        """
        scale = self.choose_scale(resolution_mm, max_bytes)
        aff = self.affine(scale)
        off = np.asarray(scale.voxel_offset, int)
        lo = hi = None
        if bbox_mm is not None:
            mn = getattr(bbox_mm, "minpoint", None)
            mx = getattr(bbox_mm, "maxpoint", None)
            if mn is None:
                mn, mx = bbox_mm
            vox = mm_to_voxel(box_corners(mn, mx), aff)
            lo = np.floor(vox.min(0) + 1e-6).astype(int) + off
            hi = np.ceil(vox.max(0) - 1e-6).astype(int) + 1 + off
            lo = np.maximum(lo, off)
        arr = self.read(scale, lo, hi)
        if arr.ndim == 4:
            arr = arr[..., z or 0]
        start = (off if lo is None else lo) - off
        shift = np.eye(4)
        shift[:3, 3] = start
        img = nib.Nifti1Image(np.ascontiguousarray(arr), aff @ shift)
        img.header.set_xyzt_units("mm")
        return img

    def chunk_urls(self, scale: PrecomputedScale | None = None, max_chunks: int | None = None) -> list[str]:
        """URLs of ``info``, ``transform.json`` (if present) and every chunk of ``scale``
        (default: the coarsest), for building mirrors. ``max_chunks`` caps the chunk count."""
        scale = scale or self.scales[-1]
        names = scale.chunk_names()
        if max_chunks is not None and len(names) > max_chunks:
            raise InvalidInputError(
                f"{self.url} scale {scale.key!r} has {len(names)} chunks (> {max_chunks}); choose a coarser scale."
            )
        urls = [f"{self.url}/info"]
        self.transform_nm()
        if self._has_transform_file:
            urls.append(f"{self.url}/transform.json")
        return urls + [f"{self.url}/{scale.key}/{n}" for n in names]

    def __repr__(self) -> str:
        return f"<PrecomputedProvider {self.url}>"
