"""The ``atlascope`` command line.

Sub-commands: ``characterize``, ``assign``, ``atlases``, ``report``, ``batch``, ``cache info``,
``cache prune`` and ``mirror``. Every :class:`~atlascope.errors.AtlascopeError` is printed as
``atlascope: error: <message>`` on stderr, without a traceback, and the exit status is 2.

Each command is a thin adapter: it parses options, calls the library and prints. Option defaults
are the library's own (:class:`atlascope.workflow.Parameters`, ``DEFAULT_MAP``, the defaults of
``characterize``, ``write_outputs`` and ``Map.assign``), read when a command runs or shows its help
(:class:`_LibraryDefault`). The modules
a command needs beyond ``import atlascope`` load inside it, so ``atlascope --help`` and
``--version`` answer without pandas or nibabel (tests/test_startup.py).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import click

from . import __version__, get_map, list_maps, parcellations, spaces
from .commons import QUIET
from .errors import AtlascopeError, InvalidInputError
from .locations import PointCloud
from .settings import format_size

__all__ = ["main"]


class _Group(click.Group):
    """A click group that turns atlascope errors into one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AtlascopeError as exc:
            click.echo(f"atlascope: error: {exc}", err=True)
            ctx.exit(2)


@functools.cache
def _library_defaults() -> Mapping[str, Any]:
    """The library's defaults of the ``characterize`` and ``batch`` options, by option name.

    Every field of :class:`~atlascope.workflow.Parameters`; ``map`` (parcellation of
    ``workflow.DEFAULT_MAP``); ``space``, ``method`` and ``extent`` of
    :func:`~atlascope.workflow.characterize`; ``top_n`` of :func:`~atlascope.report.write_outputs`;
    ``stat_threshold`` (the stat-map method's cluster-forming threshold, used for ``--example``).
    """
    # workflow and report import pandas and nibabel (~0.4 s): read when a command needs them, not at start-up
    from . import report, workflow

    run = inspect.signature(workflow.characterize).parameters
    return MappingProxyType(
        {
            **workflow.Parameters().as_dict(),
            "map": workflow.DEFAULT_MAP[0],
            "space": run["space"].default,
            "method": run["method"].default,
            "extent": run["extent"].default,
            "top_n": inspect.signature(report.write_outputs).parameters["top_n"].default,
            "stat_threshold": workflow.DEFAULT_STAT_THRESHOLD,
        }
    )


@functools.cache
def _assign_defaults() -> Mapping[str, Any]:
    """The library's defaults of the ``assign`` options: ``space`` of
    :func:`~atlascope.labelling.resolve_atlases`, ``threshold`` (``lower_threshold`` of
    :meth:`atlascope.maps.Map.assign`).
    """
    # labelling and maps import nibabel and scipy (not pandas): read when the command runs, not at start-up
    from .labelling import resolve_atlases
    from .maps.map import Map

    return MappingProxyType(
        {
            "space": inspect.signature(resolve_atlases).parameters["space"].default,
            "threshold": inspect.signature(Map.assign).parameters["lower_threshold"].default,
        }
    )


class _LibraryDefault(click.Option):
    """An option whose default is the library's, ``defaults()[library_key]``, shown in --help.

    ``defaults`` is :func:`_library_defaults` unless given, ``library_key`` the option's parameter
    name unless given. The default is read only when the command runs or shows its help, so
    ``atlascope --help`` does not import the library.
    """

    def __init__(
        self,
        *args: Any,
        library_key: str | None = None,
        defaults: Callable[[], Mapping[str, Any]] = _library_defaults,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("show_default", True)
        super().__init__(*args, **kwargs)
        self.library_key = library_key or self.name
        self.defaults = defaults

    def get_default(self, ctx: click.Context, call: bool = True) -> Any:
        return self.defaults()[self.library_key]


def _quiet(quiet: bool) -> contextlib.AbstractContextManager:
    """``atlascope.QUIET`` for ``--quiet``, else a context that changes nothing."""
    return QUIET if quiet else contextlib.nullcontext()


def _headless_matplotlib() -> None:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        with contextlib.suppress(Exception):
            matplotlib.use("Agg")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="atlascope")
