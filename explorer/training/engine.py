"""Lockstep training: every model of an experiment sees the same batches, in the same order, with the
same augmentation; twins start from the same weights. The only difference on the chart is the architecture.

Events go to a callback as plain dicts (no UI here); a stop request is polled between batches.
Size budget: ~400 lines.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from ..analysis import diagnostics
from ..nets.builder import build_model, copy_matching_weights, zero_init_branches
from ..nets.config import ModelConfig
from .devices import OUT_OF_MEMORY, EngineError, maybe_compile, resolve_device, resolve_precision
from .recipes import TrainConfig

Callback = Optional[Callable[[dict], None]]


# ----------------------------------------------------------------------------- models
def _lineage(cfg: ModelConfig) -> tuple:
    """Models with the same lineage share initial weights wherever names and shapes match (twins)."""
    return (cfg.family, cfg.block, cfg.blocks_per_stage, cfg.width, cfg.norm, cfg.init,
            cfg.in_channels, cfg.input_size, cfg.num_classes)


def build_models(named_cfgs, seed: int) -> dict:
    """Build each named model; twins (same depth, width, ...) start from identical weights.

    The reference weights come from the first config of each lineage with zero-init off, so a plain
    twin never inherits a zeroed branch; zero-init is then applied where a config asks for it.
    """
    models, references = {}, {}
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
    raw: nn.Module  # the plain module: diagnostics, saving, evaluation
    opt: torch.optim.Optimizer
    scaler: object = None
    convs: tuple = ()  # (names, modules) of every conv, for per-step gradient norms
    status: str = "running"
    message: str | None = None
    images: int = 0
    epochs: int = 0
    final: dict | None = None
    sums: dict = field(default_factory=dict)  # loss, correct, count and grad norms over the epoch (tensors)


# ----------------------------------------------------------------------------- training
class Lockstep:
    """Train several models on the same batches. Use train_models() unless you need the pieces."""

    def __init__(self, models: dict, data, train: TrainConfig, callback: Callback = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        from ..data.datasets import normalize
        self.train, self.callback = train, callback or (lambda e: None)
        self.should_stop = should_stop or (lambda: False)
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
        self.on_epoch: Callable[[str, int, nn.Module], None] | None = None

    def _make_run(self, name: str, model: nn.Module) -> _Run:
        model = model.to(self.device)
        trained = model
        if self.device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
            trained = maybe_compile(model) if self.train.compile else model
        scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        return _Run(name, trained, model, make_optimizer(model, self.train), scaler,
                    (tuple(n for n, _ in convs), tuple(m for _, m in convs)))

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @property
    def active(self) -> list:
        return [r for r in self.runs if r.status == "running"]

    def emit(self, event: dict) -> None:
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

    def _diverge(self, run: _Run, where: str) -> None:
        run.status = "diverged"
        run.message = f"The loss became NaN or infinite {where}; this run stopped there (the others go on)."
        self.emit({"type": "status", "run": run.name, "status": "diverged", "message": run.message,
                   "step": self.step, "epoch": self.step / self.steps_per_epoch})

    def _set_lr(self) -> float:
        lr = self.train.lr * lr_factor(self.train, self.step, self.total_steps, self.steps_per_epoch)
        for run in self.active:
            for g in run.opt.param_groups:
                g["lr"] = lr
        return lr

    # --------------------------------------------------------------- CPU parallelism
    def _map(self, fn, runs: list) -> list:
        """fn over the runs: on the CPU, one model per core (see _cpu_pool); elsewhere one after another."""
        pool = getattr(self, "_pool", None)
        if pool is None or len(runs) < 2:
            return [fn(r) for r in runs]
        return list(pool.map(fn, runs))

    @contextlib.contextmanager
    def _cpu_pool(self):
        """Small nets gain little from several threads inside one op, but lockstep models are independent:
        on the CPU, train them side by side, one model per core and one thread per op (docs/benchmarks.md).
        EXPLORER_CPU_PARALLEL=0 turns it off (ops then use torch's threads: same seed, same results,
        but not bit-equal to the pooled run)."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = min(cores, len(self.runs))
        if self.device.type != "cpu" or workers < 2 or os.environ.get("EXPLORER_CPU_PARALLEL") == "0":
            yield
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="lockstep")
        try:
            yield
        finally:
            self._pool.shutdown()
            self._pool = None
            torch.set_num_threads(threads)

    # --------------------------------------------------------------- epochs
    def run(self) -> dict:
        """Train all models; returns {name: {"status", "epochs", "final", "images", "message"}}."""
        with self._cpu_pool():
            return self._run()

    def _run(self) -> dict:
        from ..data.datasets import train_batches
        self.emit({"type": "start", "total_steps": self.total_steps, "epochs": self.epochs,
                   "device": str(self.device), "precision": str(self.amp_dtype or "fp32"),
                   "runs": [r.name for r in self.runs]})
        gen = torch.Generator(device=self.device).manual_seed(self.train.seed)
        resume = getattr(self, "resume", None)
        first = self._restore(resume, gen) + 1 if resume else 1
        if not resume:
            self._epoch_zero(gen)
        for epoch in range(first, self.epochs + 1):
            t0 = self._epoch_t0 = time.perf_counter()
            for x, y in train_batches(self.data, self.train.batch_size, gen, augment=self.train_augment):
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
            if getattr(self, "checkpoint", None) is not None:
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

    @property
    def train_augment(self) -> bool:
        aug = getattr(self, "augment", None)
        return True if aug is None else bool(aug)

    def _batch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        lr = self._set_lr()
        self.step += 1
        check = self.device.type == "cpu" or self.step % self.train.log_every == 0
        active = self.active
        for run, bad in zip(active, self._map(lambda r: self._train_step(r, x, y, check), active)):
            if bad is not None:
                self._diverge(run, f"at step {self.step}")
        if self.step % self.train.log_every == 0 or self.step == 1:
            self._emit_steps(lr)

    def _emit_steps(self, lr: float) -> None:
        for run in self.active:
            s = run.sums
            count = max(1, s.get("count", 1))
            loss = float(s["loss"]) / count
            if not math.isfinite(loss):
                self._diverge(run, f"by step {self.step}")
                continue
            self.emit({"type": "step", "run": run.name, "step": self.step,
                       "epoch": self.step / self.steps_per_epoch, "train_loss": loss,
                       "train_error": 1.0 - float(s["correct"]) / count, "lr": lr, "time": time.time()})
        trained = self.train_time + time.perf_counter() - self._epoch_t0  # training time so far, evaluation excluded
        images = max((r.images for r in self.runs), default=0)
        self.emit({"type": "progress", "step": self.step, "total_steps": self.total_steps,
                   "epoch": self.step / self.steps_per_epoch, "epochs": self.epochs,
                   "elapsed": time.time() - self.started, "eta": self._eta(),
                   "images_per_second": images / max(trained, 1e-9)})

    def _eta(self) -> float | None:
        if self.step == 0:
            return None
        per_step = (time.time() - self.started) / self.step
        return per_step * (self.total_steps - self.step)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> tuple:
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
        for run in self.runs:
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
            self.emit({"type": "epoch", "run": run.name, "epoch": 0, "step": 0, "train_loss": None,
                       "train_error": None, "test_loss": test_loss, "test_error": test_error, "grad_norms": grads,
                       "branch_ratios": diagnostics.branch_ratios(model, self.probe),
                       "elapsed": 0.0, "images_per_second": None})

    def _end_epoch(self, epoch: int, partial: bool) -> None:
        ready = []
        for run in self.active:
            if not run.sums.get("count"):  # a stop right at an epoch boundary: no step in this epoch, nothing to record
                continue
            if not math.isfinite(float(run.sums["loss"])):
                self._diverge(run, f"in epoch {epoch}")
                continue
            ready.append(run)
        for run, (test_loss, test_error) in zip(ready, self._map(lambda r: self.evaluate(r.raw), ready)):
            s = run.sums
            count = s["count"]
            train_loss = float(s["loss"]) / count
            record = {"type": "epoch", "run": run.name, "epoch": epoch, "step": self.step,
                      "train_loss": train_loss, "train_error": 1.0 - float(s.get("correct", 0)) / count,
                      "test_loss": test_loss, "test_error": test_error, "lr": run.opt.param_groups[0]["lr"],
                      "elapsed": time.time() - self.started, "eta": self._eta(),
                      "images_per_second": run.images / max(self.train_time, 1e-9)}
            if partial:
                record["partial"] = True
            if self.train.diagnostics and s.get("grad_steps"):
                mean = (s["grad"] / s["grad_steps"]).tolist()
                record["grad_norms"] = dict(zip(run.convs[0], mean))
                record["branch_ratios"] = diagnostics.branch_ratios(run.raw, self.probe)
            if not partial:
                run.epochs = epoch
            run.final = {k: record[k] for k in ("train_loss", "train_error", "test_loss", "test_error")}
            run.sums = {}
            self.emit(record)
            if not partial and self.on_epoch is not None:
                self.on_epoch(run.name, epoch, run.raw)  # e.g. a weight snapshot for the optimiser's path

    def _results(self) -> dict:
        out = {}
        for run in self.runs:
            if run.status == "running":
                run.status = "stopped" if self.stopped else "completed"
            out[run.name] = {"status": run.status, "epochs": run.epochs, "final": run.final,
                             "images_per_second": run.images / max(self.train_time, 1e-9),
                             "message": run.message, "model": run.raw}
        self.emit({"type": "end", "stopped": self.stopped, "train_time": self.train_time,
                   "statuses": {n: r["status"] for n, r in out.items()}})
        return out


