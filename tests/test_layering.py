"""The library's layers: no streamlit in explorer/, imports point down only, no cycles, no private names borrowed.

Layers, lowest first (docs/architecture.md): resources | text | i18n -> access -> nets -> data -> analysis ->
training -> urlstate -> store -> classroom -> jobs | figures -> launch | lti -> cli -> security. A module may import
from its own subpackage or from a lower layer; peers on one layer (jobs and figures) do not import each other. The
checker is a plain function over {module: source}, so the tests below also prove that it catches a planted upward
import, a cycle and a private import.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"
RANK = {"resources": 0, "text": 0, "i18n": 0, "cpu": 0, "access": 0.5, "nets": 1, "data": 2, "analysis": 3,
        "training": 4, "urlstate": 4.5, "store": 5,
        "classroom": 5.5, "jobs": 6, "figures": 6, "cli": 7, "launch": 6.5, "lti": 6.5, "security": 7.5,
        "__main__": 8, "": 9}
MAX_LINES = 450  # "a module past ~400 lines is asking to be split" (HOUSE_STYLE.md), with a little slack

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


def _tree_sources() -> dict:
    """{"explorer.nets.config": source, "explorer.nets": its __init__ source, ...} for the real tree."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path.read_text(encoding="utf-8")
    return out


def _is_package(name: str, sources: dict) -> bool:
    return any(other.startswith(name + ".") for other in sources)


def _imports(name: str, source: str, sources: dict) -> list:
    """(line, imported explorer module, imported names) for every import in a module, ones inside functions
    included. Importing `explorer.a.b` runs `explorer/a/__init__.py` first, so each package above an imported
    module counts as imported too: an `__init__` that imports its modules is followed like any module."""
    package = name if _is_package(name, sources) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "explorer"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "explorer":
                continue
            names = [a.name for a in node.names]
            subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in sources]
            found += [(node.lineno, s, []) for s in subs]  # `from ..analysis import diagnostics`
            rest = [n for n in names if f"{module}.{n}" not in sources]
            if rest or not subs:
                found.append((node.lineno, module, rest))
    return [(line, above, names if above == target else [])
            for line, target, names in found for above in _with_packages(target, name)]


def _with_packages(target: str, importer: str) -> list:
    """`explorer.a.b` and the packages it runs on import (`explorer.a`), minus those that hold the importer."""
    parts = target.split(".")
    chain = [".".join(parts[:i]) for i in range(2, len(parts))] + [target]
    return [m for m in chain if m == target or not (importer == m or importer.startswith(m + "."))]


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def layering_problems(sources: dict) -> list:
    """Every upward or sideways import, import cycle and borrowed private name, as sentences (empty: all good)."""
    problems, graph = [], {n: set() for n in sources}
    for name, source in sources.items():
        for line, target, names in _imports(name, source, sources):
            if target not in sources:
                continue
            graph[name].add(target)
            here, there = _layer(name), _layer(target)
            if here != there and there and RANK[there] >= RANK[here] and here:
                problems.append(f"{name}:{line} imports {target}, which is not in a lower layer")
            # `_` is gettext's translation function (explorer.i18n), the one public name spelt with an underscore
            private = [n for n in names if n.startswith("_") and n != "_" and target != name]
            if private:
                problems.append(f"{name}:{line} takes private name(s) {private} from {target}")
    problems += [f"import cycle: {' -> '.join(c)}" for c in _cycles(graph)]
    return problems


def _cycles(graph: dict) -> list:
    """One cycle per strongly connected group of modules (iterative DFS over the import graph, packages'
    `__init__` modules included)."""
    cycles, state, stack = [], {}, []

    def visit(start):
        work = [(start, iter(sorted(graph[start])))]
        state[start], stack[:] = "open", stack + [start]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                work.pop()
            elif state.get(child) == "open":
                cycles.append(stack[stack.index(child):] + [child])
            elif child not in state:
                state[child] = "open"
                stack.append(child)
                work.append((child, iter(sorted(graph[child]))))

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


# ----------------------------------------------------------------------------- the real tree
def test_the_tree_keeps_its_layers():
    assert layering_problems(_tree_sources()) == []


def test_every_layer_is_known():
    layers = {_layer(n) for n in _tree_sources()}
    assert layers <= set(RANK), f"add {layers - set(RANK)} to RANK and to docs/architecture.md"


def test_no_module_is_too_long_to_read_in_one_sitting():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


# ----------------------------------------------------------------------------- the checker catches what it must
def _planted(**changes) -> dict:
    sources = _tree_sources()
    for name, extra in changes.items():
        sources[name.replace("__", ".")] = sources.get(name.replace("__", "."), "") + "\n" + extra
    return sources


def test_checker_catches_an_upward_import():
    problems = layering_problems(_planted(explorer__nets__blocks="from ..store.runstore import RunStore"))
    assert any("explorer.nets.blocks" in p and "lower layer" in p for p in problems)


def test_checker_catches_a_sideways_import_between_peers():
    problems = layering_problems(_planted(explorer__figures__curves="from ..jobs.manager import JobManager"))
    assert any("explorer.figures.curves" in p for p in problems)


def test_checker_catches_a_cycle_inside_a_layer():
    problems = layering_problems(_planted(explorer__nets__config="def f():\n    from .builder import build_model"))
    assert any(p.startswith("import cycle") and "explorer.nets.config" in p for p in problems)


def test_checker_follows_imports_through_a_package_init():
    """nets/__init__ imports nets.config, which imports nets.kinds: kinds importing the package closes a cycle."""
    problems = layering_problems(_planted(explorer__nets__kinds="from ..nets import ModelConfig"))
    assert any(p.startswith("import cycle") and "explorer.nets.kinds" in p for p in problems)


def test_checker_sees_an_upward_import_routed_through_a_package_init():
    """`from ..store import RunStore` names only the package, but it runs store's modules: still upward."""
    problems = layering_problems(_planted(explorer__data__files="from ..store import RunStore"))
    assert any("explorer.data.files" in p and "explorer.store" in p for p in problems)


def test_checker_catches_a_private_import():
    problems = layering_problems(_planted(explorer__store__shipped="from ..nets.weights import _check_shapes"))
    assert any("private" in p and "_check_shapes" in p for p in problems)


# ----------------------------------------------------------------------------- no streamlit, light imports
def test_importing_every_explorer_module_does_not_import_streamlit():
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {n for n in _tree_sources() if n != "explorer.__main__"}
    assert expected <= set(report["modules"]) | {"explorer"}  # the walk really found the modules on disk
    assert report["failed"] == {}, report["failed"]
    assert report["streamlit"] == [], f"explorer imported {report['streamlit']}"


@pytest.mark.parametrize("module, absent", [
    ("explorer", ("torch", "plotly", "captum")),
    ("explorer.training.engine", ("plotly", "captum", "streamlit", "torchinfo")),
    ("explorer.jobs.worker", ("plotly", "captum", "streamlit", "torchinfo")),
])
def test_the_engine_imports_without_the_ui_packages(module, absent):
    """The GPU machine has torch, torchvision, numpy and scikit-learn only: the engine and worker must import there."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not {m for m in loaded if m.split(".")[0] in absent}


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
