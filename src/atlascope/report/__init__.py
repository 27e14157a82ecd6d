"""The HTML report of a characterisation: TSV tables, glass-brain PNGs and one self-contained page.

``write_outputs(result, out_dir)`` writes everything a :class:`~atlascope.workflow.Characterization`
holds into a folder; ``build_report(out_dir)`` (re)builds ``out_dir/index.html`` from the files there.
"""

from __future__ import annotations

from .build import build_report, flatten_assignments, write_outputs

__all__ = ["build_report", "write_outputs", "flatten_assignments"]
