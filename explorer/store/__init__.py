"""The run store: experiments, runs, metrics and weights, checkpoints, the shipped digits twin.

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'checkpoints': 'checkpoints', 'MAX_CHECKPOINT_BYTES': 'checkpoints', 'load_run_model': 'checkpoints',
    'load_uploaded_checkpoint': 'checkpoints', 'explainable_runs': 'checkpoints', 'load_run_dataset': 'checkpoints',
    'TrainedExperiment': 'checkpoints',
    'uploaded': 'uploaded', 'keep_upload': 'uploaded', 'ensure_upload': 'uploaded', 'load_store_dataset': 'uploaded',
    'reports': 'reports', 'run_facts': 'reports', 'experiment_report': 'reports', 'history_rows': 'reports', 'export_csv': 'reports',
    'runstore': 'runstore', 'STATUSES': 'records', 'ACTIVE': 'records', 'FINAL_KEYS': 'records',
    'default_runs_dir': 'runstore', 'atomic_write_json': 'runstore', 'read_json': 'runstore', 'pid_alive': 'runstore',
    'run_slug': 'runstore', 'RunStore': 'runstore', 'load_checkpoint': 'runstore', 'Filter': 'runstore',
    'Page': 'runstore', 'worker_handle': 'runstore', 'worker_alive': 'runstore',
    'records': 'records', 'Experiment': 'records', 'Run': 'records', 'Metric': 'records', 'Final': 'records',
    'Progress': 'records', 'DamagedRecord': 'records', 'check_name': 'records',
    'db': 'db', 'SCHEMA_VERSION': 'db', 'SchemaMismatch': 'db', 'database_url': 'db',
    'tables': 'tables',
    'importer': 'importer', 'import_store': 'importer', 'pending_import': 'importer', 'legacy_folders': 'importer',
    'ImportResult': 'importer',
    'resume': 'resume', 'save_resume_state': 'resume', 'load_resume_state': 'resume',
    'budget': 'budget', 'DiskBudget': 'budget', 'enforce': 'budget', 'weights_bytes': 'budget',
    'retention': 'retention', 'retention_count': 'retention', 'delete_by_filter': 'retention',
    'snapshots': 'snapshots', 'MAX_SNAPSHOTS': 'snapshots', 'SNAPSHOT_BYTES': 'snapshots',
    'snapshot_name': 'snapshots', 'save_snapshot': 'snapshots', 'snapshot_epochs': 'snapshots',
    'run_snapshots': 'snapshots', 'snapshot_keys': 'snapshots',
    'artefacts': 'artefacts', 'Artefacts': 'artefacts', 'artefacts_url': 'artefacts', 'ARTIFACTS_ENV': 'artefacts',
    'path_states': 'snapshots',
    'shipped': 'shipped', 'TWIN_DIR': 'shipped', 'TWIN_NAMES': 'shipped', 'shipped_twin': 'shipped',
    'shipped_twin_readme': 'shipped', 'SHIPPED_OWNER': 'shipped', 'ensure_shipped_in_store': 'shipped',
})
