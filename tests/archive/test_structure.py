"""The shape of `archive/`, read from its source with `ast`: no import circle, no web
framework, boto3 in the S3 module alone, ffmpeg-python in the media modules alone."""
from __future__ import annotations

import ast
from pathlib import Path

from archive.states import AssetStatus, JobState, UploadState, Visibility

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "archive"
S3_MODULES = {"archive.storage"}
FFMPEG_MODULES = {"archive.ffmpeg_commands"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    """Every module of the package but its migrations (Alembic loads those by file)."""
    return {_module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))
            if "migrations" not in p.relative_to(ROOT).parts}


def imported_names(module: str, path: Path) -> set[str]:
    """Absolute names of what a module imports, anywhere in it (functions and
    TYPE_CHECKING blocks too): `from .x import y` gives `archive.x` and `archive.x.y`."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (importing `a.b` runs `a` too)."""
    modules = sources()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for name in imported_names(module, path):
            parts = name.split(".")
            edges.update(p for p in (".".join(parts[:i]) for i in range(1, len(parts) + 1))
                         if p in modules and p != module and not module.startswith(p + "."))
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def importers_of(top_level: str) -> set[str]:
    return {m for m, p in sources().items()
            if any(n == top_level or n.startswith(top_level + ".") for n in imported_names(m, p))}


def test_archive_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_circle():
    # positive control: a circle round three modules, and a module importing itself is none
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": set(), "b": {"a"}}) == []


def test_relative_imports_resolve_to_the_package():
    # positive control on the real tree: `from . import x`, `from .x import y`, `from .. import x`
    graph = import_graph()
    assert {"archive.hls", "archive.presets", "archive.mediatypes"} <= graph["archive.ffmpeg_commands"]
    assert {"archive.probe", "archive.context", "archive.handlers.common"} <= graph["archive.handlers.recording"]
    assert "archive.handlers" not in graph["archive.handlers.recording"]  # its own package is no edge


def test_archive_imports_neither_flask_nor_web():
    assert importers_of("flask") == set()
    assert importers_of("flask_login") == set()
    assert importers_of("web") == set()


def test_only_the_s3_module_imports_boto3():
    assert importers_of("boto3") | importers_of("botocore") <= S3_MODULES


def test_only_the_media_module_imports_ffmpeg():
    assert importers_of("ffmpeg") <= FFMPEG_MODULES


def test_clocks_are_formatted_in_one_module():
    """H:MM:SS and WebVTT times are written by archive/formatting.py alone (they were
    written five and three times, each a little differently)."""
    owner = ROOT / "archive" / "formatting.py"
    copies = sorted(str(p.relative_to(ROOT)) for folder in ("archive", "web") for p in (ROOT / folder).rglob("*.py")
                    if p != owner and ":02d}" in p.read_text())
    assert copies == []


STATE_VALUES = {v.value for enum in (AssetStatus, JobState, UploadState, Visibility) for v in enum}
STATE_FIELDS = {"status", "state", "visibility"}


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [v for e in node.elts for v in _strings(e)]
    if isinstance(node, ast.BoolOp):
        return [v for e in node.values for v in _strings(e)]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


def _is_state_field(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in STATE_FIELDS) or \
        (isinstance(node, ast.Name) and node.id in STATE_FIELDS)


def bare_states(source: str) -> list[tuple[int, str]]:
    """(line, value) of each state written as a string where a status, state or
    visibility is compared, filtered, passed by keyword, assigned or put in a dict."""
    found: list[tuple[int, list[str]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_state_field(o) for o in operands):
                found += [(node.lineno, _strings(o)) for o in operands]
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in ("in_", "not_in", "notin_") and _is_state_field(f.value):
                found += [(node.lineno, _strings(a)) for a in node.args]
            found += [(node.lineno, _strings(k.value)) for k in node.keywords if k.arg in STATE_FIELDS]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_is_state_field(t) for t in targets):
                found.append((node.lineno, _strings(node.value)))
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, _strings(v)) for k, v in zip(node.keys, node.values)
                      if isinstance(k, ast.Constant) and k.value in STATE_FIELDS]
    return sorted((line, v) for line, values in found for v in values if v in STATE_VALUES)


def test_the_state_finder_sees_bare_strings():
    # positive control: each form it looks for, and an enum that is not one
    source = ("if a.status == 'failed' or job.state in ('queued', 'running'): pass\n"
              "q.where(Upload.state.in_(['checking']))\n"
              "Job(state='done')\nw.visibility = 'draft' if x else 'public'\nd = {'status': 'ready'}\n"
              "if a.status == AssetStatus.FAILED: pass\n")
    assert bare_states(source) == [(1, "failed"), (1, "queued"), (1, "running"), (2, "checking"), (3, "done"),
                                   (4, "draft"), (4, "public"), (5, "ready")]


def test_states_are_written_as_enums():
    modules = [p for folder in ("archive", "web") for p in (ROOT / folder).rglob("*.py")
               if "migrations" not in p.parts and p.name != "states.py"]
    bare = {str(p.relative_to(ROOT)): bare_states(p.read_text()) for p in modules}
    assert {name: hits for name, hits in bare.items() if hits} == {}
