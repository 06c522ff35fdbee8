"""The run store: experiments, runs, metrics and weights, checkpoints, the shipped digits twin.

The public API below is imported here; the rest from its module.
"""
from .records import Experiment, Progress, Run
from .runstore import RunStore

__all__ = [
    "Experiment",
    "Progress",
    "Run",
    "RunStore",
]
