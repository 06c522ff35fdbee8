"""Jobs: the job manager (owners, limits, de-duplication), its backends (local warm workers, Ray), the worker,
the landscape job kind.

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'landscape': 'landscape', 'LANDSCAPE_KIND': 'landscape', 'RESULT_FILE': 'landscape', 'NO_INIT': 'landscape',
    'landscape_spec': 'landscape', 'landscape_request': 'landscape', 'read_landscapes': 'landscape',
    'run_landscape_job': 'landscape',
    'manager': 'manager', 'STOP_GRACE_S': 'manager', 'JobError': 'manager', 'Limits': 'manager',
    'JobManager': 'manager',
    'status': 'status', 'FINISHED_WORDS': 'status', 'JobStatus': 'status', 'human_duration': 'status',
    'job_status': 'status',
    'worker': 'worker', 'run_experiment': 'worker', 'run_job': 'worker', 'work': 'worker',
    'backends': 'backends', 'Backend': 'backends', 'Handle': 'handles', 'LocalBackend': 'backends',
    'handles': 'handles', 'own_handle': 'handles',
    'worker_command': 'backends', 'make_backend': 'manager', 'raycluster': 'raycluster', 'RayBackend': 'raycluster',
    'warm': 'warm', 'WarmWorkers': 'warm',
    'watching': 'watching', 'LiveWatchers': 'watching', 'live_interval': 'watching',
})
