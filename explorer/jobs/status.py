"""One way to say where a job stands: queued (place, wait), running (fraction, ETA, speed) or finished.

Every page that shows a job (Train's experiments, Inspect's landscape jobs) draws the same `JobStatus`, so the
words and the units are the same everywhere. Waits and ETAs are in human units (s, min, h, days).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from ..store.records import Experiment

FINISHED_WORDS = {"completed": "Finished", "stopped": "Stopped", "failed": "Failed", "interrupted": "Interrupted",
                  "diverged": "Every run diverged"}


STATE_WORDS = {None: "No job yet", "queued": "Queued", "running": "Running"}


def status_word(status: str | None) -> str:
    """A job's state in a word or two, for a table cell (the Class page's roster): the words JobStatus uses."""
    return STATE_WORDS.get(status) or FINISHED_WORDS.get(str(status), str(status))


@dataclass(frozen=True)
class JobStatus:
    """What a page shows for one job."""

    state: str  # "queued", "running" or the finished status ("completed", "stopped", ...)
    text: str  # one sentence (or a progress caption) for the page
    level: str  # how to draw it: "info", "progress", "success", "warning" or "error"
    fraction: float | None = None  # 0..1 while running


class _WaitRange(TypedDict, total=False):
    low_s: float  # the range a queued job's wait is expected in (explorer.jobs.estimate), when estimated
    high_s: float


class QueuePlace(_WaitRange):
    """Where a queued job stands in line (JobManager.position, JobManager.queued_wait)."""

    place: int  # 1-based
    wait_s: float  # estimated seconds before it starts (the best single guess)


def human_duration(seconds: float | None) -> str:
    """A duration a person reads at a glance: "40 s", "3 min", "2.5 h", "47 days"; "–" when unknown."""
    if seconds is None or not isinstance(seconds, (int, float)) or seconds != seconds or seconds < 0:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def duration_range(low: float, high: float) -> str:
    """A range a person reads at a glance: "40–55 s", "2–3 min", "50 s – 2 min"; "about 2 min" when both round alike."""
    a, b = human_duration(low), human_duration(high)
    if a == b:
        return f"about {b}"
    unit = b.split(" ", 1)[1] if " " in b else ""
    if unit and a.endswith(" " + unit):
        return f"{a.split(' ', 1)[0]}–{b}"
    return f"{a} – {b}"


def budget_message(budget_s: float | None) -> str:
    """The message of a job (training or landscape) that its wall-time budget stopped, its results kept."""
    return f"The job's time budget ({human_duration(budget_s)}) ran out; what it reached is kept."


def job_status(job: Experiment, position: QueuePlace | None = None, what: str = "",
               left: tuple[float, float] | None = None) -> JobStatus:
    """Where a job stands, in the page's words.

    Args:
        job: the Experiment record (status, progress, message). position: JobManager.queued_wait's answer for a
        queued job ({"place", "wait_s"}, with "low_s" and "high_s" when estimated) or None. what: a noun for
        finished messages ("The landscape job"). left: a running job's time left as (low, high) seconds
        (JobManager.time_left); without it, the job's own reported ETA.
    Returns:
        A JobStatus; `fraction` is set while the job runs.
    """
    status, progress = job.status, job.progress
    if status == "queued":
        if not position:
            return JobStatus("queued", "Queued: starting…", "info")
        wait = duration_range(position["low_s"], position["high_s"]) if "low_s" in position and "high_s" in position \
            else f"about {human_duration(position['wait_s'])}"
        return JobStatus("queued", f"Queued: number {position['place']} in line, {wait} to wait.", "info")
    if status == "running":
        if progress is None:
            return JobStatus("running", "Starting…", "progress", 0.0)
        step, total = progress.step, progress.total_steps or 0
        eta, ips = progress.eta, progress.images_per_second
        text = progress.message or (f"Step {step} of {total}" if total else "Starting…")
        if left is not None:
            text += f" · {duration_range(*left)} left"
        elif eta is not None:
            text += f" · about {human_duration(eta)} left"
        text += f" · {ips:,.0f} images/s per net" if ips and not progress.message else ""
        return JobStatus("running", text, "progress", min(1.0, step / max(1, total)))
    word = FINISHED_WORDS.get(status, str(status))
    if what:
        word = f"{what} {'finished' if status == 'completed' else str(status)}"
    message = job.message
    level = {"completed": "success", "stopped": "warning", "diverged": "warning"}.get(status, "error")
    text = f"{word}: {message}" if message else word
    return JobStatus(str(status), text if text.endswith((".", "!", "?")) else text + ".", level)
