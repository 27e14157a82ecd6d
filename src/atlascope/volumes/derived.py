"""Images derived from other images and kept in the disk cache (e.g. maximum-probability maps)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from ..commons import logger
from ..errors import AtlascopeError
from ..files import atomic_write, short_digest
from ..retrieval.cache import cache_dir, file_lock
from .providers import NiftiProvider, Provider, load_nifti, read_dataobj

__all__ = ["MaxProbabilityProvider"]


class MaxProbabilityProvider(Provider):
    """Maximum-probability labels of a 4D probability image, computed once and cached.

    Voxel label = 1 + the index of the most probable volume where that probability is at least
    ``threshold`` (in the source's units), else 0 — the construction of FSL's ``maxprob-thrN`` files.

    Parameters
    ----------
    source : NiftiProvider
        The 4D probability image.
    threshold : float
        Minimum probability (source units, e.g. 25 for "25 %" in a percent-coded file).
    """

    def __init__(self, source: NiftiProvider, threshold: float) -> None:
        self.src = source
        self.threshold = float(threshold)

    @property
    def identity(self) -> str:
        return f"maxprob({self.src.identity}, thr={self.threshold:g})"

    @property
    def source(self) -> str:
        return f"maximum probability (threshold {self.threshold:g}) of {self.src.source}"

    def _cache_path(self) -> Path:
        key = short_digest(self.identity)
        return Path(cache_dir()) / "derived" / f"maxprob-{key}.nii.gz"

    def _compute(self) -> nib.Nifti1Image:
        path = self.src.local_path()
        img = load_nifti(path, keep_file_open=True)
        best = np.zeros(img.shape[:3], np.float32)
        label = np.zeros(img.shape[:3], np.int16)
        for z in range(img.shape[3]):
            vol = read_dataobj(img, (..., z), path).astype(np.float32)
            better = vol > best
            best[better] = vol[better]
            label[better] = z + 1
        label[best < self.threshold] = 0
        out = nib.Nifti1Image(label, img.affine)
        out.header.set_xyzt_units("mm")
        return out

    @staticmethod
    def _load_cached(target: Path) -> nib.Nifti1Image | None:
        """The cached image decoded in full, or None (and the file removed) when it is damaged."""
        if not target.exists():
            return None
        try:
            img = load_nifti(target)
            data = read_dataobj(img, (), f"cached file {target}")
            return nib.Nifti1Image(data, img.affine, img.header)
        except AtlascopeError as exc:
            logger.warning(
                "The cached maximum-probability map %s is damaged (%s); rebuilding it.", target, exc
            )
            target.unlink(missing_ok=True)
            return None

    def fetch(self, z: int | None = None) -> nib.Nifti1Image:
        target = self._cache_path()
        cached = self._load_cached(target)
        if cached is not None:
            return cached
        target.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(target):
            cached = self._load_cached(target)
            if cached is not None:
                return cached
            logger.info("Computing the maximum-probability map of %s (once; cached)", self.src.source)
            img = self._compute()
            with atomic_write(target, suffix=".nii.gz") as tmp:
                nib.save(img, tmp)
            return img
