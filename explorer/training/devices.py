"""Where training runs: the device (CUDA, Apple MPS, CPU), the autocast precision, torch.compile.

Size budget: ~110 lines.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import torch
from torch import nn

from ..cpu import jobs_at_once, plan_cpu, report, usable_cores
from ..i18n import _


class EngineError(RuntimeError):
    """A failure that ends the whole experiment, with one sentence for the user."""


def resolve_device(name: str = "auto") -> torch.device:
    """auto -> cuda, then mps, then cpu; an unavailable explicit device raises EngineError."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise EngineError(_("device 'cuda' was asked for, but no CUDA GPU is available here; use auto or cpu."))
    if name == "mps" and not has_mps:
        raise EngineError(_("device 'mps' was asked for, but Apple's MPS is not available here; use auto or cpu."))
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for fp32. auto: bf16 on a CUDA card that supports it, else fp32."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # torch < 2.5 has only the cuda one


def maybe_compile(model: nn.Module) -> nn.Module:
    """torch.compile on CUDA when it works; the plain module otherwise (compilation is an optimisation only)."""
    try:
        return cast(nn.Module, torch.compile(model))  # a Module in, an OptimizedModule (a Module) out
    except Exception:  # noqa: BLE001 - any compiler failure falls back to eager
        return model


@contextlib.contextmanager
def cpu_threads(device: torch.device, models: int) -> Iterator[ThreadPoolExecutor | None]:
    """torch's threads for a lockstep experiment, and a pool that trains its models side by side (None: one after
    another), while the block runs; torch's thread count is restored after it.

    Small nets gain little from several threads inside one op, but lockstep models are independent: on the CPU they
    train side by side, one model per core and one thread per op, within the job's share of the cores
    (explorer.cpu.plan_cpu: cores // EXPLORER_MAX_JOBS; a single model gets the whole share as threads).
    OMP_NUM_THREADS, when set, fixes the threads; EXPLORER_CPU_PARALLEL=0 turns side by side off (ops then use
    torch's threads: same seed, same results, but not bit-equal to the pooled run). Other devices: no pool.
    """
    if device.type != "cpu":
        yield None
        return
    plan = plan_cpu(usable_cores(), jobs_at_once(), models, busy=0.0)  # the load decides waiting, never threads
    if os.environ.get("EXPLORER_CPU_PARALLEL") == "0":
        plan = dataclasses.replace(plan, side_by_side=1, threads=torch.get_num_threads())
    before = torch.get_num_threads()
    if not os.environ.get("OMP_NUM_THREADS", "").isdigit():
        torch.set_num_threads(plan.threads)
    report(dataclasses.replace(plan, threads=torch.get_num_threads()))  # the job's log says how it used the CPU
    pool = ThreadPoolExecutor(plan.side_by_side, "lockstep") if plan.side_by_side > 1 else None
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown()
        torch.set_num_threads(before)
