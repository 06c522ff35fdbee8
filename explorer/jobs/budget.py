"""A job's wall-time budget: every kind of job stops when it runs out, its results kept (docs/security.md).

The job manager records the budget in each job's spec at submit; the worker enforces it; the teacher may change
it for jobs that start afterwards, within [MIN_JOB_BUDGET_S, MAX_JOB_BUDGET_S].
"""
from __future__ import annotations

import os
from collections.abc import Mapping

JOB_BUDGET_ENV = "EXPLORER_JOB_BUDGET_S"
JOB_BUDGET_S = 1800.0  # a job's wall time, seconds (30 minutes); a job past it stops, results kept
MIN_JOB_BUDGET_S, MAX_JOB_BUDGET_S = 60.0, 7 * 86400.0  # what a teacher or a deployment may set


def job_budget_s(env: Mapping[str, str] | None = None) -> float:
    """The deployment's per-job time budget: EXPLORER_JOB_BUDGET_S (clamped to the allowed range) or 30 min."""
    raw = (os.environ if env is None else env).get(JOB_BUDGET_ENV)
    try:
        value = float(raw) if raw else JOB_BUDGET_S
    except ValueError:
        value = JOB_BUDGET_S
    return min(max(value, MIN_JOB_BUDGET_S), MAX_JOB_BUDGET_S) if value == value else JOB_BUDGET_S
