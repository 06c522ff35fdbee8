"""How a job that failed is recorded: `failed`, one sentence in its message, the traceback in its worker.log."""
from __future__ import annotations

import contextlib
import errno
import logging
import time
import traceback

from ..i18n import N_, _
from ..store.db import StoreError
from ..store.records import Experiment
from ..store.runstore import RunStore
from ..training.devices import EngineError

log = logging.getLogger(__name__)
UNEXPECTED = {"experiment": N_("The experiment failed unexpectedly ({error}); see worker.log in its folder."),
              "landscape": N_("The landscape failed unexpectedly ({error}); see worker.log in its folder.")}


def failure_message(exc: BaseException, what: str = "experiment") -> str:
    """One sentence for a failed job; a raw allocator or library error never reaches the user (CLI or page)."""
    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _("The server's disk is full, so this job could not save its weights and stopped; free some space "
                 "(or ask the teacher to), then start it again.")
    if isinstance(exc, StoreError):
        return str(exc)
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and ("allocate" in text
                                                                           or "out of memory" in text)):
        return _("The models did not fit in memory; use fewer or smaller models, or a smaller batch size.")
    if isinstance(exc, (EngineError, ValueError, RuntimeError)) and str(exc):
        return str(exc)
    if what in UNEXPECTED:
        return _(UNEXPECTED[what]).format(error=type(exc).__name__)
    return _("The {what} failed unexpectedly ({error}); see worker.log in its folder.").format(
        what=what, error=type(exc).__name__)


def fail_job(store: RunStore, exp_id: str, exc: Exception, what: str) -> Experiment | None:
    """End a job as `failed` with one sentence (the traceback goes to worker.log in its folder)."""
    message = failure_message(exc, what)
    with contextlib.suppress(OSError):  # a full disk takes the traceback, never the job's status
        store.exp_dir(exp_id).mkdir(parents=True, exist_ok=True)
        with open(store.exp_dir(exp_id) / "worker.log", "a") as f:
            f.write(traceback.format_exc())
    log.error("%s %s failed: %s", what, exp_id, message)
    store.update_runs(exp_id, where_status=("queued", "running"), status="failed")
    return store.update_experiment(exp_id, status="failed", message=message, finished=time.time())
