"""The app installs as a package: a wheel built from this checkout, installed without -e into a fresh environment,
serves every page from any folder with `resnet-explorer app`, and finds its shipped assets.

The fresh environment gets the wheel and nothing of this checkout; its third-party packages (torch, streamlit...)
come from the test's own environment through a .pth line, since installing a second 6 GB torch here would take
minutes and prove nothing about this project. A .pth line adds that folder to sys.path without running the
editable install's hook in it, so `explorer` can only come from the wheel (the test checks where it came from).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

import pytest

from tests.test_browser import free_port, stop_app

ROOT = Path(__file__).resolve().parents[1]
# What the wheel is built from: the files that pyproject.toml and setup.py name, nothing else of the checkout.
SOURCES = ("explorer", "pages", "assets", ".streamlit", "streamlit_app.py", "setup.py", "pyproject.toml", "README.md")
PAGES = ("home", "build", "train", "runs", "explain", "inspect", "why", "data", "lessons", "classroom")

# Run inside the fresh environment, from an unrelated folder: every page of the installed app in AppTest.
_PROBE = r"""
import json, sys
from pathlib import Path
import explorer, explorer_app
from explorer.launch import app_entry
from explorer.resources import asset_path
from streamlit.testing.v1 import AppTest
entry = app_entry()
at = AppTest.from_file(str(entry), default_timeout=120)
at.run()
pages = {}
for page in PAGES:
    at.switch_page(f"pages/{page}.py").run()
    pages[page] = {"exception": [str(e.value) for e in at.exception], "elements": len(at.main.children)}
print(json.dumps({"explorer": explorer.__file__, "entry": str(entry), "pages": pages,
                  "twin": str(asset_path("digits_twin"))}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel of this checkout installed (no -e); returns its python."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, src / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(work / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((work / "dist").glob("resnet_explorer-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.slow
def test_the_wheel_holds_the_library_the_app_and_the_assets(installed):
    import zipfile
    wheel = next(installed.parents[2].glob("dist/resnet_explorer-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "explorer").rglob("__init__.py")}
    assert {f"{p}/__init__.py" for p in packages} <= names  # every subpackage found without a hand list
    assert {"explorer_app/streamlit_app.py", "explorer_app/.streamlit/config.toml"} <= names
    assert {f"explorer_app/pages/{p}.py" for p in PAGES} <= names
    assert any(n.startswith("explorer/assets/digits_twin/") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "explorer_app/setup")) for n in names)


@pytest.mark.slow
def test_every_page_of_the_installed_app_renders_from_another_folder(installed, tmp_path):
    probe = "PAGES = " + repr(PAGES) + "\n" + _PROBE
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EXPLORER_RUNS_DIR": str(tmp_path / "runs")}
    result = subprocess.run([str(installed), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    venv = str(installed.parents[1])
    assert report["explorer"].startswith(venv), report["explorer"]  # the wheel's copy, not this checkout
    assert report["entry"].startswith(venv) and report["entry"].endswith("explorer_app/streamlit_app.py")
    assert report["twin"].startswith(venv)
    assert {p: r["exception"] for p, r in report["pages"].items() if r["exception"]} == {}
    assert all(r["elements"] > 0 for r in report["pages"].values()), json.dumps(report["pages"])


@pytest.mark.slow
def test_resnet_explorer_app_serves_the_installed_app(installed, tmp_path):
    import os
    import signal
    import time
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EXPLORER_RUNS_DIR": str(tmp_path / "runs")}
    command = [str(installed.parent / "resnet-explorer"), "app", "--server.port", str(port),
               "--server.address", "127.0.0.1"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, healthy = time.monotonic() + 90, False
        while time.monotonic() < deadline and not healthy and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    healthy = r.status == 200
            except OSError:
                time.sleep(0.2)
        assert healthy, f"resnet-explorer app did not serve on {port} (exit code {proc.poll()})"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"<div id=\"root\">" in r.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        stop_app(proc)
    assert not (tmp_path / ".streamlit").exists()  # settings passed as options, nothing written where it ran


def test_the_launcher_passes_nested_config_tables_as_dotted_options(tmp_path):
    """[theme.light] inside config.toml (issue 23's light and dark themes) becomes --theme.light.primaryColor."""
    from explorer.launch import config_options
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "config.toml").write_text(
        '[server]\nheadless = true\n[theme]\nfont = "sans serif"\n[theme.light]\nprimaryColor = "#c0392b"\n')
    assert config_options(tmp_path / "streamlit_app.py") == [
        "--server.headless", "true", "--theme.font", "sans serif", "--theme.light.primaryColor", "#c0392b"]
