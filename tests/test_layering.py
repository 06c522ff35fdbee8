"""The library never imports streamlit: `import explorer` and every module under it, in a fresh interpreter.

DESIGN.md: arrows point from pages/ to explorer/, never back; the app is a thin face over the library.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"

# Runs in a fresh interpreter, so nothing this test process imported can hide a streamlit import.
# explorer.__main__ is left out: importing it would run the command line.
_PROBE = """
import importlib, json, pkgutil, sys
import explorer
failed = {}
names = [m.name for m in pkgutil.walk_packages(explorer.__path__, "explorer.") if m.name != "explorer.__main__"]
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
loaded = sorted(m for m in sys.modules if m == "streamlit" or m.startswith("streamlit."))
print(json.dumps({"modules": names, "failed": failed, "streamlit": loaded}))
"""


def test_importing_every_explorer_module_does_not_import_streamlit():
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {f"explorer.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert expected <= set(report["modules"])  # the walk really found the modules on disk
    assert report["failed"] == {}, report["failed"]
    assert report["streamlit"] == [], f"explorer imported {report['streamlit']}"


def _streamlit_imports(path: Path) -> list:
    """Line numbers of `import streamlit...` / `from streamlit... import` anywhere in a file, lazy ones too."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
            lines.append(node.lineno)
    return lines


def test_no_explorer_source_file_mentions_a_streamlit_import():
    """Catches imports inside functions too, which importing the module alone would not run."""
    offenders = {str(p.relative_to(ROOT)): lines for p in sorted(PACKAGE.rglob("*.py"))
                 if (lines := _streamlit_imports(p))}
    assert offenders == {}, f"streamlit imported in the library: {offenders}"
