"""Looking inside trained nets: diagnostics, attribution (captum), loss landscapes, ablation and
ensembles of paths, the gradient highway, evaluation.

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'ablation': 'ablation', 'ShortcutOnly': 'ablation', 'ablate_blocks': 'ablation',
    'path_lengths': 'ablation', 'delete_random_units': 'ablation',
    'highway': 'highway', 'gradient_split': 'highway', 'unit_gradients': 'highway', 'highway_summary': 'highway',
    'attribution': 'attribution', 'METHODS': 'attribution', 'HEAVY_PARAMETERS': 'attribution',
    'attribute': 'attribution', 'predict': 'attribution', 'default_gradcam_layer': 'attribution',
    'is_heavy': 'attribution', 'attribute_details': 'attribution', 'Attribution': 'attribution',
    'IG_TOLERANCE': 'attribution', 'IG_MAX_STEPS': 'attribution', 'IG_MAX_STEPS_HEAVY': 'attribution',
    'baselines': 'baselines', 'BASELINES': 'baselines', 'baseline_image': 'baselines', 'blur': 'baselines',
    'modelcopy': 'modelcopy', 'borrowed_copy': 'modelcopy',
    'diagnostics': 'diagnostics', 'conv_grad_norm_tensors': 'diagnostics', 'conv_grad_norms': 'diagnostics',
    'branch_ratios': 'diagnostics', 'layer_responses': 'diagnostics', 'response_points': 'diagnostics',
    'feature_maps': 'diagnostics', 'first_layer_filters': 'diagnostics', 'gradient_flow_sentence': 'diagnostics',
    'evaluation': 'evaluation', 'check_pair': 'evaluation', 'eval_no_grad': 'evaluation', 'error_rate': 'evaluation',
    'test_example': 'evaluation', 'confusion_and_mistakes': 'evaluation', 'test_metrics': 'evaluation',
    'loss_at': 'evaluation', 'confusion_cell': 'evaluation',
    'trajectory': 'trajectory', 'pca_plane': 'trajectory', 'path_surface': 'trajectory',
    'landscape': 'landscape', 'DEFAULT_SUBSET': 'landscape', 'filter_normalized_direction': 'landscape',
    'line': 'landscape', 'surface': 'landscape', 'landscape_subset': 'landscape',
})
