"""Training: recipes (TrainConfig), devices, the lockstep engine, experiment kinds (Figure 6 defined once), and
the take-home script (export).

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'devices': 'devices', 'EngineError': 'devices', 'resolve_device': 'devices', 'resolve_precision': 'devices',
    'OUT_OF_MEMORY': 'devices', 'maybe_compile': 'devices',
    'engine': 'engine', 'Callback': 'engine', 'build_models': 'engine', 'Lockstep': 'engine',
    'train_models': 'engine',
    'experiments': 'experiments', 'KINDS': 'experiments', 'FIGURE6_DEPTHS': 'experiments',
    'SWEEP_NOTE': 'experiments', 'ExperimentSpec': 'experiments', 'fit_to_data': 'experiments',
    'single': 'experiments', 'twin': 'experiments', 'sweep': 'experiments', 'fit_for_sweep': 'experiments',
    'figure6': 'experiments', 'compare': 'experiments', 'plain_residual_pairs': 'experiments',
    'export': 'export', 'export_script': 'export', 'takehome': 'takehome',
    'recipes': 'recipes', 'OPTIMIZERS': 'recipes', 'SCHEDULES': 'recipes', 'DEVICES': 'recipes',
    'PRECISIONS': 'recipes', 'TrainConfig': 'recipes', 'TRAIN_DEFAULTS': 'recipes', 'train_config_for': 'recipes',
})
