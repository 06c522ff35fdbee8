"""Networks: ModelConfig and presets, the shortcut and placement registries, the builder, summaries, weights.

The configs below are imported here. The modules that need torch are imported from themselves
(`explorer.nets.builder`, `explorer.nets.cost`, `explorer.nets.blocks`; `explorer.nets.summary` also needs torchinfo,
`explorer.nets.weights` torchvision), so a page that only reads configs loads without torch (Home's first paint,
docs/benchmarks.md).
"""
from .config import CIFAR_DEPTHS, PRESETS, ModelConfig, config_from_dict, preset

__all__ = [
    "CIFAR_DEPTHS",
    "ModelConfig",
    "PRESETS",
    "config_from_dict",
    "preset",
]
