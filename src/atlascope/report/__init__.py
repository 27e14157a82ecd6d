"""The HTML report of a characterisation: TSV tables, figures and one self-contained page.

``write_outputs(result, out_dir)`` writes everything a :class:`~atlascope.workflow.Characterization`
holds into a folder (as a whole); ``build_report(out_dir)`` (re)builds ``out_dir/index.html`` from the
files there; ``check_output_dir(path)`` checks an output folder before any work.

Modules: :mod:`.folder` (file names, slugs, the whole-folder write), :mod:`.tables`, :mod:`.figures`,
:mod:`.panels` (features), :mod:`.provenance` (versions and citations), :mod:`.html` (the page),
:mod:`.build` (``write_outputs``).
"""

from __future__ import annotations

from .build import build_report, write_outputs
from .folder import check_output_dir
from .tables import flatten_assignments

__all__ = ["build_report", "write_outputs", "flatten_assignments", "check_output_dir"]