def main() -> None:
    """atlascope: characterise activation maps and coordinates with brain atlases, offline."""


# ------------------------------------------------------------------------------------ characterize
@main.command()
@click.argument("input_path", metavar="INPUT.nii.gz", required=False, type=click.Path(dir_okay=False))
@click.option("--example", is_flag=True, help="Use nilearn's bundled NeuroVault image (image 10426).")
@click.option("--space", cls=_LibraryDefault, help="Reference space of the input.")
@click.option(
    "--map",
    "map_spec",
    cls=_LibraryDefault,
    library_key="map",
    help="Parcellation whose statistical map is used.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder [default: ./atlascope-<input name>].",
)
@click.option(
    "--samples",
    cls=_LibraryDefault,
    type=click.IntRange(min=10),
    help="Number of samples drawn from the input.",
)
@click.option("--seed", cls=_LibraryDefault, type=int, help="Random seed.")
@click.option("--exponent", cls=_LibraryDefault, type=float, help="Exponent of the sampling weights.")
@click.option("--sigma-mm", cls=_LibraryDefault, type=float, help="Location uncertainty of a sample (mm).")
@click.option(
    "--min-fraction", cls=_LibraryDefault, type=float, help="Smallest cluster, as a fraction of the samples."
)
@click.option(
    "--max-fraction", cls=_LibraryDefault, type=float, help="Largest cluster, as a fraction of the samples."
)
@click.option(
    "--mindist",
    cls=_LibraryDefault,
    library_key="peak_mindist",
    type=int,
    help="Minimum distance of peaks (voxels).",
)
@click.option(
    "--lower-threshold",
    cls=_LibraryDefault,
    type=float,
    help="lower_threshold of the assignments: map values below it count as 0 for clusters; "
    "peaks (points) whose map value is not above it give no row.",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Cluster-forming threshold of the input (e.g. 3.1 for a t-map) [statmap default: 3.1; "
    "--example: 3.1, two-sided].",
)
@click.option(
    "--extent", cls=_LibraryDefault, type=click.IntRange(min=0), help="Minimum cluster size (voxels)."
)
@click.option(
    "--two-sided/--one-sided",
    "two_sided",
    default=None,
    help="Also negative clusters (values below -threshold).",
)
@click.option(
    "--atlas",
    "atlas_names",
    multiple=True,
    help="Atlas of the cluster table (repeatable; default: all offline atlases).",
)
@click.option(
    "--method",
    cls=_LibraryDefault,
    type=click.Choice(["auto", "statmap", "sampling"]),
    help="statmap: thresholded cluster table; sampling: samples, HDBSCAN, densities; auto: sampling "
    "for non-negative maps, statmap for signed ones.",
)
@click.option("--top", "top_n", cls=_LibraryDefault, type=int, help="Number of top regions shown.")
@click.option("--no-plots", is_flag=True, help="Write tables and the report without images.")
@click.option("--no-viewer", is_flag=True, help="Leave out the interactive slice viewer tab.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or info messages.")
def characterize(
    input_path: str | None,
    example: bool,
    space: str,
    map_spec: str,
    out_dir: str | None,
    samples: int,
    seed: int,
    exponent: float,
    sigma_mm: float,
    min_fraction: float,
    max_fraction: float,
    mindist: int,
    lower_threshold: float,
    threshold: float | None,
    extent: int,
    two_sided: bool | None,
    atlas_names: tuple[str, ...],
    method: str,
    top_n: int,
    no_plots: bool,
    no_viewer: bool,
    quiet: bool,
) -> None:
    """Characterise an activation map: clusters, peaks, their regions, and an HTML report."""
    if example == bool(input_path):
        raise click.UsageError("Give exactly one of INPUT.nii.gz or --example.")
    parameters = {
        "samples": samples,
        "seed": seed,
        "exponent": exponent,
        "sigma_mm": sigma_mm,
        "min_fraction": min_fraction,
        "max_fraction": max_fraction,
        "peak_mindist": mindist,
        "lower_threshold": lower_threshold,
    }
    if example and threshold is None:
        threshold = _library_defaults()["stat_threshold"]
        two_sided = True if two_sided is None else two_sided
    with _quiet(quiet):
        index = _characterize(
            input_path,
            example=example,
            space=space,
            map_spec=map_spec,
            out_dir=out_dir,
            parameters=parameters,
            top_n=top_n,
            plots=not no_plots,
            viewer=not no_viewer,
            method=method,
            threshold=threshold,
            extent=extent,
            two_sided=bool(two_sided),
            atlases=list(atlas_names) or "all",
        )
    if not quiet:
        click.echo(f"Report: {index}")


def _characterize(
    input_path: str | None,
    *,
    example: bool,
    space: str,
    map_spec: str,
    out_dir: str | None,
    parameters: dict[str, Any],
    top_n: int,
    plots: bool,
    viewer: bool,
    method: str,
    threshold: float | None,
    extent: int,
    two_sided: bool,
    atlases: Any,
) -> Path:
    """Run :func:`atlascope.workflow.characterize` and write its outputs (the body of the command).

    ``parameters`` are keyword arguments of :class:`~atlascope.workflow.Parameters`; returns the
    path of the report's ``index.html``.
    """
    # workflow and report import pandas, nibabel and matplotlib: loaded when the command runs
    from . import report, workflow

    provenance = None
    if example:
        import nilearn

        input_path = workflow.example_image_path()
        provenance = {
            "source": f"nilearn {nilearn.__version__} package data ({Path(input_path).name})",
            "dataset": "NeuroVault image 10426, bundled with nilearn as an example statistical map",
            "citation": "",
            "licence": "",
            "urls": ["https://neurovault.org/images/10426/"],
        }
    assert input_path is not None
    path = Path(input_path)
    if not path.is_file():
        raise InvalidInputError(f"Input file {str(path)!r} does not exist.")
    label = path.name
    out = report.check_output_dir(
        Path(out_dir) if out_dir else Path.cwd() / f"atlascope-{label.split('.')[0]}"
    )
    if plots:
        _headless_matplotlib()
    result = workflow.characterize(
        str(path),
        space=space,
        map=map_spec,
        parameters=workflow.Parameters(**parameters),
        name=label,
        method=method,
        threshold=threshold,
        extent=extent,
        two_sided=two_sided,
        atlases=atlases,
    )
    return report.write_outputs(
        result,
        out,
        plots=plots,
        top_n=top_n,
        viewer=viewer and plots,
        input_label=label,
        input_provenance=provenance,
    )


# ------------------------------------------------------------------------------------------ assign
def _parse_coords(texts: tuple[str, ...]) -> tuple[list[list[float]], list[float]]:
    coords, sigmas = [], []
    for text in texts:
        parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InvalidInputError(
                f"--coords {text!r}: expected numbers 'x,y,z' or 'x,y,z,sigma' in mm."
            ) from None
        if len(values) not in (3, 4):
            raise InvalidInputError(
                f"--coords {text!r}: expected 3 or 4 numbers (x,y,z[,sigma]), got {len(values)}."
            )
        coords.append(values[:3])
        sigmas.append(values[3] if len(values) == 4 else 0.0)
    return coords, sigmas


@main.command()
@click.option(
    "--coords",
    "coords",
    multiple=True,
    required=True,
    metavar="X,Y,Z[,SIGMA]",
    help="A coordinate in mm with optional uncertainty sigma (mm); repeatable.",
)
@click.option(
    "--atlas",
    "atlas_names",
    multiple=True,
    help="Atlas to label with (repeatable; default: every atlas of the space).",
)
@click.option(
    "--map",
    "map_spec",
    default=None,
    help="Instead of labels: assign the coordinates to this parcellation's statistical map "
    "(map value, correlation, containedness per region, as characterize does for peaks).",
)
@click.option("--space", cls=_LibraryDefault, defaults=_assign_defaults, help="Space of the coordinates.")
@click.option(
    "--labelled", is_flag=True, help="With --map: use the labelled map instead of the statistical one."
)
@click.option(
    "--threshold",
    cls=_LibraryDefault,
    defaults=_assign_defaults,
    type=float,
    help="With --map: lower threshold of map values.",
)
@click.option("--tsv", is_flag=True, help="Print tab-separated values.")
def assign(
    coords: tuple[str, ...],
    atlas_names: tuple[str, ...],
    map_spec: str | None,
    space: str,
    labelled: bool,
    threshold: float,
    tsv: bool,
) -> None:
    """Label coordinates in every atlas (one row per coordinate and atlas), or assign them to one map."""
    # labelling imports nibabel and scipy: loaded when the command runs, not at start-up
    from .labelling import COORDINATE_COLUMNS, coordinate_rows, resolve_atlases

    xyz, sigmas = _parse_coords(coords)
    if map_spec is None:
        points = PointCloud(xyz, space)  # validates the coordinates and the space
        rows = coordinate_rows(points.coordinates, resolve_atlases(list(atlas_names) or "all", space))
        click.echo(_plain_table(COORDINATE_COLUMNS, rows, tsv), nl=False)
        return
    import pandas as pd

    # report imports pandas: only this branch needs it (coordinate labels answer without pandas)
    from .report import flatten_assignments

    points = PointCloud(xyz, space, sigma_mm=sigmas)
    m = get_map(map_spec, space, maptype="labelled" if labelled else "statistical")
    df = flatten_assignments(m.assign(points, lower_threshold=threshold))
    if tsv:
        click.echo(df.to_csv(sep="\t", index=False, float_format="%.6g"), nl=False)
        return
    if not len(df):
        click.echo(f"No region of {m.name} at these coordinates.")
        return
    with pd.option_context(
        "display.max_rows",
        None,
        "display.max_columns",
        None,
        "display.width",
        200,
        "display.max_colwidth",
        60,
    ):
        click.echo(f"Map: {m.name} ({m.maptype}, {m.space.name})")
        click.echo(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _plain_table(columns: list[str], rows: list[list], tsv: bool) -> str:
    """Rows as TSV (NaN empty, numbers as %.6g) or as aligned text (numbers as %.4g).

    Written out rather than through pandas: the coordinate lookup answers in a fresh process, and
    importing pandas would be half of its time.
    """

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != v:  # NaN: outside the atlas's coverage
                return "" if tsv else "-"
            if v.is_integer() and abs(v) < 1e15:  # label ids
                return str(int(v))
            return f"{v:.6g}" if tsv else f"{v:.4g}"
        return str(v)

    cells = [[cell(v) for v in row] for row in rows]
    if tsv:
        return "".join("\t".join(r) + "\n" for r in [columns, *cells])
    widths = [max(len(r[i]) for r in [columns, *cells]) for i in range(len(columns))]
    return "".join(
        "  ".join(c.rjust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in [columns, *cells]
    )


# ----------------------------------------------------------------------------------------- atlases
def _prov_lines(obj: Any, indent: str = "    ") -> list[str]:
    prov = getattr(obj, "provenance", None)
    if prov is None:
        return []
    lines = []
    for key, label in (
        ("source", "source"),
        ("dataset", "dataset"),
        ("citation", "citation"),
        ("licence", "licence"),
    ):
        value = getattr(prov, key, "")
        if value:
            lines.append(f"{indent}{label}: {value}")
    if getattr(prov, "urls", ()):
        lines.append(f"{indent}urls: {', '.join(prov.urls)}")
    return lines


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def atlases(as_json: bool) -> None:
    """List spaces, parcellations and maps with their provenance."""
    all_spaces, parcs, maps = spaces(), parcellations(), list_maps()
    if as_json:

        def entry(o: Any, **extra: Any) -> dict[str, Any]:
            prov = getattr(o, "provenance", None)
            return {"name": o.name, "id": o.id, **extra, "provenance": prov.as_dict() if prov else {}}

        click.echo(
            json.dumps(
                {
                    "spaces": [entry(s) for s in all_spaces],
                    "parcellations": [entry(p) for p in parcs],
                    "maps": [
                        entry(
                            m,
                            maptype=m.maptype,
                            space=m.space.name,
                            parcellation=m.parcellation.name,
                            regions=len(m),
                        )
                        for m in maps
                    ],
                },
                indent=1,
            )
        )
        return
    click.echo("Spaces")
    for s in all_spaces:
        click.echo(f"  {s.name}  [{s.id}]")
        click.echo("\n".join(_prov_lines(s)) or "    (no provenance recorded)")
    click.echo("\nParcellations")
    for p in parcs:
        click.echo(f"  {p.name}  [{p.id}]")
        click.echo("\n".join(_prov_lines(p)) or "    (no provenance recorded)")
    click.echo("\nMaps")
    for m in maps:
        click.echo(f"  {m.name}  [{m.id}] {m.maptype}, {len(m)} regions, in {m.space.name}")
        click.echo("\n".join(_prov_lines(m)) or "    (no provenance recorded)")


# ------------------------------------------------------------------------------------------ report
@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
def report(directory: str) -> None:
    """(Re)build DIRECTORY/index.html from the TSVs and PNGs there."""
    # report imports pandas, jinja2 and matplotlib: loaded when the command runs
    from .report import build_report

    click.echo(f"Report: {build_report(directory)}")


# ------------------------------------------------------------------------------------------- batch
@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--scheduler", default=None, metavar="tcp://HOST:PORT", help="Address of a running dask scheduler."
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Workers of the local cluster [default: 2]."
)
@click.option("--space", cls=_LibraryDefault, help="Space of the inputs.")
@click.option("--map", "map_spec", cls=_LibraryDefault, library_key="map", help="Parcellation of the map.")
@click.option(
    "--samples", cls=_LibraryDefault, type=click.IntRange(min=10), help="Number of samples per input."
)
@click.option("--seed", cls=_LibraryDefault, type=int, help="Random seed.")
@click.option(
    "--min-fraction", cls=_LibraryDefault, type=float, help="Smallest cluster, as a fraction of the samples."
)
@click.option(
    "--max-fraction", cls=_LibraryDefault, type=float, help="Largest cluster, as a fraction of the samples."
)
@click.option("--retry-errors", is_flag=True, help="Recompute inputs that failed in a previous run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info messages.")
def batch(
    inputs: tuple[str, ...],
    out_dir: str,
    scheduler: str | None,
    workers: int | None,
    space: str,
    map_spec: str,
    samples: int,
    seed: int,
    min_fraction: float,
    max_fraction: float,
    retry_errors: bool,
    quiet: bool,
) -> None:
    """Characterise many inputs on dask.distributed; results in OUT/results.parquet and .tsv."""
    # batch and workflow import pandas and nibabel (dask when it runs): loaded when the command runs
    from .batch import characterize_many
    from .workflow import Parameters

    if scheduler and workers:
        raise click.UsageError("--scheduler and --workers exclude each other.")
    parameters = Parameters(samples=samples, seed=seed, min_fraction=min_fraction, max_fraction=max_fraction)
    with _quiet(quiet):
        df = characterize_many(
            list(inputs),
            client=scheduler,
            out=out_dir,
            space=space,
            map=map_spec,
            parameters=parameters,
            workers=workers,
            retry_errors=retry_errors,
        )
    errors = df.attrs.get("errors", 0)
    click.echo(
        f"{df.attrs.get('inputs', len(inputs))} inputs: {df.attrs.get('computed', 0)} computed, "
        f"{df.attrs.get('skipped', 0)} already done, {errors} failed; "
        f"results in {Path(out_dir) / 'results.parquet'}"
    )
    if errors:
        sys.exit(1)


# ------------------------------------------------------------------------------------ cache/mirror
@main.group(cls=_Group)
def cache() -> None:
    """Inspect or prune the download cache."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cache_info(as_json: bool) -> None:
    """Where the cache is, how large, how many files."""
    # retrieval (the download cache) is loaded when a cache or mirror command runs, not at start-up
    from .retrieval import cache_info as read_cache_info

    info = read_cache_info()
    if as_json:
        click.echo(json.dumps(info, indent=1, default=str))
        return
    for key, value in info.items():
        if isinstance(value, int | float) and "byte" in key:
            value = f"{format_size(value)} ({value} bytes)"
        click.echo(f"{key}: {value}")


@cache.command("prune")
@click.option("--max-size", required=True, help="Largest size to keep, e.g. 2GB, 500MB.")
def cache_prune(max_size: str) -> None:
    """Delete least recently used cache entries until the cache is at most --max-size."""
    # retrieval (the download cache) is loaded when a cache or mirror command runs, not at start-up
    from .retrieval import parse_size, prune_cache

    limit = parse_size(max_size)
    removed = prune_cache(limit)
    click.echo(f"Removed {len(removed)} cache entries; limit {format_size(limit)}.")


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False), required=False)
@click.option("--out", "out_opt", type=click.Path(file_okay=False), default=None, help="Same as OUT_DIR.")
@click.option("--map", "map_spec", default=None, help="Parcellation whose files are mirrored.")
@click.option("--space", default=None, help="Space whose files are mirrored.")
@click.option(
    "--maptype",
    type=click.Choice(["labelled", "statistical"]),
    default=None,
    help="Only maps of this type [default: both].",
)
@click.option("--features", "features", multiple=True, help="Feature types to mirror (repeatable).")
@click.option("--templates", is_flag=True, help="Also mirror the template images of the spaces.")
@click.option(
    "--urls-from",
    type=click.File("r"),
    default=None,
    help="Mirror the URLs listed in this file (one per line) instead of planning them.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def mirror(
    out_dir: str | None,
    out_opt: str | None,
    map_spec: str | None,
    space: str | None,
    maptype: str | None,
    features: tuple[str, ...],
    templates: bool,
    urls_from: Any,
    quiet: bool,
) -> None:
    """Download the files a map/space/features need into OUT_DIR (or --out), usable as ATLASCOPE_MIRROR."""
    # mirror_plan reads the map configurations (nibabel) and retrieval downloads: not at start-up
    from .configuration.mirror_plan import urls_for
    from .retrieval import build_mirror

    out_dir = out_dir or out_opt
    if not out_dir:
        raise InvalidInputError("Name the mirror folder: atlascope mirror DIR ... or --out DIR.")
    if urls_from is not None:
        urls = [u.strip() for u in urls_from if u.strip() and not u.lstrip().startswith("#")]
    else:
        urls = list(
            urls_for(map=map_spec, space=space, maptype=maptype, features=list(features), templates=templates)
        )
    if not urls:
        raise InvalidInputError(
            "Nothing to mirror: no URL was planned or listed (maps of the builtin offline pack are local "
            "package files; name --map/--space/--features of a siibra-configurations source, or --urls-from)."
        )
    with _quiet(quiet):
        path = build_mirror(urls, out_dir, progress=not quiet)
    click.echo(f"Mirror of {len(urls)} URLs in {path}; use it with ATLASCOPE_MIRROR={path}")


if __name__ == "__main__":  # pragma: no cover
    main()
