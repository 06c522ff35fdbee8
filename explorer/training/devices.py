"""Where training runs: the device (CUDA, Apple MPS, CPU), the autocast precision, torch.compile.

Size budget: ~80 lines.
"""
from __future__ import annotations

from typing import cast

import torch
from torch import nn


class EngineError(RuntimeError):
    """A failure that ends the whole experiment, with one sentence for the user."""


def resolve_device(name: str = "auto") -> torch.device:
    """auto -> cuda, then mps, then cpu; an unavailable explicit device raises EngineError."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise EngineError("device 'cuda' was asked for, but no CUDA GPU is available here; use auto or cpu.")
    if name == "mps" and not has_mps:
        raise EngineError("device 'mps' was asked for, but Apple's MPS is not available here; use auto or cpu.")
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
