"""Static checks as part of the suite: ruff over the whole tree and mypy over the library (config in pyproject.toml).

mypy checks function bodies and refuses unannotated functions in explorer/ (check_untyped_defs,
disallow_untyped_defs, disallow_incomplete_defs), so a typo such as `ModelConfig(depht=20)` fails here. Skipped,
with the reason, where the tool is not installed (the README's test install brings both).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not installed (pip install -r requirements-dev.txt)")
    return path


def test_ruff_passes_on_the_whole_tree():
    result = subprocess.run([_tool("ruff"), "check", "--output-format", "concise", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory) -> tuple[str, Path]:
    """One mypy run over the library and a probe script that uses its public names (one typo'd on purpose)."""
    probe = tmp_path_factory.mktemp("mypy") / "probe.py"
    probe.write_text("from explorer.nets import ModelConfig\n"
                     "from explorer.nets.builder import build_model\n"
                     "from explorer.jobs import JobManager\n"
                     "good = build_model(ModelConfig(depth=20))\n"
                     "bad = ModelConfig(depht=20)\n")
    result = subprocess.run([_tool("mypy"), "explorer", str(probe)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    return result.stdout + result.stderr, probe


@pytest.mark.slow
def test_mypy_passes_on_the_library(mypy_report):
    output, _ = mypy_report
    errors = [line for line in output.splitlines() if line.startswith("explorer")]
    assert errors == [], output[-4000:]


@pytest.mark.slow
def test_mypy_sees_the_public_names_and_catches_a_typo(mypy_report):
    """The declared surface resolves: a typo'd field of ModelConfig is an error, a right one is not."""
    output, probe = mypy_report
    # by file name: mypy's cache may name an identical probe by the path it first had
    lines = [line for line in output.splitlines() if line.split(":")[0].endswith(probe.name) and ": error:" in line]
    assert len(lines) == 1 and ":5:" in lines[0] and "depht" in lines[0], output[-3000:]


def test_every_benchmark_script_imports():
    """A benchmark that no longer imports is found here, not on the day a GPU is lent (bench_gpu.py imported a helper
    that bench_engine.py had dropped). Imported in a fresh interpreter, as `python benchmarks/X.py` would, without
    running main()."""
    names = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__")
    code = ("import importlib, sys\nfailed = []\nfor name in sys.argv[1:]:\n    try:\n"
            "        importlib.import_module('benchmarks.' + name)\n"
            "    except Exception as exc:\n        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
            "print('\\n'.join(failed))\n")
    result = subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout[-3000:] + result.stderr[-2000:]
