"""`resnet-explorer app`: start the Streamlit app from wherever it is installed, with its own settings.

The app's files are the checkout's streamlit_app.py, pages/ and .streamlit/config.toml; a wheel installs the same
files as the package `explorer_app` (setup.py), so this finds the entry script without depending on the working
folder. Streamlit reads .streamlit/config.toml only from the working folder, so its settings are passed as
command-line options instead; options given after `app` come later and win.

Home's first paint loads no torch (docs/benchmarks.md, "Home without torch"); once it is drawn, the server imports
what the other pages need in the background (`preload_in_background`), so the next page opens warm.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import threading
from pathlib import Path

ENTRY = "streamlit_app.py"
# What the pages past Home import: torch (~1.3 s on a 2-core machine), torch._dynamo (~1 s: Build's first
# meta-device cost check imports it), the engine (with the builder and the datasets), torchinfo's tables, captum for
# Explain (~0.5 s).
PRELOAD = ("torch", "torch._dynamo", "explorer.training.engine", "explorer.nets.summary", "explorer.store.checkpoints",
           "explorer.analysis.attribution")
_preload_lock = threading.Lock()
_preload_started = False


def app_entry() -> Path:
    """The entry script: the installed `explorer_app` package's, else the checkout's beside explorer/.

    Raises:
        FileNotFoundError: with one sentence, when neither is there.
    """
    spec = importlib.util.find_spec("explorer_app")
    folders = list(spec.submodule_search_locations or []) if spec else []
    folders.append(str(Path(__file__).resolve().parents[1]))  # a checkout: explorer/ beside streamlit_app.py
    for folder in folders:
        if (Path(folder) / ENTRY).is_file():
            return Path(folder) / ENTRY
    raise FileNotFoundError("The app's streamlit_app.py is not installed; reinstall resnet-explorer.")


def config_options(entry: Path) -> list[str]:
    """The app's .streamlit/config.toml beside `entry` as `--section.option value` arguments for `streamlit run`."""
    path = entry.parent / ".streamlit" / "config.toml"
    if not path.is_file():
        return []
    try:
        import tomllib
    except ImportError:  # Python 3.10: run with Streamlit's defaults rather than fail
        return []
    with path.open("rb") as f:
        config = tomllib.load(f)
    options: list[str] = []

    def flatten(prefix: str, values: dict) -> None:  # [theme.light] is a table inside [theme]: --theme.light.x
        for name, value in values.items():
            if isinstance(value, dict):
                flatten(f"{prefix}{name}.", value)
            else:
                options.extend([f"--{prefix}{name}", str(value).lower() if isinstance(value, bool) else str(value)])
    flatten("", config)
    return options


def app_command(args: list[str]) -> list[str]:
    """The `streamlit run` command line that `resnet-explorer app ARGS` executes."""
    entry = app_entry()
    return [sys.executable, "-m", "streamlit", "run", str(entry), *config_options(entry), *args]


def run_app(args: list[str]) -> int:
    """Replace this process with `streamlit run` of the app (extra `args` are passed on to it)."""
    try:
        command = app_command(args)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    os.execv(command[0], command)
    return 0  # not reached: execv does not return


def preload_in_background(modules: tuple[str, ...] = PRELOAD) -> threading.Thread | None:
    """Import `modules` in a daemon thread, once per process; None when a call before this one started it.

    The app calls it at the end of every script run, after the page is drawn: Home's first paint waits for no
    torch, and a page opened a moment later finds its imports done (or waits on the same import, never repeats it).
    A module that fails to import here is left to the page that needs it, which says why.
    """
    global _preload_started
    with _preload_lock:  # two sessions' first runs may end at once: one thread between them
        if _preload_started:
            return None
        _preload_started = True
    thread = threading.Thread(target=_import_all, args=(modules,), name="explorer-preload", daemon=True)
    thread.start()
    return thread


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        with contextlib.suppress(Exception):  # the page that imports it reports the failure, in its own words
            importlib.import_module(name)
