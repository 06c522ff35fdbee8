"""Home's first paint loads no torch; the server imports it right after, in the background (issue 20, item 11).

torch takes ~1.4 s of a 2-core machine's first script run (docs/benchmarks.md), so the library keeps it out of what
Home and the entry script import: configs, records, the store, the classroom and the job manager load without it,
and the modules that need it are imported from themselves. The check runs the real app (AppTest) in a fresh
interpreter, where nothing this test process imported can hide an import, and records which thread imports torch.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import importlib.abc, json, sys, threading, traceback
seen = {}

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" and not seen:
            here = [f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.lineno}"
                    for f in traceback.extract_stack() if "/explorer/" in f.filename or "/pages/" in f.filename
                    or f.filename.endswith("streamlit_app.py")]
            seen.update(thread=threading.current_thread().name, chain=here)
        return None

sys.meta_path.insert(0, Watch())
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
during_run = dict(seen)
title = [t.value for t in at.title]
preload = [t for t in threading.enumerate() if t.name == "explorer-preload"]
for t in preload:
    t.join(120)
print(json.dumps({"during_run": during_run, "title": title, "exceptions": [e.value for e in at.exception],
                  "preloaded": "torch" in sys.modules and "explorer.training.engine" in sys.modules,
                  "preload_thread": bool(preload)}))
"""


def test_home_is_drawn_without_torch_and_the_server_imports_it_afterwards(tmp_path):
    env = {"EXPLORER_RUNS_DIR": str(tmp_path / "runs"), "EXPLORER_DATA_DIR": str(tmp_path / "data"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", _PROBE, str(ROOT / "streamlit_app.py")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["exceptions"] == [] and out["title"] == ["ResNet Explorer"], out
    # Imported before the run ended, torch came from the script's thread (the chain says through what), or from the
    # preload thread the run starts at its very end.
    assert out["during_run"].get("thread") in (None, "explorer-preload"), out["during_run"]
    assert out["preload_thread"] and out["preloaded"], out  # and the next page finds it imported
