"""Lockstep training: every model of an experiment sees the same batches, in the same order, with the
same augmentation; twins start from the same weights. The only difference on the chart is the architecture.

Events go to a callback as typed records (explorer.training.events; no UI here); a stop request is polled
between batches.
Size budget: ~400 lines.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..analysis import diagnostics
from ..i18n import _
from ..nets.builder import ResNet, build_model, copy_matching_weights, zero_init_branches
from ..nets.config import ModelConfig
from .devices import OUT_OF_MEMORY, EngineError, cpu_threads, maybe_compile, resolve_device, resolve_precision
from .events import Callback, EndEvent, EpochEvent, Event, ProgressEvent, RunResult, StartEvent, StatusEvent, StepEvent
from .recipes import TrainConfig

if TYPE_CHECKING:
    from ..data.datasets import Dataset

Checkpoint = Callable[[dict], None]  # called with Lockstep.state() after each completed epoch but the last
OnEpoch = Callable[[str, int, nn.Module], None]  # (run name, completed epoch, the plain module)


# ----------------------------------------------------------------------------- models
def _lineage(cfg: ModelConfig) -> tuple:
    """Models with the same lineage share initial weights wherever names and shapes match (twins)."""
    return (cfg.family, cfg.block, cfg.blocks_per_stage, cfg.width, cfg.norm, cfg.init,
            cfg.in_channels, cfg.input_size, cfg.num_classes)


def build_models(named_cfgs: Sequence[tuple[str, ModelConfig]], seed: int) -> dict[str, ResNet]:
    """Build each named model; twins (same depth, width, ...) start from identical weights.

    The reference weights come from the first config of each lineage with zero-init off, so a plain
    twin never inherits a zeroed branch; zero-init is then applied where a config asks for it.
    """
    models: dict[str, ResNet] = {}
    references: dict[tuple, ResNet] = {}
    for name, cfg in named_cfgs:
        key = _lineage(cfg)
        torch.manual_seed(seed)
        model = build_model(cfg)
        if key not in references:
            torch.manual_seed(seed)
            references[key] = build_model(dataclasses.replace(cfg, zero_init_residual=False))
        copy_matching_weights(references[key], model)
        if cfg.zero_init_residual:
            zero_init_branches(model)
        models[name] = model
    return models


def lr_factor(train: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    """Learning-rate multiplier at a step: warm-up, then constant / step (/10 at 50% and 75%) / cosine / one-cycle."""
    warm = int(train.warmup_epochs * steps_per_epoch)
    if step < warm:
        return 0.1 + 0.9 * step / warm
    t = (step - warm) / max(1, total - warm)
    if train.schedule == "step":  # He et al. 2015 divide by 10 at 32k and 48k of 64k iterations
        return 1.0 if t < 0.5 else 0.1 if t < 0.75 else 0.01
    if train.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if train.schedule == "onecycle":
        return 0.04 + 0.96 * t / 0.3 if t < 0.3 else 0.5 * (1 + math.cos(math.pi * (t - 0.3) / 0.7))
    return 1.0


def make_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    if train.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=train.lr, momentum=train.momentum,
                           weight_decay=train.weight_decay, nesterov=False)


@dataclass
class _Run:
    """One model's training state inside a lockstep experiment."""

    name: str
    model: nn.Module  # what trains (maybe torch.compile'd)
    raw: ResNet  # the plain module: diagnostics, saving, evaluation
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None = None
    convs: tuple[tuple[str, ...], tuple[nn.Conv2d, ...]] = ((), ())  # every conv's name and module: gradient norms
    status: str = "running"
    message: str | None = None
    images: int = 0
    epochs: int = 0
    final: dict[str, float] | None = None
    sums: dict[str, Any] = field(default_factory=dict)  # loss, correct, count and grad norms over the epoch (tensors)


