"""Typed records at the run store's boundary: what pages, the CLI, charts and the job manager read.

The store hands out frozen dataclasses, never raw rows or dicts: `Experiment` (with its `Run`s and its latest
`Progress`), `Run` (with its `Final` metrics) and `Metric` (one step or epoch record of docs/engine.md).
Damaged values (a spec that is not an object, a run without a name, 10^30 epochs) are caught where a record
is made: `Experiment.from_row` raises `DamagedRecord` with one sentence, and listings skip such rows.
Size budget: ~250 lines.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, overload

STATUSES = ("queued", "running", "completed", "stopped", "diverged", "failed", "interrupted")
ACTIVE = ("queued", "running")
FINAL_KEYS = ("train_loss", "train_error", "test_loss", "test_error")
MAX_EPOCHS = 100_000  # more than any recipe allows; a record claiming more is damaged


class DamagedRecord(ValueError):
    """A stored row that cannot be read as a record (one sentence, naming the experiment)."""


def _number(value: object) -> float | None:
    """A finite-or-NaN float, or None for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@overload
def _whole(value: object, default: int = 0) -> int:
    ...


@overload
def _whole(value: object, default: None) -> int | None:
    ...


def _whole(value: object, default: int | None = 0) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 0 <= value <= MAX_EPOCHS * 10**6 else default


@dataclass(frozen=True)
class Final:
    """A run's last recorded metrics (errors are fractions in [0, 1]); None where not measured yet."""

    train_loss: float | None = None
    train_error: float | None = None
    test_loss: float | None = None
    test_error: float | None = None

    @classmethod
    def from_dict(cls, d: object) -> Final | None:
        if not isinstance(d, dict):
            return None
        return cls(**{k: _number(d.get(k)) for k in FINAL_KEYS})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    """The latest progress event of a running job (step, total steps, ETA in seconds, images/s, message)."""

    step: int = 0
    total_steps: int | None = None
    epoch: float | None = None
    epochs: int | None = None
    elapsed: float | None = None
    eta: float | None = None
    images_per_second: float | None = None
    message: str | None = None

    @classmethod
    def from_dict(cls, d: object) -> Progress | None:
        if not isinstance(d, dict):
            return None
        msg = d.get("message")
        return cls(step=_whole(d.get("step")), total_steps=_whole(d.get("total_steps"), None) or None,
                   epoch=_number(d.get("epoch")), epochs=_whole(d.get("epochs"), None),
                   elapsed=_number(d.get("elapsed")), eta=_number(d.get("eta")),
                   images_per_second=_number(d.get("images_per_second")),
                   message=str(msg)[:500] if msg is not None else None)

    @property
    def fraction(self) -> float:
        """Steps done over total steps, in [0, 1]."""
        return min(1.0, self.step / max(1, self.total_steps or 1))


@dataclass(frozen=True)
class Run:
    """One model of an experiment, as stored: config, status, completed epochs, final metrics, weights."""

    exp_id: str
    id: str
    name: str
    model: dict  # ModelConfig.to_dict()
    status: str = "queued"
    epochs: int = 0
    final: Final | None = None
    images_per_second: float | None = None
    params: int | None = None
    dataset: str | None = None
    message: str | None = None
    depth: int | None = None  # weighted layers (He et al. 2015), None when the config is unreadable
    init_weights: str | None = None  # paths relative to the store's artefact folder, None when absent
    final_weights: str | None = None

    @property
    def shortcut(self) -> str | None:
        return self.model.get("shortcut")

    @property
    def placement(self) -> str | None:
        return self.model.get("placement")

    @property
    def plain(self) -> bool:
        return self.model.get("shortcut") == "none"

    @property
    def zero_init_residual(self) -> bool:
        return bool(self.model.get("zero_init_residual"))


