"""Plotly figures from records: pure functions, tested without a browser.

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'curves': 'curves', 'MAX_POINTS': 'curves', 'run_series': 'curves', 'training_curves': 'curves',
    'CURVE_LAYOUTS': 'curves',
    'loss_curve': 'curves', 'gradient_profile': 'curves', 'gradient_log_range': 'curves',
    'gradient_heatmap': 'curves', 'branch_ratio_chart': 'curves', 'layer_response_chart': 'curves',
    'ablation_chart': 'curves',
    'images': 'images', 'topk_bars': 'images', 'confusion_matrix': 'images', 'attribution_overlay': 'images',
    'sample_strip': 'images', 'image_grid': 'images',
    'landscape': 'landscape', 'landscape_surfaces': 'landscape', 'landscape_line': 'landscape',
    'why': 'why', 'highway_chart': 'why', 'path_length_chart': 'why', 'deletion_chart': 'why',
    'path_landscape_chart': 'why',
    'clicks': 'clicks', 'CELL_TRACE': 'clicks', 'clickable_cells': 'clicks', 'clicked_point': 'clicks',
    'epoch_table': 'clicks',
    'papers': 'papers', 'PAPER_NUMBERS': 'papers', 'paper_reference': 'papers', 'reference_tables': 'papers',
    'classroom': 'classroom', 'class_figure6': 'classroom', 'tally_chart': 'classroom', 'projected': 'classroom',
    'band': 'classroom',
    'style': 'style', 'PALETTE': 'style', 'FONT_SIZE': 'style', 'OVERLAY_SCALE': 'style', 'apply_layout': 'style',
    'whole_ticks': 'style', 'empty_figure': 'style', 'as_number': 'style', 'name_style': 'style',
    'run_styles': 'style', 'named_runs': 'style', 'run_label': 'style', 'run_line': 'style',
})
