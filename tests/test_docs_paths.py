"""What the docs and docstrings name exists: every `explorer/...` path and `explorer.x.y` name in docs/*.md, the
README, and the text of every Python file resolves to a module, a package, or a name defined at a module's top.

Old flat module names (`explorer.` + `blocks`, `explorer.` + `checkpoints`) and files that are gone (`lazy.py`)
fail here.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOTTED = re.compile(r"(?<![\w/.-])explorer(?:\.[A-Za-z_]\w*)+")
SLASHED = re.compile(r"(?<![\w/.-])explorer/[\w/]*\w(?:\.py)?")


@cache
def _top_names(path: Path) -> frozenset:
    """Names a module defines or imports at its top level (classes, functions, constants, imported names)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return frozenset(names)


MAPPED = {"explorer/assets": "assets"}  # pyproject.toml's package-dir: assets/ installs as explorer.assets


def _module_file(parts: list) -> Path | None:
    folder = "/".join(parts)
    base = ROOT / MAPPED[folder] if folder in MAPPED else ROOT.joinpath(*parts)
    if base.is_dir() and folder in MAPPED:
        return base
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def resolves(name: str) -> bool:
    """`explorer.a.b.c`: the longest prefix that is a module, then (at most) one name defined in it, then
    attributes of that name that we do not follow (a class's method)."""
    parts = name.split(".")
    if any(p.startswith("__") or len(p) == 1 for p in parts[1:]):
        return True  # explorer.__file__, and the placeholders of an example (explorer.a.b)
    for i in range(len(parts), 0, -1):
        path = _module_file(parts[:i])
        if path is not None:
            rest = parts[i:]
            if path.is_dir():
                return len(rest) <= 1 and (not rest or (path / rest[0]).exists())
            return not rest or rest[0] in _top_names(path) or (path.parent / rest[0]).exists()
    return False


def _texts() -> dict:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for folder in ("explorer", "pages", "tests", "benchmarks"):
        files += sorted((ROOT / folder).rglob("*.py"))
    files += [ROOT / "streamlit_app.py", ROOT / "setup.py", ROOT / "pyproject.toml"]
    return {p: p.read_text(encoding="utf-8") for p in files if p.is_file() and p.name != "test_docs_paths.py"}


def test_every_explorer_name_in_docs_and_docstrings_exists():
    missing = {}
    for path, text in _texts().items():
        for name in set(DOTTED.findall(text)):
            name = name.rstrip(".")
            if name.split(".")[-1] in ("py", "md", "toml", "json"):
                continue
            if not resolves(name):
                missing.setdefault(str(path.relative_to(ROOT)), []).append(name)
    assert missing == {}


def test_every_explorer_path_in_docs_and_docstrings_exists():
    missing = {}
    for path, text in _texts().items():
        for found in set(SLASHED.findall(text)):
            mapped = next((found.replace(k, v, 1) for k, v in MAPPED.items() if found.startswith(k)), found)
            if "/a/" not in found and not (ROOT / mapped).exists():
                missing.setdefault(str(path.relative_to(ROOT)), []).append(found)
    assert missing == {}


def test_the_checker_catches_an_old_module_name():
    assert resolves("explorer.nets.config.ModelConfig") and resolves("explorer.nets")
    assert not resolves("explorer." + "blocks") and not resolves("explorer." + "checkpoints.load")
    assert not resolves("explorer.nets.config.NoSuchThing")
