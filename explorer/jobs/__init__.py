"""Jobs: the job manager (owners, limits, de-duplication), its backends (local warm workers, Ray), the worker,
the landscape job kind.

The public API below is imported here; the rest from its module.
"""
from .manager import JobError, JobManager, Limits
from .request import JobRequest, NamedModel
from .status import JobStatus, job_status

__all__ = [
    "JobError",
    "JobManager",
    "JobRequest",
    "JobStatus",
    "Limits",
    "NamedModel",
    "job_status",
]