# ----------------------------------------------------------------------------- training
class Lockstep:
    """Train several models on the same batches. Use train_models() unless you need the pieces.

    Every argument is train_models's: checkpoint, resume, augment and on_epoch are given here or not at all.
    """

    def __init__(self, models: dict[str, ResNet], data: Dataset, train: TrainConfig,
                 callback: Callback | None = None, should_stop: Callable[[], bool] | None = None, *,
                 augment: bool | None = None, checkpoint: Checkpoint | None = None, resume: dict | None = None,
                 on_epoch: OnEpoch | None = None) -> None:
        from ..data.datasets import normalize
        self.train = train
        self.callback: Callback = callback or (lambda e: None)
        self.should_stop = should_stop or (lambda: False)
        self.augment = True if augment is None else bool(augment)
        self.checkpoint, self.resume, self.on_epoch = checkpoint, resume, on_epoch
        self._pool: ThreadPoolExecutor | None = None
        self.device = resolve_device(train.device)
        self.amp_dtype = resolve_precision(train.precision, self.device)
        self.data = data.to(self.device)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=train.label_smoothing)
        self.runs = [self._make_run(name, m) for name, m in models.items()]
        n = len(self.data.y_train)
        self.steps_per_epoch = math.ceil(n / train.batch_size)
        self.total_steps = train.steps or train.epochs * self.steps_per_epoch
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        self.step = 0
        self.train_time = 0.0
        self.started = time.time()
        probe_n = min(128, len(self.data.y_test))
        self.probe = normalize(self.data.x_test[:probe_n], self.data.preprocessing)
        self.stopped = False
        self._epoch_t0 = time.perf_counter()

    def _make_run(self, name: str, model: ResNet) -> _Run:
        model = model.to(self.device)
        trained: nn.Module = model  # what runs the steps: the model, or its torch.compile wrapper
        if self.device.type == "cuda":
            model.to(memory_format=torch.channels_last)  # in place, as Module.to always is
            trained = maybe_compile(model) if self.train.compile else model
        scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        return _Run(name, trained, model, make_optimizer(model, self.train), scaler,
                    (tuple(n for n, _ in convs), tuple(m for _, m in convs)))

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @property
    def active(self) -> list[_Run]:
        return [r for r in self.runs if r.status == "running"]

    def emit(self, event: Event) -> None:
        self.callback(event)

    # --------------------------------------------------------------- one step
    def _forward(self, run: _Run, x: torch.Tensor) -> torch.Tensor:
        """The training forward; a torch.compile'd model that fails to compile falls back to eager for good."""
        try:
            return run.model(x)
        except OUT_OF_MEMORY:
            raise
        except Exception:  # noqa: BLE001 - compilation errors surface at the first call, not at torch.compile
            if run.model is run.raw:
                raise
            run.model = run.raw
            return run.model(x)

    def _train_step(self, run: _Run, x: torch.Tensor, y: torch.Tensor, check: bool) -> float | None:
        run.model.train()
        with self._autocast():
            logits = self._forward(run, x)
            loss = self.criterion(logits.float(), y)
        if check and not torch.isfinite(loss).item():
            return float("nan")
        run.opt.zero_grad(set_to_none=True)
        if run.scaler is not None:
            run.scaler.scale(loss).backward()
            run.scaler.step(run.opt)
            run.scaler.update()
        else:
            loss.backward()
            if self.train.diagnostics:
                self._add_grad_norms(run)
            run.opt.step()
        s = run.sums
        s["loss"] = s.get("loss", 0.0) + loss.detach() * len(y)
        s["correct"] = s.get("correct", 0) + (logits.argmax(1) == y).sum()
        s["count"] = s.get("count", 0) + len(y)
        run.images += len(y)
        return None

    def _add_grad_norms(self, run: _Run) -> None:
        """Sum each conv's weight-gradient norm over the epoch on the device (no sync per step)."""
        norms = torch.stack([m.weight.grad.detach().norm() for m in run.convs[1] if m.weight.grad is not None])
        run.sums["grad"] = run.sums["grad"] + norms if "grad" in run.sums else norms
        run.sums["grad_steps"] = run.sums.get("grad_steps", 0) + 1

    def _diverge(self, run: _Run, message: str) -> None:
        run.status = "diverged"
        run.message = message
        self.emit(StatusEvent(run.name, "diverged", run.message, self.step, self.step / self.steps_per_epoch))

    def _set_lr(self) -> float:
        lr = self.train.lr * lr_factor(self.train, self.step, self.total_steps, self.steps_per_epoch)
        for run in self.active:
            for g in run.opt.param_groups:
                g["lr"] = lr
        return lr

    # --------------------------------------------------------------- CPU parallelism
    def _map(self, fn: Callable[[_Run], Any], runs: list[_Run]) -> list:
        """fn over the runs: on the CPU, side by side (devices.cpu_threads); elsewhere one after another."""
        if self._pool is None or len(runs) < 2:
            return [fn(r) for r in runs]
        return list(self._pool.map(fn, runs))

    # --------------------------------------------------------------- epochs
    def run(self) -> dict[str, RunResult]:
        """Train all models; returns each one's RunResult by name."""
        with cpu_threads(self.device, len(self.runs)) as pool:  # models side by side on the CPU's cores
            self._pool = pool
            try:
                return self._run()
            finally:
                self._pool = None

    def _run(self) -> dict[str, RunResult]:
        from ..data.datasets import train_batches
        self.emit(StartEvent(self.total_steps, self.epochs, str(self.device), str(self.amp_dtype or "fp32"),
                             tuple(r.name for r in self.runs)))
        gen = torch.Generator(device=self.device).manual_seed(self.train.seed)
        first = self._restore(self.resume, gen) + 1 if self.resume else 1
        if not self.resume:
            self._epoch_zero(gen)
        for epoch in range(first, self.epochs + 1):
            t0 = self._epoch_t0 = time.perf_counter()
            for x, y in train_batches(self.data, self.train.batch_size, gen, augment=self.augment):
                if self.step >= self.total_steps or not self.active:
                    break
                if self.should_stop():
                    self.stopped = True
                    break
                self._batch(x, y)
            self.train_time += time.perf_counter() - t0
            partial = self.stopped or self.step % self.steps_per_epoch != 0  # a cut-short last epoch is not counted
            self._end_epoch(epoch, partial=partial)
            if self.stopped or not self.active or self.step >= self.total_steps:
                break
            if self.checkpoint is not None:
                self.checkpoint(self.state(epoch, gen))
        return self._results()

    # --------------------------------------------------------------- resume
    def state(self, epoch: int, gen: torch.Generator) -> dict:
        """Everything the next epoch depends on, after a completed epoch: weights, optimiser and scaler state,
        the step (the schedule's position), the batch generator (the data order) and torch's RNG, per-run results."""
        runs = {r.name: {"model": {k: v.detach().cpu() for k, v in r.raw.state_dict().items()},
                         "opt": r.opt.state_dict(), "scaler": r.scaler.state_dict() if r.scaler else None,
                         "status": r.status, "message": r.message, "images": r.images, "epochs": r.epochs,
                         "final": r.final} for r in self.runs}
        return {"format": "resnet-explorer-resume/1", "epoch": epoch, "step": self.step,
                "train_time": self.train_time, "gen": gen.get_state(), "torch_rng": torch.get_rng_state(),
                "runs": runs}

    def _restore(self, state: dict, gen: torch.Generator) -> int:
        """Load a `state()` (the epoch it was taken after is returned): training goes on as if never stopped."""
        if set(state.get("runs", {})) != {r.name for r in self.runs}:
            raise EngineError("The saved state does not match this experiment's models; it cannot be resumed.")
        for run in self.runs:
            saved = state["runs"][run.name]
            run.raw.load_state_dict(saved["model"])
            run.opt.load_state_dict(saved["opt"])
            if run.scaler is not None and saved.get("scaler"):
                run.scaler.load_state_dict(saved["scaler"])
            run.status, run.message, run.images = saved["status"], saved["message"], saved["images"]
            run.epochs, run.final = saved["epochs"], saved["final"]
        self.step, self.train_time = int(state["step"]), float(state["train_time"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        return int(state["epoch"])

    def _batch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        lr = self._set_lr()
        self.step += 1
        check = self.device.type == "cpu" or self.step % self.train.log_every == 0
        active = self.active
        for run, bad in zip(active, self._map(lambda r: self._train_step(r, x, y, check), active), strict=True):
            if bad is not None:
                self._diverge(run, _("The loss became NaN or infinite at step {step}; this run stopped there "
                                     "(the others go on).").format(step=self.step))
        if self.step % self.train.log_every == 0 or self.step == 1:
            self._emit_steps(lr)

    def _emit_steps(self, lr: float) -> None:
        for run in self.active:
            s = run.sums
            count = max(1, s.get("count", 1))
            loss = float(s["loss"]) / count
            if not math.isfinite(loss):
                self._diverge(run, _("The loss became NaN or infinite by step {step}; this run stopped there "
                                     "(the others go on).").format(step=self.step))
                continue
            self.emit(StepEvent(run.name, self.step, self.step / self.steps_per_epoch, loss,
                                1.0 - float(s["correct"]) / count, lr, time.time()))
        trained = self.train_time + time.perf_counter() - self._epoch_t0  # training time so far, evaluation excluded
        images = max((r.images for r in self.runs), default=0)
        self.emit(ProgressEvent(self.step, self.total_steps, self.step / self.steps_per_epoch, self.epochs,
                                time.time() - self.started, self._eta(), images / max(trained, 1e-9)))

    def _eta(self) -> float | None:
        if self.step == 0:
            return None
        per_step = (time.time() - self.started) / self.step
        return per_step * (self.total_steps - self.step)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        """(test loss, test error) over the whole test set, in eval mode."""
        from ..data.datasets import test_batches
        model.eval()
        loss_sum, wrong, count = 0.0, 0, 0
        for x, y in test_batches(self.data, max(256, self.train.batch_size)):
            with self._autocast():
                logits = model(x).float()
            loss_sum += float(self.criterion(logits, y)) * len(y)
            wrong += int((logits.argmax(1) != y).sum())
            count += len(y)
        return loss_sum / max(1, count), wrong / max(1, count)

    def _epoch_zero(self, gen: torch.Generator) -> None:
        """Before the first step: gradient norms on the first batch (how large the gradient is at each layer of
        the untrained net), residual-branch ratios, and the untrained test error."""
        from ..data.datasets import train_batches
        if not self.train.diagnostics:
            return
        x, y = next(iter(train_batches(self.data, self.train.batch_size, _clone(gen), augment=False)))
        for event in self._map(lambda r: self._untrained_look(r, x, y), self.runs):  # side by side on the CPU
            self.emit(event)

    def _untrained_look(self, run: _Run, x: torch.Tensor, y: torch.Tensor) -> EpochEvent:  # one model's epoch 0
        model = run.raw
        buffers = {k: v.clone() for k, v in model.named_buffers()}  # this look must not move BN statistics
        model.train()
        model.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.criterion(model(x).float(), y)
        loss.backward()
        with torch.no_grad():
            for k, v in model.named_buffers():
                v.copy_(buffers[k])
        grads = diagnostics.conv_grad_norms(model)
        model.zero_grad(set_to_none=True)
        test_loss, test_error = self.evaluate(model)
        return EpochEvent(run.name, 0, 0, None, None, test_loss, test_error, elapsed=0.0, images_per_second=None,
                          grad_norms=grads, branch_ratios=diagnostics.branch_ratios(model, self.probe))

    def _end_epoch(self, epoch: int, partial: bool) -> None:
        ready = []
        for run in self.active:
            if not run.sums.get("count"):  # a stop right at an epoch boundary: no step in this epoch, nothing to record
                continue
            if not math.isfinite(float(run.sums["loss"])):
                self._diverge(run, _("The loss became NaN or infinite in epoch {epoch}; this run stopped there (the "
                                            "others go on).").format(epoch=epoch))
                continue
            ready.append(run)
        looks = self._map(lambda r: (self.evaluate(r.raw), self._ratios(r)), ready)  # side by side on the CPU
        for run, ((test_loss, test_error), ratios) in zip(ready, looks, strict=True):
            count = run.sums["count"]
            run.final = {"train_loss": float(run.sums["loss"]) / count,
                         "train_error": 1.0 - float(run.sums.get("correct", 0)) / count,
                         "test_loss": test_loss, "test_error": test_error}
            record = self._epoch_record(run, epoch, run.final, partial, ratios)
            run.epochs = run.epochs if partial else epoch
            run.sums = {}
            self.emit(record)
            if not partial and self.on_epoch is not None:
                self.on_epoch(run.name, epoch, run.raw)  # e.g. a weight snapshot for the optimiser's path

    def _ratios(self, run: _Run) -> dict | None:  # residual-branch ratios at an epoch's end, with diagnostics on
        return diagnostics.branch_ratios(run.raw, self.probe) if run.sums.get("grad_steps") else None

    def _epoch_record(self, run: _Run, epoch: int, final: dict[str, float], partial: bool,
                      ratios: dict | None) -> EpochEvent:
        s = run.sums
        grads = None
        if self.train.diagnostics and s.get("grad_steps"):
            grads = dict(zip(run.convs[0], (s["grad"] / s["grad_steps"]).tolist(), strict=True))
        return EpochEvent(run.name, epoch, self.step, final["train_loss"], final["train_error"], final["test_loss"],
                          final["test_error"], elapsed=time.time() - self.started,
                          images_per_second=run.images / max(self.train_time, 1e-9), lr=run.opt.param_groups[0]["lr"],
                          eta=self._eta(), grad_norms=grads, branch_ratios=ratios, partial=partial)

    def _results(self) -> dict[str, RunResult]:
        out = {}
        for run in self.runs:
            if run.status == "running":
                run.status = "stopped" if self.stopped else "completed"
            out[run.name] = RunResult(run.status, run.epochs, run.final, run.images / max(self.train_time, 1e-9),
                                      run.message, run.raw)
        self.emit(EndEvent(self.stopped, self.train_time, {n: r.status for n, r in out.items()}))
        return out


def _clone(gen: torch.Generator) -> torch.Generator:
    g = torch.Generator(device=gen.device)
    g.set_state(gen.get_state())
    return g


def train_models(models: dict[str, ResNet], data: Dataset, train: TrainConfig, callback: Callback | None = None,
                 should_stop: Callable[[], bool] | None = None, augment: bool | None = None,
                 checkpoint: Checkpoint | None = None, resume: dict | None = None,
                 on_epoch: OnEpoch | None = None) -> dict[str, RunResult]:
    """Train named models in place, in lockstep on `data` (an explorer.data.datasets.Dataset).

    callback(event) gets each typed event (explorer.training.events) as it happens.
    checkpoint(state) is called after each completed epoch but the last with `Lockstep.state`; `resume` (such a
    state) continues from that epoch, and the metrics that follow equal an uninterrupted run's (CPU, same seed).
    on_epoch(name, epoch, model), if given, is called after each completed epoch of each model (the worker saves
    weight snapshots there, for the optimiser's path).

    Returns {name: RunResult}. Raises EngineError for out-of-memory and bad devices.
    """
    trainer = Lockstep(models, data, train, callback, should_stop, augment=augment, checkpoint=checkpoint,
                       resume=resume, on_epoch=on_epoch)
    try:
        return trainer.run()
    except OUT_OF_MEMORY as exc:
        raise EngineError(_("The device ran out of memory; lower the batch size (or pick a smaller net).")) from exc
