"""Training: recipes (TrainConfig), devices, the lockstep engine, experiment kinds (Figure 6 defined once), and
the take-home script (export).

The records below are imported here. The modules that need torch are imported from themselves
(`explorer.training.engine`, `explorer.training.devices`), so the classroom and the pages read experiments and
recipes without torch (Home's first paint, docs/benchmarks.md).
"""
from .experiments import ExperimentSpec
from .recipes import TrainConfig, train_config_for

__all__ = [
    "ExperimentSpec",
    "TrainConfig",
    "train_config_for",
]
