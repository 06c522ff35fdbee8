"""ResNet Explorer's library: build plain and residual nets, train them in lockstep, look inside.

Layers, lowest first (an import may only point down; tests/test_layering.py checks):
    nets -> data -> analysis -> training -> store -> jobs, figures -> cli, urlstate
Nothing here imports streamlit; the app in pages/ is a thin face. Names load lazily (explorer.lazy), so
`import explorer` is cheap and the engine imports without the UI packages (plotly, captum).
"""
from .lazy import exports

__version__ = "0.2.0"

__getattr__, __dir__, __all__ = exports(__name__, {
    # the layers, as subpackages
    "nets": "nets", "data": "data", "training": "training", "analysis": "analysis", "store": "store",
    "jobs": "jobs", "figures": "figures", "urlstate": "urlstate", "cli": "cli",
    # the few names most scripts need
    "ModelConfig": "nets", "preset": "nets", "build_model": "nets",
    "DataConfig": "data", "load_dataset": "data",
    "TrainConfig": "training", "train_config_for": "training", "ExperimentSpec": "training",
    "train_models": "training", "build_models": "training",
    "RunStore": "store", "JobManager": "jobs", "run_experiment": "jobs",
})
