"""The package's layers import downward only, and click stays in the CLI.

Read with ast from the files (nothing is imported). Each module belongs to the first group whose
name prefixes it; it may import its own group and the groups of lower layers, never a peer's or
a higher one's.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"sclzonal": ROOT / "sclzonal", "sclzonal.db": ROOT / "db", "sclzonal.ingest": ROOT / "ingest"}
LAYERS = [
    ["sclzonal.errors"],
    ["sclzonal.db", "sclzonal.sql"],
    ["sclzonal.ingest"],
    ["sclzonal.counting"],
    ["sclzonal.verdicts", "sclzonal.explanation", "sclzonal.roles", "sclzonal.rules", "sclzonal.qgis"],
    ["sclzonal.flows"],
    ["sclzonal.demo"],
    ["sclzonal.cli"],
]


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def group_of(module: str) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for level, groups in enumerate(LAYERS):
        for group in groups:
            inside = module == group or module.startswith(group + ".")
            if inside and (best is None or len(group) > len(best[1])):
                best = (level, group)
    return best


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_module_has_a_layer() -> None:
    found = modules()
    assert "sclzonal.db.migrate" in found and "sclzonal.cli.scl" in found
    loose = [name for name in found if name != "sclzonal" and group_of(name) is None]
    assert loose == []


def test_imports_go_downward_only() -> None:
    wrong = []
    for module, path in modules().items():
        own = group_of(module)
        if own is None:
            continue
        for name in imported(path):
            target = group_of(name)
            if target is None or target[1] == own[1]:
                continue
            if target[0] >= own[0]:
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_click_only_in_the_cli() -> None:
    users = sorted(module for module, path in modules().items() if not module.startswith("sclzonal.cli")
                   and "click" in {name.split(".")[0] for name in imported(path)})
    assert users == []


def test_no_generic_top_level_imports() -> None:
    """Nothing imports the folders by their own names (db, ingest): an install has only sclzonal."""
    wrong = [f"{module} imports {name}" for module, path in modules().items() for name in imported(path)
             if name.split(".")[0] in {"db", "ingest", "sql"}]
    assert wrong == []
