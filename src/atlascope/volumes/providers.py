"""Image providers: where a Volume's voxels come from (memory, a NIfTI file or URL, a zip member).

A provider returns ``nibabel.Nifti1Image`` objects on demand and describes itself with a stable
``identity`` string used to key caches (the sparse index).
"""

from __future__ import annotations

import functools
import os
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path

import nibabel as nib
import numpy as np

from ..commons import logger
from ..errors import InvalidInputError, NotFoundError

__all__ = ["Provider", "ImageProvider", "NiftiProvider", "ZipNiftiProvider", "load_nifti"]


def _is_url(source: str) -> bool:
    return "://" in source and not source.startswith("file://")


def load_nifti(path: str | os.PathLike, *, keep_file_open: bool = False) -> nib.Nifti1Image:
    """Load a NIfTI file, turning nibabel's and gzip's failures into an atlascope error.

    Raises
    ------
    InvalidInputError
        The file is missing, not a NIfTI image, or its data is truncated/corrupt.
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
    return img


def read_dataobj(img: nib.spatialimages.SpatialImage, index=(), source: str = "image") -> np.ndarray:
    """Decode (part of) an image's data, with corrupt data reported as InvalidInputError."""
    try:
        return np.asanyarray(img.dataobj[index] if index != () else img.dataobj)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
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

    def __init__(self, img: nib.Nifti1Image, name: str = "in-memory image") -> None:
        self.img = img
        self.name = name
        self._identity: str | None = None

    @property
    def identity(self) -> str:
        if self._identity is None:
            import hashlib

            arr = read_dataobj(self.img, (), self.name)
            h = hashlib.sha1(np.ascontiguousarray(arr).view(np.uint8).reshape(-1))
            h.update(np.asarray(self.img.affine, dtype=float).tobytes())
            self._identity = f"memory:{h.hexdigest()}"
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
        data = read_dataobj(img, (), self._source).astype(np.float32) * np.float32(self.scale)
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
            from ..retrieval import fetch

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
        from ..retrieval import zip_member_path

        path = zip_member_path(self.url, self.member)
        return NiftiProvider(path).fetch(z)
