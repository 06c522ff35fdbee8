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
    'caps': 'caps', 'MAX_INPUT_SIZE': 'caps', 'MAX_LAYERS': 'caps', 'MAX_WIDTH': 'caps', 'MAX_PARAMS': 'caps',
    'MAX_MULT_ADDS': 'caps', 'MAX_CHECKPOINT_BYTES': 'caps', 'MAX_UNZIPPED_BYTES': 'caps',
    'MAX_DEFLATE_RATIO': 'caps', 'REFUSED_FILES_KEPT': 'caps', 'MAX_IMAGE_BYTES': 'caps', 'MAX_IMAGE_PIXELS': 'caps',
    'MAX_ASPECT_RATIO': 'caps', 'MAX_QUERY_VALUE_CHARS': 'caps', 'JOB_BUDGET_ENV': 'caps', 'JOB_BUDGET_S': 'caps',
    'MIN_JOB_BUDGET_S': 'caps', 'MAX_JOB_BUDGET_S': 'caps', 'MACS_PER_S_ENV': 'caps', 'MACS_PER_S': 'caps',
    'TEACHER_BACKOFF_FREE': 'caps', 'TEACHER_BACKOFF_BASE_S': 'caps', 'TEACHER_BACKOFF_MAX_S': 'caps',
    'job_budget_s': 'caps', 'macs_per_s': 'caps',
    'cost': 'cost', 'model_cost': 'cost', 'check_model_cost': 'cost',
    'config': 'config', 'FAMILIES': 'config', 'NORMS': 'config', 'INITS': 'config', 'IMAGENET_STAGES': 'config',
    'CONVS_PER_BLOCK': 'config', 'CIFAR_DEPTHS': 'config', 'choice': 'config', 'ModelConfig': 'config',
    'config_from_dict': 'config', 'PRESETS': 'config', 'preset': 'config',
    'summary': 'summary', 'layer_table': 'summary', 'model_stats': 'summary', 'block_diagram': 'summary',
    'weights': 'weights', 'IMAGENET_WEIGHTS': 'weights', 'DOWNLOAD_TIMEOUT_S': 'weights', 'Explainable': 'weights',
    'PretrainedUnavailable': 'weights', 'from_checkpoint': 'weights', 'imagenet_preprocessing': 'weights',
    'pretrained_imagenet': 'weights',
})
