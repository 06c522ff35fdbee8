"""One way to say where a job stands: queued (place, wait), running (fraction, ETA, speed) or finished.

Every page that shows a job (Train's experiments, Inspect's landscape jobs) draws the same `JobStatus`, so the
words and the units are the same everywhere. Waits and ETAs are in human units (s, min, h, days).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from ..i18n import N_, _, count, decimal, ngettext

if TYPE_CHECKING:
    from ..store.records import Experiment

FINISHED_WORDS = {"completed": N_("Finished"), "stopped": N_("Stopped"), "failed": N_("Failed"),
                  "interrupted": N_("Interrupted"), "diverged": N_("Every run diverged")}
# A side job's ending, named by the page ("The landscape job finished"); `job` is the page's (translated) noun.
WHAT_ENDED = {"completed": N_("{job} finished"), "stopped": N_("{job} stopped"), "failed": N_("{job} failed"),
              "interrupted": N_("{job} interrupted"), "diverged": N_("{job} diverged")}


STATE_WORDS = {None: N_("No job yet"), "queued": N_("Queued"), "running": N_("Running")}


def status_word(status: str | None) -> str:
    """A job's state in a word or two, for a table cell (the Class page's roster): the words JobStatus uses."""
    word = STATE_WORDS.get(status) or FINISHED_WORDS.get(str(status))
    return _(word) if word else str(status)


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
        return _("{n} s").format(n=f"{seconds:.0f}")
    if seconds < 90 * 60:
        return _("{n} min").format(n=f"{seconds / 60:.0f}")
    if seconds < 36 * 3600:
        return _("{n} h").format(n=decimal(seconds / 3600, 1))
    days = round(seconds / 86400)
    return ngettext("{n} day", "{n} days", days).format(n=f"{seconds / 86400:.0f}")


def duration_range(low: float, high: float) -> str:
    """A range a person reads at a glance: "40–55 s", "2–3 min", "50 s – 2 min"; "about 2 min" when both round alike."""
    a, b = human_duration(low), human_duration(high)
    if a == b:
        return _("about {duration}").format(duration=b)
    unit = b.split(" ", 1)[1] if " " in b else ""
    if unit and a.endswith(" " + unit):
        return f"{a.split(' ', 1)[0]}–{b}"
    return f"{a} – {b}"


def budget_message(budget_s: float | None) -> str:
    """The message of a job (training or landscape) that its wall-time budget stopped, its results kept."""
    return _("The job's time budget ({duration}) ran out; what it reached is kept.").format(
        duration=human_duration(budget_s))


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
            return JobStatus("queued", _("Queued: starting…"), "info")
        wait = duration_range(position["low_s"], position["high_s"]) if "low_s" in position and "high_s" in position \
            else _("about {duration}").format(duration=human_duration(position["wait_s"]))
        return JobStatus("queued", _("Queued: number {place} in line, {wait} to wait.").format(
            place=position["place"], wait=wait), "info")
    if status == "running":
        if progress is None:
            return JobStatus("running", _("Starting…"), "progress", 0.0)
        step, total = progress.step, progress.total_steps or 0
        eta, ips = progress.eta, progress.images_per_second
        # A worker's own message is stored in English: the reader's words where it is one of the app's sentences.
        text = _(progress.message) if progress.message else \
            _("Step {step} of {total}").format(step=step, total=total) if total else _("Starting…")
        if left is not None:
            text += " · " + _("{duration} left").format(duration=duration_range(*left))
        elif eta is not None:
            text += " · " + _("{duration} left").format(
                duration=_("about {duration}").format(duration=human_duration(eta)))
        if ips and not progress.message:
            text += " · " + _("{n} images/s per net").format(n=count(ips))
        return JobStatus("running", text, "progress", min(1.0, step / max(1, total)))
    word = _(FINISHED_WORDS[status]) if status in FINISHED_WORDS else str(status)
    if what:
        word = _(WHAT_ENDED[status]).format(job=what) if status in WHAT_ENDED else f"{what} {status}"
    message = _(job.message) if job.message else job.message  # stored in English: translated where it is ours
    level = {"completed": "success", "stopped": "warning", "diverged": "warning"}.get(status, "error")
    text = _("{status}: {message}").format(status=word, message=message) if message else word
    if not text.endswith((".", "!", "?", "。", "！", "？")):
        text = _("{sentence}.").format(sentence=text)
    return JobStatus(str(status), text, level)
