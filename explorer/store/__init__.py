"""The run store: experiments, runs, metrics and weights, checkpoints, the shipped digits twin.

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'checkpoints': 'checkpoints', 'MAX_CHECKPOINT_BYTES': 'checkpoints', 'load_run_model': 'checkpoints',
    'load_uploaded_checkpoint': 'checkpoints', 'explainable_runs': 'checkpoints', 'load_run_dataset': 'checkpoints',
    'reports': 'reports', 'run_facts': 'reports', 'experiment_report': 'reports', 'history_rows': 'reports',
    'runstore': 'runstore', 'STATUSES': 'runstore', 'ACTIVE': 'runstore', 'FINAL_KEYS': 'runstore',
    'default_runs_dir': 'runstore', 'atomic_write_json': 'runstore', 'read_json': 'runstore', 'pid_alive': 'runstore',
    'run_slug': 'runstore', 'RunStore': 'runstore', 'load_checkpoint': 'runstore',
    'shipped': 'shipped', 'TWIN_DIR': 'shipped', 'TWIN_NAMES': 'shipped', 'shipped_twin': 'shipped',
    'shipped_twin_readme': 'shipped', 'SHIPPED_OWNER': 'shipped', 'ensure_shipped_in_store': 'shipped',
})
