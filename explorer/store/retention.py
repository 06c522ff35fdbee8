"""Retention: the teacher deletes finished experiments by filter (older than a date, one student's), after a
dry-run count. Queued and running jobs are never deleted here (stop them first).
"""
from __future__ import annotations

from dataclasses import replace

from ..i18n import ngettext
from .runstore import Filter, RunStore

BATCH = 200


def retention_count(store: RunStore, filt: Filter) -> int:
    """How many finished experiments a filter matches: the dry run before `delete_by_filter`."""
    return store.page(replace(filt, exclude_active=True), limit=1, with_runs=False).total


def delete_by_filter(store: RunStore, filt: Filter, expected: int) -> int:
    """Delete the finished experiments a filter matches (rows and files); returns how many were deleted.

    Args:
        expected: the dry run's count; when the filter now matches more (new experiments finished meanwhile),
            nothing is deleted and ValueError says so in one sentence.
    """
    filt = replace(filt, exclude_active=True)
    count = retention_count(store, filt)
    if count > expected:
        raise ValueError(ngettext("The filter now matches {n} experiment, not {expected}; count again before deleting.",
                                  "The filter now matches {n} experiments, not {expected}; count again before "
                                  "deleting.", count).format(n=count, expected=expected))
    deleted = 0
    while True:
        page = store.page(filt, limit=BATCH, with_runs=False)
        ids = [e.id for e in page.items] + list(page.damaged)
        if not ids:
            return deleted
        for exp_id in ids:
            store.delete_experiment(exp_id)
            deleted += 1
