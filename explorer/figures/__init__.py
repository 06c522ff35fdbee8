"""Plotly figures from records: pure functions, tested without a browser.

Every module here needs plotly (the worker never imports this package); its public names are imported here.
"""
from .classroom import band, class_chart, class_figure6, projected, tally_chart
from .clicks import CELL_TRACE, clickable_cells, clicked_point, epoch_table
from .curves import (
    CURVE_LAYOUTS,
    MAX_POINTS,
    ablation_chart,
    branch_ratio_chart,
    gradient_heatmap,
    gradient_log_range,
    gradient_profile,
    layer_response_chart,
    loss_curve,
    run_series,
    training_curves,
)
from .images import attribution_overlay, confusion_matrix, image_grid, sample_strip, topk_bars
from .landscape import landscape_line, landscape_surfaces
from .papers import PAPER_NUMBERS, paper_reference, reference_tables
from .screen import SCREEN_FONT_PX, for_screen, screen_text, snapshot_figure
from .style import (
    FONT_SIZE,
    OVERLAY_SCALE,
    PALETTE,
    apply_layout,
    as_number,
    empty_figure,
    name_style,
    named_runs,
    run_label,
    run_line,
    run_styles,
    whole_ticks,
)
from .why import deletion_chart, highway_chart, path_landscape_chart, path_length_chart

__all__ = [
    "CELL_TRACE",
    "CURVE_LAYOUTS",
    "FONT_SIZE",
    "MAX_POINTS",
    "OVERLAY_SCALE",
    "PALETTE",
    "PAPER_NUMBERS",
    "SCREEN_FONT_PX",
    "ablation_chart",
    "apply_layout",
    "as_number",
    "attribution_overlay",
    "band",
    "class_chart",
    "branch_ratio_chart",
    "class_figure6",
    "clickable_cells",
    "clicked_point",
    "confusion_matrix",
    "deletion_chart",
    "empty_figure",
    "epoch_table",
    "for_screen",
    "gradient_heatmap",
    "gradient_log_range",
    "gradient_profile",
    "highway_chart",
    "image_grid",
    "landscape_line",
    "landscape_surfaces",
    "layer_response_chart",
    "loss_curve",
    "name_style",
    "named_runs",
    "paper_reference",
    "path_landscape_chart",
    "path_length_chart",
    "projected",
    "reference_tables",
    "run_label",
    "run_line",
    "run_series",
    "run_styles",
    "sample_strip",
    "screen_text",
    "snapshot_figure",
    "tally_chart",
    "topk_bars",
    "training_curves",
    "whole_ticks",
]
