"""Each caller's model gets one eval-mode copy to explain, kept while the model lives and refreshed with its
current weights on each use: the caller's model, possibly one being trained, is never touched. A copy's activation
profile (explorer.nets.memory) is counted once per input shape and kept with it.
"""
from __future__ import annotations

import contextlib
import copy
import threading
import weakref
from collections.abc import Iterator

import torch
from torch import nn

from ..nets.memory import ActivationProfile, activation_profile


class _Copy:
    """One caller's model's eval-mode copy, kept while that model lives; `lock` marks it in use."""

    def __init__(self, model: nn.Module, fingerprint: tuple) -> None:
        self.work, self.fingerprint, self.lock = _fresh_copy(model), fingerprint, threading.Lock()


# caller's model -> _Copy (dropped when the model is garbage)
_COPIES: weakref.WeakKeyDictionary[nn.Module, _Copy] = weakref.WeakKeyDictionary()
_COPIES_LOCK = threading.Lock()


@contextlib.contextmanager
def borrowed_copy(model: nn.Module) -> Iterator[nn.Module]:
    """An eval-mode copy of the model holding its current weights, never the model itself.

    Deep-copying a net costs more than one map of a small net (ResNet-20: tens of milliseconds), so each
    model keeps one copy, and its parameters and buffers are copied in on every call (cheap). A copy whose
    modules or tensor shapes no longer match the model's is rebuilt; one busy in another thread is not
    shared: that caller gets a fresh copy of its own.
    """
    with torch.inference_mode(False):  # a copy made under inference mode could never be refreshed outside it
        fingerprint = _fingerprint(model)
        with _COPIES_LOCK:
            entry = _COPIES.get(model)
        if entry is None or entry.fingerprint != fingerprint:
            entry = _Copy(model, fingerprint)
            with _COPIES_LOCK:
                _COPIES[model] = entry
        if not entry.lock.acquire(blocking=False):
            yield _fresh_copy(model)
            return
        try:
            _refresh(entry.work, model)
            yield entry.work
        finally:
            entry.lock.release()


def _fresh_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode, weights frozen (only input gradients are needed), no hooks of the caller's."""
    work = copy.deepcopy(model)
    work.eval()
    work.requires_grad_(False)  # no weight gradients: faster, and captum only differentiates w.r.t. x
    for module in work.modules():
        # The copy inherits the caller's hooks (e.g. a trainer's activation recorders); they must not fire here.
        for hooks in (module._forward_hooks, module._forward_pre_hooks, module._backward_hooks):
            hooks.clear()
    return work


def _fingerprint(model: nn.Module) -> tuple:
    """What must match for a kept copy to stand for the model: module types, tensor names/shapes/kinds."""
    modules = tuple((name, type(module)) for name, module in model.named_modules())
    tensors = tuple((name, t.shape, t.dtype, t.device) for name, t in _named_tensors(model))
    return modules, tensors


def _named_tensors(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return list(model.named_parameters()) + list(model.named_buffers())


def _refresh(work: nn.Module, model: nn.Module) -> None:
    """Copy the model's current parameters and buffers (e.g. BN running statistics) into its copy."""
    with torch.no_grad():
        for (_, mine), (_, theirs) in zip(_named_tensors(work), _named_tensors(model), strict=True):
            mine.copy_(theirs)


# copy -> {input shape: its activation profile}; a copy is rebuilt (and so counted again) when its model's
# structure changes
_PROFILES: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, ...], ActivationProfile]] = \
    weakref.WeakKeyDictionary()
_PROFILES_LOCK = threading.Lock()


def copy_profile(work: nn.Module, shape: tuple[int, ...]) -> ActivationProfile:
    """An explanation's activation profile for the copy at this input shape, counted on the meta device once."""
    with _PROFILES_LOCK:
        known = _PROFILES.get(work, {}).get(shape)
    if known is None:
        known = activation_profile(work, shape)
        with _PROFILES_LOCK:
            _PROFILES.setdefault(work, {})[shape] = known
    return known