def _clone(gen: torch.Generator) -> torch.Generator:
    g = torch.Generator(device=gen.device)
    g.set_state(gen.get_state())
    return g


def train_models(models: dict, data, train: TrainConfig, callback: Callback = None,
                 should_stop: Callable[[], bool] | None = None, augment: bool | None = None,
                 checkpoint: Callable[[dict], None] | None = None, resume: dict | None = None,
                 on_epoch: Callable[[str, int, nn.Module], None] | None = None) -> dict:
    """Train named models in place, in lockstep on `data` (an explorer.data.Dataset).

    checkpoint(state) is called after each completed epoch but the last with `Lockstep.state`; `resume` (such a
    state) continues from that epoch, and the metrics that follow equal an uninterrupted run's (CPU, same seed).
    on_epoch(name, epoch, model), if given, is called after each completed epoch of each model (the worker saves
    weight snapshots there, for the optimiser's path).

    Returns {name: {"status", "epochs", "final": {train_loss, train_error, test_loss, test_error},
    "images_per_second", "message", "model"}}. Raises EngineError for out-of-memory and bad devices.
    """
    trainer = Lockstep(models, data, train, callback, should_stop)
    trainer.augment, trainer.checkpoint, trainer.resume = augment, checkpoint, resume
    trainer.on_epoch = on_epoch
    try:
        return trainer.run()
    except OUT_OF_MEMORY as exc:
        raise EngineError("The device ran out of memory; lower the batch size (or pick a smaller net).") from exc
