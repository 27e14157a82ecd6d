"""Configuration: the builtin offline pack (:mod:`.builtin`) and siibra-configurations catalogues
(:mod:`.sources`), built into the registry through the ``@type`` dispatch of :mod:`.factory`.

Importing this package imports none of its modules: :mod:`.factory` is imported at start-up, the
pack and the catalogue loaders at the first registry lookup.
"""

__all__: list[str] = []
