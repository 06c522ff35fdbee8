"""Training: recipes (TrainConfig), devices, the lockstep engine, experiment kinds (Figure 6 defined once), and
the take-home script (export).

The public API below is imported here; the rest from its module.
"""
from .engine import build_models, train_models
from .experiments import ExperimentSpec
from .recipes import TrainConfig, train_config_for

__all__ = [
    "ExperimentSpec",
    "TrainConfig",
    "build_models",
    "train_config_for",
    "train_models",
]
