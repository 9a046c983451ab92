"""The shape of `archive/`, read from its source with `ast`: no import circle, no web
framework, boto3 in the S3 module alone, ffmpeg-python in the media modules alone."""
from __future__ import annotations

import ast
from pathlib import Path

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
