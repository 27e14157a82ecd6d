"""Image providers: where a Volume's voxels come from (memory, a NIfTI file or URL, a zip member).

A provider returns ``nibabel.Nifti1Image`` objects on demand and describes itself with a stable
``identity`` string used to key caches (the sparse index).
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path

import nibabel as nib
import numpy as np

from ..commons import logger
from ..errors import InvalidInputError, NotFoundError
from ..files import short_digest
from ..retrieval import fetch, zip_member_path
from ..settings import env_bytes

__all__ = [
    "Provider",
    "ImageProvider",
    "NiftiProvider",
    "ZipNiftiProvider",
    "load_nifti",
    "max_image_bytes",
    "check_declared_size",
]

#: Environment variable with the most bytes one decoded image (or 4D volume) may take in memory.
MAX_IMAGE_BYTES_ENV = "ATLASCOPE_MAX_IMAGE_BYTES"

#: Default memory budget of one decoded image: 4 GiB.
DEFAULT_MAX_IMAGE_BYTES = 4 * 1024**3

#: A compressed file expanding more than this many times (and to more than
#: :data:`EXPANSION_WARN_BYTES`) is decoded with a warning: it is probably mostly zeros or a gzip bomb.
EXPANSION_WARN_RATIO = 200

#: Decoded sizes below this many bytes never warn about the expansion ratio (256 MiB).
EXPANSION_WARN_BYTES = 256 * 1024**2


#: Leading bytes of gzip, bzip2 and zstd streams (the formats nibabel decodes).
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd")


def _is_url(source: str) -> bool:
    return "://" in source and not source.startswith("file://")


def max_image_bytes() -> int:
    """The memory budget of one decoded image in bytes (``ATLASCOPE_MAX_IMAGE_BYTES``, default 4 GiB).

    The variable holds bytes or a size such as ``"8GiB"`` (:func:`atlascope.settings.parse_size`).

    Raises
    ------
    InvalidInputError
        The environment variable is not a positive number of bytes.
    """
    return env_bytes(MAX_IMAGE_BYTES_ENV, DEFAULT_MAX_IMAGE_BYTES)


def _declared_voxels(shape: tuple, source: str) -> int:
    """Number of voxels a header declares; negative or absurd dimensions are refused."""
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise InvalidInputError(
            f"{source} declares a negative dimension (shape {tuple(dims)}); the header is corrupt. "
            "Export the image again."
        )
    n = 1
    for d in dims:
        n *= d  # Python ints: no overflow
    return n


def _file_of(img: nib.spatialimages.SpatialImage) -> str | None:
    fm = getattr(img, "file_map", None) or {}
    holder = fm.get("image")
    name = getattr(holder, "filename", None)
    return str(name) if name else None


def _gzip_length(path: str, needed: int) -> int | None:
    """Uncompressed length of a gzip file, counted up to ``needed`` bytes without keeping them.

    The gzip trailer (length modulo 2**32 of the last member) answers at once when it shows at
    least ``needed`` bytes; otherwise the stream is decompressed chunk by chunk and counted, in
    constant memory. ``None`` for files that are not gzip.
    """
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return None
        try:
            fh.seek(-4, os.SEEK_END)
            trailer = int.from_bytes(fh.read(4), "little")
        except OSError:  # shorter than a gzip trailer
            trailer = 0
    if needed < 2**32 and trailer >= needed:
        return needed
    held = 0
    try:
        with gzip.open(path, "rb") as gz:
            while held < needed:
                chunk = gz.read(min(16 * 1024**2, needed - held))
                if not chunk:
                    break
                held += len(chunk)
    except (OSError, EOFError, zlib.error):
        pass  # a corrupt stream holds what was read before the damage
    return held


def _check_file(img, source: str, stored: int, cost: int = 0, budget: int = 0) -> None:
    """Refuse a file shorter than the ``stored`` bytes its header declares; warn when a compressed
    file expands to ``cost`` bytes, far more than its size.

    Compressed files are only measured when they would expand far (gzip: the trailer, else a
    counting pass), so that a small file declaring gigabytes is refused before the array is
    allocated.
    """
    path = _file_of(img)
    if not path or not os.path.isfile(path):
        return
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        compressed = fh.read(4).startswith(_COMPRESSED_MAGIC)
    if not compressed:
        if size < stored:
            raise InvalidInputError(
                f"{source} declares {stored} bytes of voxel data (shape {tuple(img.shape)}) but the file "
                f"{path!r} holds only {size} bytes; the file is truncated or its header is corrupt. "
                "Export it again."
            )
    elif cost > EXPANSION_WARN_BYTES and cost > EXPANSION_WARN_RATIO * max(size, 1):
        needed = int(getattr(img.dataobj, "offset", 0) or 0) + stored
        held = _gzip_length(path, needed)
        if held is not None and held < needed:
            raise InvalidInputError(
                f"{source}: the header declares {stored} bytes of voxel data but the compressed file "
                f"{path!r} ({size} bytes) expands to only {held}; it is truncated or a gzip bomb with a "
                "lying header. Export it again."
            )
        logger.warning(
            "%s: the %.3g MB file %s expands to %.3g GB in memory (%.0f times); decoding it anyway "
            "(budget %s=%d bytes).",
            source,
            size / 1e6,
            path,
            cost / 1e9,
            cost / max(size, 1),
            MAX_IMAGE_BYTES_ENV,
            budget,
        )


def check_declared_size(img: nib.spatialimages.SpatialImage, index=(), source: str = "image") -> int:
    """Check what decoding ``img.dataobj[index]`` would cost, before anything is decoded.

    The size the header declares (dimensions x bytes per voxel, 8 bytes per voxel when the header
    scales the values) must fit the memory budget :func:`max_image_bytes`; an uncompressed file must
    hold the declared data; a compressed file that would expand more than
    :data:`EXPANSION_WARN_RATIO` times to more than :data:`EXPANSION_WARN_BYTES` logs a warning.
    Images held in memory (not file-backed) are not checked.

    Parameters
    ----------
    img : nibabel image
        The (lazily loaded) image.
    index : tuple
        ``()`` for the whole image, ``(..., z)`` for one volume of a 4D image.
    source : str
        How to name the image in messages.

    Returns
    -------
    int
        Bytes the decoded data will take (0 for images already in memory).

    Raises
    ------
    InvalidInputError
        Negative dimension, data larger than the budget, or a file shorter than its header declares.
    """
    proxy = img.dataobj
    if not nib.is_proxy(proxy):
        return 0
    shape = tuple(getattr(proxy, "shape", img.shape))
    n_all = _declared_voxels(shape, source)
    n = n_all
    if index != () and len(shape) == 4:
        n = _declared_voxels(shape[:3], source)
    dtype = np.dtype(img.get_data_dtype())
    slope, inter = getattr(proxy, "slope", 1.0), getattr(proxy, "inter", 0.0)
    scaled = not (slope in (None, 1.0) and inter in (None, 0.0))
    per_voxel = max(dtype.itemsize, 8) if scaled else dtype.itemsize
    cost = n * per_voxel
    budget = max_image_bytes()
    if cost > budget:
        raise InvalidInputError(
            f"{source} declares {'x'.join(str(s) for s in shape)} voxels of {dtype} "
            f"({cost / 1024**3:.3g} GiB decoded), more than the memory budget of {budget / 1024**3:.3g} GiB. "
            f"If the image is genuine, raise {MAX_IMAGE_BYTES_ENV} (bytes); otherwise the header is corrupt."
        )
    _check_file(img, source, n_all * dtype.itemsize, cost, budget)
    return cost


def load_nifti(path: str | os.PathLike, *, keep_file_open: bool = False) -> nib.Nifti1Image:
    """Load a NIfTI file, turning nibabel's and gzip's failures into an atlascope error.

    Only the header is read; a negative dimension or an uncompressed file shorter than its header
    declares is refused here (the memory budget is checked by :func:`read_dataobj`).

    Raises
    ------
    InvalidInputError
        The file is missing, not a NIfTI image, its header is inconsistent with the file, or its
        data is truncated/corrupt.
    """
    p = Path(path)
    if not p.exists():
        raise NotFoundError(f"NIfTI file {str(p)!r} does not exist. Check the path.")
    try:
        img = nib.load(str(p), keep_file_open=keep_file_open)
    except Exception as exc:  # nibabel raises many types for broken files
        raise InvalidInputError(
            f"{str(p)!r} is not a readable NIfTI image ({type(exc).__name__}: {exc}). "
            "Check that the file is a complete .nii or .nii.gz."
        ) from exc
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        try:
            img = nib.Nifti1Image.from_image(img)
        except Exception as exc:
            raise InvalidInputError(f"{str(p)!r} is a {type(img).__name__}, not a NIfTI image.") from exc
    n_all = _declared_voxels(tuple(img.shape), repr(str(p)))
    _check_file(img, repr(str(p)), n_all * np.dtype(img.get_data_dtype()).itemsize)
    return img


def read_dataobj(img: nib.spatialimages.SpatialImage, index=(), source: str = "image") -> np.ndarray:
    """Decode (part of) an image's data, with corrupt data reported as InvalidInputError.

    The declared size is checked against the memory budget first (:func:`check_declared_size`).
    """
    check_declared_size(img, index, source)
    try:
        return np.asanyarray(img.dataobj[index] if index != () else img.dataobj)
    except MemoryError as exc:
        raise InvalidInputError(
            f"Decoding the voxel data of {source} ran out of memory; lower {MAX_IMAGE_BYTES_ENV} so that "
            "such images are refused up front, or free memory."
        ) from exc
    except (OSError, EOFError, ValueError, OverflowError, zlib.error) as exc:
        raise InvalidInputError(
            f"The voxel data of {source} cannot be decoded ({type(exc).__name__}: {exc}); "
            "the file is truncated or corrupt. Download or export it again."
        ) from exc


class Provider(ABC):
    """Source of one image (3D, or 4D with one volume per ``z``)."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """Stable text that changes when the image content changes (for cache keys)."""

    @abstractmethod
    def fetch(self, z: int | None = None) -> nib.Nifti1Image:
        """The image; with ``z``, the 3D volume ``z`` of a 4D image."""

    def grid(self, z: int | None = None) -> tuple[tuple[int, int, int], np.ndarray]:
        """(shape, affine) of the 3D grid, read from the header where possible (no voxel decoding)."""
        img = self.fetch(z)
        return tuple(int(s) for s in img.shape[:3]), np.asarray(img.affine, float)

    def iter_volumes(self, zs: Iterable[int | None]) -> Iterator[tuple[int | None, nib.Nifti1Image]]:
        """Yield ``(z, image)`` for each requested ``z``; providers may stream this efficiently."""
        for z in zs:
            yield z, self.fetch(z)

    @property
    def source(self) -> str:
        """Human-readable origin (path or URL)."""
        return self.identity


def _take_z(img: nib.Nifti1Image, z: int | None, source: str) -> nib.Nifti1Image:
    if z is None:
        return img
    if len(img.shape) < 4 or not 0 <= z < img.shape[3]:
        raise NotFoundError(f"Volume z={z} does not exist in {source} of shape {img.shape}.")
    data = read_dataobj(img, (..., z), source)
    return nib.Nifti1Image(data, img.affine, _header3d(img))


def _header3d(img: nib.Nifti1Image) -> nib.Nifti1Header:
    hdr = img.header.copy()
    try:
        hdr.set_data_shape(img.shape[:3])
    except Exception:  # pragma: no cover - defensive
        return None
    return hdr


class ImageProvider(Provider):
    """An image held in memory."""

    def __init__(self, img: nib.Nifti1Image, name: str = "in-memory image", validated: bool = False) -> None:
        self.img = img
        self.name = name
        #: Whether ``img`` came out of ``validated_image`` (3D, finite, not all zero): users of the
        #: image need not check it again.
        self.validated = validated
        self._identity: str | None = None

    @property
    def identity(self) -> str:
        if self._identity is None:
            arr = read_dataobj(self.img, (), self.name)
            digest = short_digest(
                np.ascontiguousarray(arr).view(np.uint8).reshape(-1),
                np.asarray(self.img.affine, dtype=float).tobytes(),
            )
            self._identity = f"memory:{digest}"
        return self._identity

    @property
    def source(self) -> str:
        return self.name

    def fetch(self, z: int | None = None) -> nib.Nifti1Image:
        return _take_z(self.img, z, self.name)


@functools.lru_cache(maxsize=2)
def _decoded_4d(path: str, mtime: float) -> nib.Nifti1Image:
    """Decode a 4D file once per process (the 4D NIfTI of a statistical map)."""
    img = load_nifti(path)
    data = read_dataobj(img, (), path)
    return nib.Nifti1Image(data, img.affine, img.header)


class NiftiProvider(Provider):
    """A NIfTI image from a local path or a URL (downloaded through ``atlascope.retrieval``).

    Parameters
    ----------
    source : str or path
        Local path, ``file://`` URL or http(s) URL.
    scale : float
        Factor applied to the stored values (e.g. 0.01 for maps stored as percent).
    """

    def __init__(self, source: str | os.PathLike, scale: float = 1.0) -> None:
        self._source = str(source)
        self.scale = float(scale)

    def _scaled(self, img: nib.Nifti1Image) -> nib.Nifti1Image:
        if self.scale == 1.0:
            return img
        # multiply in float64, then round once: percentage k is stored as the float32 nearest to k/100
        data = (read_dataobj(img, (), self._source).astype(np.float64) * self.scale).astype(np.float32)
        return nib.Nifti1Image(data, img.affine, img.header)

    @property
    def source(self) -> str:
        return self._source

    @property
    def identity(self) -> str:
        suffix = "" if self.scale == 1.0 else f"|x{self.scale:g}"
        if _is_url(self._source):
            return self._source + suffix
        p = Path(self.local_path())
        st = p.stat()
        return f"{p.resolve()}|{st.st_size}|{int(st.st_mtime)}{suffix}"

    def local_path(self) -> str:
        """Path of the file on disk (downloading it into the cache first for URLs)."""
        if _is_url(self._source):
            return str(fetch(self._source, kind="nifti"))
        if self._source.startswith("file://"):
            return self._source[len("file://") :]
        return self._source

    def grid(self, z: int | None = None) -> tuple[tuple[int, int, int], np.ndarray]:
        img = load_nifti(self.local_path())
        return tuple(int(s) for s in img.shape[:3]), np.asarray(img.affine, float)

    def fetch(self, z: int | None = None) -> nib.Nifti1Image:
        path = self.local_path()
        if z is None:
            return self._scaled(load_nifti(path))
        img = load_nifti(path)
        if len(img.shape) == 4:
            full = _decoded_4d(path, os.path.getmtime(path))
            return self._scaled(_take_z(full, z, path))
        return self._scaled(_take_z(img, z, path))

    def iter_volumes(self, zs: Iterable[int | None]) -> Iterator[tuple[int | None, nib.Nifti1Image]]:
        zs = list(zs)
        path = self.local_path()
        if len(zs) > 1 and all(z is not None for z in zs):
            # stream a 4D file front to back: each volume is decoded once, in file order
            img = load_nifti(path, keep_file_open=True)
            logger.debug("streaming %d volumes of %s", len(zs), path)
            hdr = _header3d(img)
            for z in sorted(zs):
                yield z, self._scaled(nib.Nifti1Image(read_dataobj(img, (..., z), path), img.affine, hdr))
            return
        yield from super().iter_volumes(zs)


class ZipNiftiProvider(Provider):
    """A NIfTI member of a zip archive (``zip/nii`` providers of siibra-configurations)."""

    def __init__(self, url: str, member: str) -> None:
        self.url = url
        self.member = member

    @property
    def identity(self) -> str:
        return f"{self.url}#{self.member}"

    def fetch(self, z: int | None = None) -> nib.Nifti1Image:
        path = zip_member_path(self.url, self.member)
        return NiftiProvider(path).fetch(z)
