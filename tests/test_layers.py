"""Layers run one way: core (wood/*) <- prep <- finetune <- eval <- deploy <- report (reporting/) <- the CLI; no cycles.

Parses every import in the package sources (function-level imports too, since heavy libraries
are imported lazily) and checks it against the layer of the module it comes from.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {
    "wood": "wood",
    "prep": "wood.prep",
    "finetune": "wood.finetune",
    "eval": "wood.eval",
    "deploy": "wood.deploy",
    "reporting": "wood.reporting",
    "datasets": "wood.datasets",
}
LAYERS = ["core", "prep", "finetune", "eval", "deploy", "report", "cli"]


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    parts[0] = PACKAGE_DIRS[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    if module in ("wood.cli", "wood.__main__") or module.startswith("wood.cli."):
        return "cli"
    if module == "wood.reporting" or module.startswith("wood.reporting."):
        return "report"
    for name in ("deploy", "eval", "finetune", "prep"):
        if module == f"wood.{name}" or module.startswith(f"wood.{name}."):
            return name
    return "core"


def sources() -> dict[str, Path]:
    return {module_name(p): p for folder in PACKAGE_DIRS for p in (REPO / folder).rglob("*.py")}


def imports(path: Path, module: str) -> set[str]:
    """The wood modules ``path`` imports (relative imports resolved)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "wood"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            if base.split(".")[0] == "wood":
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    mods = sources()
    return {m: {i for i in imports(p, m) if i in mods and i != m} for m, p in mods.items()}


def test_every_import_points_down_or_sideways():
    upward = [
        f"{m} ({layer(m)}) imports {i} ({layer(i)})"
        for m, targets in graph().items()
        for i in sorted(targets)
        if LAYERS.index(layer(i)) > LAYERS.index(layer(m))
    ]
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_no_import_cycles():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize(
    "module, expected",
    [
        ("wood.errors", "core"),
        ("wood.prep.mvtec", "prep"),
        ("wood.finetune.sam.train", "finetune"),
        ("wood.eval.detect.evaluate", "eval"),
        ("wood.reporting.render", "report"),
        ("wood.cli.commands.prep", "cli"),
    ],
)
def test_layer_names(module, expected):
    assert layer(module) == expected
