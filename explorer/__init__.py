"""ResNet Explorer's library: build plain and residual nets, train them in lockstep, look inside.

Layers, lowest first (an import may only point down; tests/test_layering.py checks):
    resources -> nets -> data -> analysis -> training -> store -> classroom -> jobs, figures -> cli, urlstate
Nothing here imports streamlit; the app in pages/ is a thin face. Each subpackage's `__init__` imports its
public names plainly, with `__all__`; `import explorer` itself imports no subpackage, so it stays cheap.
"""

__version__ = "0.2.0"

__all__ = ["__version__"]
