"""Configuration sources: the builtin offline pack and siibra-configurations catalogues."""

from .builtin import load_builtin

__all__ = ["load_builtin"]
