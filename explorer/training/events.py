"""What the lockstep engine reports: typed events for its callback, and one result per model.

Each event's `to_dict()` is the JSON shape of docs/engine.md (a `type` key and the event's fields, None-valued
ones left out), which the run store keeps as a metric record (`step`, `epoch`) or as the progress (`progress`).
Size budget: ~120 lines.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from torch import nn


@dataclass(frozen=True)
class _Event:
    """to_dict() for every event: its `type` and its fields, leaving out None and a False `partial`."""

    type: ClassVar[str]

    def to_dict(self) -> dict:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"type": self.type, **{k: v for k, v in fields.items()
                                      if v is not None and not (k == "partial" and v is False)}}


@dataclass(frozen=True)
class StartEvent(_Event):
    """Before the first step: the plan."""

    type: ClassVar[str] = "start"
    total_steps: int
    epochs: int
    device: str
    precision: str  # "torch.bfloat16", "torch.float16" or "fp32"
    runs: tuple[str, ...]


@dataclass(frozen=True)
class StepEvent(_Event):
    """One model's running training loss and error since its last epoch, at a logged step."""

    type: ClassVar[str] = "step"
    run: str
    step: int
    epoch: float  # fractional: step / steps per epoch
    train_loss: float
    train_error: float  # fraction in [0, 1]
    lr: float
    time: float  # wall clock (time.time())


@dataclass(frozen=True)
class ProgressEvent(_Event):
    """The whole experiment's progress, after each logged step."""

    type: ClassVar[str] = "progress"
    step: int
    total_steps: int
    epoch: float
    epochs: int
    elapsed: float
    eta: float | None
    images_per_second: float


@dataclass(frozen=True)
class EpochEvent(_Event):
    """One model at the end of an epoch (epoch 0: the untrained net, with diagnostics only)."""

    type: ClassVar[str] = "epoch"
    run: str
    epoch: int
    step: int
    train_loss: float | None  # None at epoch 0
    train_error: float | None
    test_loss: float
    test_error: float
    elapsed: float
    images_per_second: float | None
    lr: float | None = None
    eta: float | None = None
    grad_norms: dict[str, float] | None = None  # {conv name: mean weight-gradient norm}, forward order
    branch_ratios: dict[str, float] | None = None  # {unit name: ||F(x)|| / ||x||}
    partial: bool = False  # the epoch was cut short (a stop, or the step budget): not counted as completed


@dataclass(frozen=True)
class StatusEvent(_Event):
    """A model's status changed while the others go on (today: it diverged)."""

    type: ClassVar[str] = "status"
    run: str
    status: str
    message: str
    step: int
    epoch: float


@dataclass(frozen=True)
class EndEvent(_Event):
    """After the last step: whether a stop ended it, and each model's status."""

    type: ClassVar[str] = "end"
    stopped: bool
    train_time: float
    statuses: dict[str, str]


Event = StartEvent | StepEvent | ProgressEvent | EpochEvent | StatusEvent | EndEvent
Callback = Callable[[Event], None]


@dataclass(frozen=True)
class RunResult:
    """One model after training: its status, completed epochs, last metrics and the trained module."""

    status: str  # completed, stopped or diverged
    epochs: int  # completed epochs
    final: dict[str, float] | None  # train_loss, train_error, test_loss, test_error of its last epoch record
    images_per_second: float
    message: str | None
    model: nn.Module  # the plain (never compiled) module, trained in place


__all__ = ["Callback", "EndEvent", "EpochEvent", "Event", "ProgressEvent", "RunResult", "StartEvent", "StatusEvent",
           "StepEvent"]
