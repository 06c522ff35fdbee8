"""How long a job will run and how long a queued one will wait, as a range, from what this server has measured.

The measure: each completed training job in the run store (its spec and its wall time, started to finished; the
records survive restarts) gives how much slower than the size-based guess (`training.experiments.estimate_seconds`:
3 x forward mult-adds x images, at the assumed speed of the device) it ran here. A new job's time is its own guess
times that factor, taken from the most recent finished jobs closest to it in size on the same dataset and device
(the spread of those factors gives the range). Without such history the range is the guess up to six times it, and
says so. A running job's time left moves from that estimate less the time run to its own pace so far, by its fraction
done, so it moves smoothly; a queued job's wait places the running jobs' time left and the jobs ahead of it on
the server's slots.
Size budget: ~200 lines.
"""
from __future__ import annotations

import functools
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ..store.records import Experiment
from .request import LANDSCAPE

HISTORY_JOBS = 40  # the newest completed training jobs the estimates learn from
NEAREST = 5  # of those, the ones closest in size to the job asked about
UNMEASURED = (1.0, 6.0)  # no history: the size-based guess (optimistic) up to six times it
FEW_SAMPLES = (0.75, 1.35)  # one or two similar jobs measured: this much either side of their factor
MIN_SPREAD = (0.9, 1.12)  # never narrower: jobs vary by this much on a quiet machine
OUTLIER = 2.0  # a neighbour more than this factor off the median is left out of the range


@dataclass(frozen=True)
class Span:
    """A duration as a range: `low`..`high` seconds, `mid` the single best guess."""

    low: float
    mid: float
    high: float
    measured: bool  # from this server's own history (False: from the net's size alone)

    def scaled(self, factor: float) -> Span:
        return Span(self.low * factor, self.mid * factor, self.high * factor, self.measured)

    def capped(self, most: float) -> Span:
        most = max(0.0, most)
        return Span(min(self.low, most), min(self.mid, most), min(self.high, most), self.measured)


@dataclass(frozen=True)
class Measured:
    """One completed job: its size-based guess and how long it really ran, where."""

    guess_s: float
    actual_s: float
    dataset: str
    device: str

    @property
    def factor(self) -> float:
        return self.actual_s / max(self.guess_s, 1e-9)


@functools.lru_cache(maxsize=1024)
def _guess_of(spec_json: str) -> tuple[float, str, str] | None:
    """(size-based guess in seconds, dataset, device) of a stored training spec; None for any other job."""
    from ..training.experiments import ExperimentSpec, estimate_seconds
    try:
        spec = ExperimentSpec.from_dict(json.loads(spec_json))
        device = spec.train.device if spec.train.device in ("cpu", "cuda", "mps") else "cpu"
        seconds = estimate_seconds(spec, device)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    # An uploaded folder's size is not in the dataset's record (0 images): such a job cannot be priced by size and
    # is estimated like a job of another kind (its own ETA while it runs), not as taking no time.
    return (seconds, spec.data.name, spec.train.device) if seconds > 0 else None


def guess(spec: dict) -> tuple[float, str, str] | None:
    """(size-based guess in seconds, dataset, device) of an Experiment's spec; None when it is not a training job."""
    if spec.get("kind") == LANDSCAPE:
        return None
    return _guess_of(json.dumps({k: v for k, v in spec.items() if k != "budget_s"}, sort_keys=True))


def measured_jobs(completed: Sequence[Experiment]) -> list[Measured]:
    """What the newest completed jobs (newest first) measured, training jobs only."""
    out = []
    for exp in completed[:HISTORY_JOBS]:
        g = guess(exp.spec)
        if g is None or exp.started is None or exp.finished is None or exp.finished <= exp.started:
            continue
        out.append(Measured(g[0], exp.finished - exp.started, g[1], g[2]))
    return out


def job_time(history: Sequence[Measured], spec: dict) -> Span | None:
    """A training job's wall time (worker start to finish) on this server, as a range; None for other jobs."""
    g = guess(spec)
    if g is None:
        return None
    seconds, dataset, device = g
    alike = [m for m in history if m.dataset == dataset and m.device == device] or \
            [m for m in history if m.device == device]
    if not alike:
        low, high = UNMEASURED
        return Span(seconds * low, seconds * math.sqrt(low * high), seconds * high, measured=False)
    nearest = sorted(alike, key=lambda m: abs(math.log(m.guess_s / max(seconds, 1e-9))))[:NEAREST]
    mid = statistics.median(m.factor for m in nearest)
    # A job far off its neighbours (a server's first job importing torch's compiler, one run on a moment's load)
    # moves the median little; it must not stretch the range either.
    factors = [f for f in (m.factor for m in nearest) if mid / OUTLIER <= f <= mid * OUTLIER]
    if len(factors) < 3:
        low, high = mid * FEW_SAMPLES[0], mid * FEW_SAMPLES[1]
    else:
        low, high = min(factors), max(factors)
    low, high = min(low, mid * MIN_SPREAD[0]), max(high, mid * MIN_SPREAD[1])
    return Span(seconds * low, seconds * mid, seconds * high, measured=True)


def time_left(history: Sequence[Measured], job: Experiment, now: float, budget_s: float) -> Span | None:
    """A running job's time left: early on, its measured whole time less the time it has run; later, more and more
    its own pace so far (weighted by its fraction done, since that pace counts its start-up). Capped by its budget."""
    age = max(0.0, now - (job.started or now))
    total = job_time(history, job.spec)
    progress = job.progress
    done = progress.fraction if progress is not None else 0.0
    if total is None:  # a landscape job: its own ETA, as it reports it
        eta = progress.eta if progress is not None else None
        return None if eta is None else Span(eta, eta, eta, measured=True).capped(budget_s - age)
    by_clock = max(0.0, total.mid - age)
    mid = by_clock if done <= 0.0 else (1.0 - done) * by_clock + done * age * (1.0 - done) / done
    span = Span(mid * total.low / total.mid, mid, mid * total.high / total.mid, total.measured)
    return span.capped(budget_s - age)


def queue_wait(history: Sequence[Measured], running: Sequence[Experiment], ahead: Sequence[Experiment],
               slots: int, now: float, budget_s: float, typical_s: float) -> Span:
    """How long until a queued job starts: the running jobs' time left and the jobs ahead of it, placed in order on
    `slots` slots (each job ahead takes the slot that frees first). `typical_s` stands in for a job without an
    estimate."""
    unknown = Span(typical_s, typical_s, typical_s, measured=False)
    frees = [time_left(history, job, now, budget_s) or unknown.capped(budget_s) for job in running]
    frees += [Span(0.0, 0.0, 0.0, measured=True)] * max(0, slots - len(frees))
    ends = {part: sorted(getattr(s, part) for s in frees)[:max(1, slots)] for part in ("low", "mid", "high")}
    measured = all(s.measured for s in frees)
    for job in ahead:
        need = (job_time(history, job.spec) or unknown).capped(budget_s)
        measured = measured and need.measured
        for part in ends:
            ends[part][0] += getattr(need, part)
            ends[part].sort()
    return Span(ends["low"][0], ends["mid"][0], ends["high"][0], measured)
