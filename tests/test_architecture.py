"""The layout docs/architecture.md describes: no import circle between atlascope modules (imports
inside functions counted), and an import inside a function only with a comment giving its reason."""

from __future__ import annotations

import ast
from pathlib import Path

import atlascope

PACKAGE = Path(atlascope.__file__).parent
DOC = PACKAGE.parents[1] / "docs" / "architecture.md"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (never executed)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skip |= {id(n) for n in ast.walk(node)}
    return skip


def _imports(module: str) -> list[tuple[ast.stmt, set[str], bool]]:
    """(node, atlascope modules it imports, whether it sits inside a function) of one module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = _type_checking_blocks(tree)
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        found = {r for n in names if n.startswith("atlascope") and (r := _resolve(n)) and r != module}
        if found:
            out.append((node, found, id(node) not in top and not _in_module_if(tree, node)))
    return out


def _in_module_if(tree: ast.Module, node: ast.stmt) -> bool:
    """Imports in a module-level ``if``/``try`` still run at import time (not inside a function)."""
    for stmt in tree.body:
        if isinstance(stmt, ast.If | ast.Try) and any(n is node for n in ast.walk(stmt)):
            return True
    return False


def _graph() -> dict[str, set[str]]:
    return {m: set().union(*[found for _n, found, _i in _imports(m)]) for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_between_atlascope_modules():
    assert _cycles(_graph()) == []


def test_imports_inside_functions_say_why():
    # an atlascope module imported inside a function: a comment on that line or the line above
    # must say why (start-up time of `import atlascope` or of the CLI)
    unexplained = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, found, inner in _imports(module):
            if not inner:
                continue
            first = node.lineno - 1  # the first of a run of import lines shares one comment
            while first > 0 and lines[first - 1].strip().startswith(("from ", "import ")):
                first -= 1
            above = lines[first - 1].strip() if first else ""
            if "#" not in lines[node.lineno - 1] and not above.startswith("#"):
                unexplained.append(f"{module}:{node.lineno} imports {sorted(found)}")
    assert unexplained == []


def test_architecture_doc_names_every_package_and_top_level_module():
    text = DOC.read_text(encoding="utf-8")
    for path in PACKAGE.iterdir():
        if path.name.startswith("_") and path.name != "__main__.py":
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            assert f"`{path.name}/`" in text, f"docs/architecture.md does not describe {path.name}/"
            for sub in path.glob("*.py"):
                if sub.name != "__init__.py":
                    assert f"{sub.stem}" in text, f"docs/architecture.md does not name {path.name}/{sub.name}"
        elif path.suffix == ".py":
            assert f"`{path.name}`" in text, f"docs/architecture.md does not describe {path.name}"


def test_voxel_mm_maths_lives_in_affines():
    # one implementation of voxel <-> mm conversion: atlascope.affines (nibabel.affines and matrix
    # inverses of affines are not re-derived elsewhere)
    found = []
    for module, path in MODULES.items():
        if module == "atlascope.affines":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if "nib.affines" in code or "nibabel.affines" in code or "np.linalg.inv(" in code:
                found.append(f"{module}:{n}")
    assert found == []
