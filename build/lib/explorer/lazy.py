"""Lazy public surfaces: a package names what it exports, and a name's module is imported on first use.

Each `__init__.py` under explorer/ declares its public API as {name: module} and calls `exports`. So
`import explorer` stays cheap (no torch, plotly or captum until something asks for them), the engine
imports on a machine without the UI packages, and `from explorer.nets import ModelConfig` still works.
"""
from __future__ import annotations

import importlib


def exports(package: str, table: dict) -> tuple:
    """Module-level `__getattr__` and `__dir__` for a package whose public names live in its modules.

    Args:
        package: the package's `__name__`. table: {public name: module name relative to the package}.
    Returns:
        (__getattr__, __dir__, __all__) to assign at the package's top level.
    """
    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{table[name]}")
        return module if table[name] == name else getattr(module, name)

    def __dir__() -> list:
        return sorted(table)

    return __getattr__, __dir__, sorted(table)
