"""Networks: ModelConfig and presets, the shortcut and placement registries, the builder, summaries, weights.

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'blocks': 'blocks', 'conv3x3': 'blocks', 'conv1x1': 'blocks', 'make_norm': 'blocks', 'ZeroPadShortcut': 'blocks',
    'Projection': 'blocks', 'ShortcutKind': 'blocks', 'SHORTCUTS': 'blocks', 'Placement': 'blocks',
    'PLACEMENTS': 'blocks', 'ResidualUnit': 'blocks', 'BasicBlock': 'blocks', 'Bottleneck': 'blocks',
    'BLOCKS': 'blocks',
    'builder': 'builder', 'CIFAR_WIDTHS': 'builder', 'IMAGENET_WIDTHS': 'builder', 'ResNet': 'builder',
    'zero_init_branches': 'builder', 'build_model': 'builder', 'count_parameters': 'builder',
    'convert_torchvision_state_dict': 'builder', 'load_torchvision_weights': 'builder',
    'copy_matching_weights': 'builder',
    'config': 'config', 'FAMILIES': 'config', 'NORMS': 'config', 'INITS': 'config', 'IMAGENET_STAGES': 'config',
    'CONVS_PER_BLOCK': 'config', 'CIFAR_DEPTHS': 'config', 'choice': 'config', 'ModelConfig': 'config',
    'config_from_dict': 'config', 'PRESETS': 'config', 'preset': 'config',
    'summary': 'summary', 'layer_table': 'summary', 'model_stats': 'summary', 'block_diagram': 'summary',
    'weights': 'weights', 'IMAGENET_WEIGHTS': 'weights', 'DOWNLOAD_TIMEOUT_S': 'weights', 'Explainable': 'weights',
    'PretrainedUnavailable': 'weights', 'from_checkpoint': 'weights', 'imagenet_preprocessing': 'weights',
    'pretrained_imagenet': 'weights',
})