@dataclass(frozen=True)
class Experiment:
    """One job (a training experiment or a landscape), its runs and its latest progress."""

    id: str
    kind: str  # the job kind: "train" or "landscape"
    owner: str | None
    status: str
    spec: dict  # ExperimentSpec.to_dict() for training, landscape_spec() for a landscape
    spec_hash: str | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    message: str | None = None
    worker: str | None = None  # the worker's handle: "host:pid:start time" (explorer.jobs checks it)
    resumable: bool = False  # every unfinished run has a saved epoch state
    progress: Progress | None = None
    runs: tuple = ()

    @property
    def dataset(self) -> str:
        data = self.spec.get("data")
        return str(data.get("name", "?")) if isinstance(data, dict) else "?"

    @property
    def spec_kind(self) -> str:
        """single, twin, sweep or compare for training; the job kind otherwise."""
        return str(self.spec.get("kind") or self.kind)

    @property
    def device(self) -> str:
        train = self.spec.get("train")
        return str(train.get("device", "?")) if isinstance(train, dict) else "?"

    @property
    def source(self) -> str | None:
        """The source experiment of a landscape job."""
        return self.spec.get("source")

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (None before it started; up to now while it runs)."""
        import time
        if not self.started:
            return None
        return (self.finished or time.time()) - self.started

    def run(self, run_id: str) -> Run | None:
        return next((r for r in self.runs if r.id == run_id), None)


METRIC_FIELDS = ("type", "run", "step", "epoch", "train_loss", "train_error", "test_loss", "test_error", "lr",
                 "elapsed", "eta", "images_per_second", "time", "grad_norms", "branch_ratios", "partial")


@dataclass(frozen=True)
class Metric:
    """One record of a run's metrics (docs/engine.md): a `step` record or an `epoch` record."""

    type: str
    run: str | None = None
    step: int | None = None
    epoch: float | None = None
    train_loss: float | None = None
    train_error: float | None = None
    test_loss: float | None = None
    test_error: float | None = None
    lr: float | None = None
    elapsed: float | None = None
    eta: float | None = None
    images_per_second: float | None = None
    time: float | None = None
    grad_norms: dict | None = None  # {conv name: mean weight-gradient norm}, forward order
    branch_ratios: dict | None = None  # {unit name: ||F(x)|| / ||x||}
    partial: bool = False
    extra: dict = field(default_factory=dict, compare=False)  # keys a newer engine wrote

    @classmethod
    def from_dict(cls, d: dict) -> Metric:
        known: dict[str, Any] = {k: d.get(k) for k in METRIC_FIELDS if k in d}
        known["partial"] = bool(known.get("partial"))
        for key in ("grad_norms", "branch_ratios"):
            if not isinstance(known.get(key), dict):
                known.pop(key, None)
        return cls(**known, extra={k: v for k, v in d.items() if k not in METRIC_FIELDS})

    def to_dict(self) -> dict:
        """The JSON-lines shape of docs/engine.md (only the keys this record has), for charts and exports."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out = {k: v for k, v in out.items() if v is not None and not (k == "partial" and not v)}
        return {**out, **self.extra}


def run_slug(name: str) -> str:
    """A run's folder name: letters, digits, - _ . only; never `.`/`..` or a hidden name."""
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))[:80]
    return ("_" + slug.lstrip(".")) if slug.startswith(".") else (slug or "run")


def check_name(name: object) -> str:
    """A run or experiment name that is safe as a folder name: refuses empty, `.`, `..` and path separators."""
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or "/" in name or "\\" in name \
            or "\x00" in name or len(name) > 200:
        raise ValueError(f"Not a usable name: {str(name)[:40]!r} (no '.', '..' or '/').")
    return name


@dataclass(frozen=True)
class Filter:
    """Which experiments a query returns (None: any). `owner` is an exact owner id; `before` a timestamp."""

    kind: str | None = "train"  # the job kind; None for every kind
    owner: str | None = None
    dataset: str | None = None
    spec_kind: str | None = None  # single, twin, sweep, compare
    status: str | None = None
    depth: int | None = None  # at least one run of this depth
    before: float | None = None  # created before this time
    exclude_active: bool = False  # leave out queued and running jobs (retention)
