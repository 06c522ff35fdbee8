"""Where the shipped files are: the package data `explorer.assets` (the repository's assets/ folder)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def asset_path(*parts: str) -> Path:
    """A shipped file or folder, e.g. asset_path("digits_twin") or asset_path("paper_numbers.json")."""
    return Path(str(resources.files("explorer.assets").joinpath(*parts)))
