"""Counts that show the shape of the code (how many places re-implement one idea); rerun after a refactor.

    python scripts/shape_counts.py

Each line names what it counts; the numbers come from parsing the sources (ast), not from a list.
"""

from __future__ import annotations

import ast
import re
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"wood": "wood", "prep": "wood.prep", "finetune": "wood.finetune", "eval": "wood.eval"}
PACKAGES |= {name: f"wood.{name}" for name in ("deploy", "reporting") if (REPO / name).is_dir()}


def sources() -> dict[str, Path]:
    found = {}
    for folder, prefix in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([prefix, *parts])] = path
    return found


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def main() -> None:
    mods = sources()
    trees = {m: ast.parse(p.read_text(encoding="utf-8")) for m, p in mods.items()}
    texts = {m: p.read_text(encoding="utf-8") for m, p in mods.items()}
    rows: list[tuple[str, object]] = []

    parses = re.compile(r"^[^\n]*manifest[^\n]*json\.loads?\(|json\.loads?\([^\n]*manifest", re.I | re.M)
    manifest = sorted(m for m, t in texts.items() if parses.search(t))
    rows.append(("modules that parse manifest.json (json.load(s) of it)", f"{len(manifest)} {manifest}"))
    imageio = sorted(
        m for m, tr in trees.items() if not m.startswith("wood.prep") and "wood.imageio" in imported_modules(tr)
    )
    rows.append(("modules outside prep importing wood.imageio", len(imageio)))
    loaders = sorted(
        f"{m}.{n.name}"
        for m, tr in trees.items()
        for n in ast.walk(tr)
        if isinstance(n, ast.FunctionDef) and n.name in {"load_run", "load", "load_run_model"}
    )
    rows.append(("run-loading functions (load_run / load / load_run_model)", f"{len(loaders)} {loaders}"))
    helpers = sorted(
        m for m, tr in trees.items() for n in ast.walk(tr) if isinstance(n, ast.FunctionDef) and n.name == "_help"
    )
    rows.append(("`_help` field helpers defined", len(helpers)))
    options = sum(t.count("typer.Option(") for m, t in texts.items() if m.startswith(("wood.cli", "wood.commands")))
    rows.append(("hand-written typer.Option( in the CLI layer", options))
    conf = sorted(m for m, t in texts.items() if re.search(r"^[A-Z_]+ = 0\.001\b", t, re.M))
    rows.append(("modules defining a 0.001 confidence constant", f"{len(conf)} {conf}"))
    ious = sorted(
        f"{m}.{n.name}"
        for m, tr in trees.items()
        for n in ast.walk(tr)
        if isinstance(n, ast.FunctionDef) and re.fullmatch(r"_?box_iou\w*", n.name)
    )
    rows.append(("box IoU functions", f"{len(ious)} {ious}"))
    zips = sum(
        1
        for tr in trees.values()
        for n in ast.walk(tr)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "zip"
        and not any(k.arg == "strict" for k in n.keywords)
    )
    rows.append(("zip() calls without strict= (package code)", zips))
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    rows.append(("ruff ignores B905", '"B905"' in pyproject))
    flat_prep = sorted(p.name for p in (REPO / "prep").glob("*.py"))
    subs = sorted(p.parent.name for p in (REPO / "prep").glob("*/__init__.py"))
    rows.append(("prep/ flat .py files / subpackages", f"{len(flat_prep)} / {len(subs)} {subs}"))

    tests = sorted((REPO / "tests").rglob("test_*.py"))
    folders = sorted({p.parent.relative_to(REPO).as_posix() for p in tests})
    rows.append(("test files / test folders", f"{len(tests)} / {len(folders)}"))
    tested: set[str] = set()
    for p in (REPO / "tests").rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        tested |= imported_modules(ast.parse(text))
        tested |= set(re.findall(r"wood(?:\.\w+)+", text))
    untested = sorted(m for m in mods if not any(t == m or t.startswith(m + ".") for t in tested))
    rows.append(("modules no test imports or names", f"{len(untested)} of {len(mods)}"))
    skips = sum(p.read_text(encoding="utf-8").count("importorskip(") for p in (REPO / "tests").rglob("*.py"))
    rows.append(("pytest.importorskip calls in tests", skips))

    sizes = [len(p.read_text(encoding="utf-8").splitlines()) for p in mods.values()]
    funcs = [n for tr in trees.values() for n in ast.walk(tr) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    lengths = [n.end_lineno - n.lineno + 1 for n in funcs]
    typed = sum(1 for n in funcs if n.returns is not None or n.name == "__init__")
    rows.append(("package modules / largest file (lines)", f"{len(mods)} / {max(sizes)}"))
    rows.append(
        (
            "functions / median length (lines) / with a return annotation",
            (f"{len(funcs)} / {statistics.median(lengths):.0f} / {100 * typed / len(funcs):.0f}%"),
        )
    )
    rows.append(("README.md lines", len((REPO / "README.md").read_text(encoding="utf-8").splitlines())))
    docs = sorted(p.name for p in (REPO / "docs").glob("*.md"))
    rows.append(("docs/ pages", f"{len(docs)} {docs}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
