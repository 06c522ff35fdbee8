"""Jobs: the job manager (owners, limits, de-duplication), worker processes, the landscape job kind.

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
    'teacher': 'teacher', 'check_teacher': 'teacher', 'TeacherGate': 'teacher',
    'worker': 'worker', 'run_experiment': 'worker', 'run_job': 'worker',
})
