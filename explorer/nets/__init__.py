"""Networks: ModelConfig and presets, the shortcut and placement registries, the builder, summaries, weights.

The public API below is imported here; the rest is imported from its module (`explorer.nets.summary` needs
torchinfo, `explorer.nets.weights` torchvision's ImageNet weights, so neither is imported here).
"""
from .builder import ResNet, build_model, count_parameters, meta_model
from .config import CIFAR_DEPTHS, PRESETS, ModelConfig, config_from_dict, preset
from .cost import check_model_cost, model_cost

__all__ = [
    "CIFAR_DEPTHS",
    "ModelConfig",
    "PRESETS",
    "ResNet",
    "build_model",
    "check_model_cost",
    "config_from_dict",
    "count_parameters",
    "meta_model",
    "model_cost",
    "preset",
]
