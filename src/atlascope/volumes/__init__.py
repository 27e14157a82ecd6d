"""Volumes: images with a reference space attached, their providers, and ways to make them."""

from .builders import from_array, from_nifti, from_pointcloud
from .combine import from_file, merge
from .providers import ImageProvider, NiftiProvider, Provider, ZipNiftiProvider, load_nifti
from .validation import validated_image
from .volume import Volume

__all__ = [
    "Volume",
    "from_nifti",
    "from_file",
    "merge",
    "from_array",
    "from_pointcloud",
    "Provider",
    "ImageProvider",
    "NiftiProvider",
    "ZipNiftiProvider",
    "load_nifti",
    "validated_image",
]
