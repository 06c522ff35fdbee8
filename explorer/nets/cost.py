"""What a network would cost before it is built: parameters, mult-adds and training memory, on the meta device.

The meta device gives every tensor a shape and no memory, so a config's net is built and run once to
count its convolutions' and linear layers' work without allocating a weight or an activation. Callers
check a config with `check_model_cost` before building it for real (explorer.nets.caps states the caps), and a
training job's models with `check_training_memory` (explorer.nets.memory counts what a training step keeps).
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from functools import lru_cache

import torch
from torch import nn

from ..i18n import _, decimal
from .builder import count_parameters, meta_model
from .caps import MAX_MULT_ADDS, MAX_PARAMS, job_activation_cap
from .config import ModelConfig
from .memory import ActivationProfile, activation_profile, human_bytes

_META_LOCK = threading.Lock()  # the meta models are shared: one pass (hooks, train mode) at a time


@lru_cache(maxsize=8)
def _meta_model(cfg: ModelConfig) -> nn.Module:  # shared by the counts below (their hooks take _META_LOCK)
    return meta_model(cfg)


@lru_cache(maxsize=256)
def _params(cfg: ModelConfig) -> int:
    return count_parameters(_meta_model(cfg))


@lru_cache(maxsize=256)
def _mult_adds(cfg: ModelConfig) -> int:
    """Mult-adds of every conv and linear layer in one forward pass of one image, run on the meta device."""
    model, macs = _meta_model(cfg), []

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            macs.append(output.numel() * k)
        elif isinstance(module, nn.Linear):
            macs.append(output.numel() * module.in_features)

    with _META_LOCK:
        hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        try:
            with torch.no_grad():
                model(torch.empty(1, cfg.in_channels, cfg.input_size, cfg.input_size, device="meta"))
        finally:
            for h in hooks:
                h.remove()
    return int(sum(macs))


@lru_cache(maxsize=64)
def _training_profile(cfg: ModelConfig) -> ActivationProfile:
    with _META_LOCK:
        return activation_profile(_meta_model(cfg), (cfg.in_channels, cfg.input_size, cfg.input_size), train=True)


def model_cost(cfg: ModelConfig) -> dict:
    """Parameters and mult-adds of one forward pass on one image, without allocating the model.

    Args:
        cfg: the network (depth and input size are already within explorer.nets.caps by ModelConfig).
    Returns:
        {"params": int, "mult_adds": int}: mult-adds of every conv and linear layer at batch size 1.
    """
    return {"params": _params(cfg), "mult_adds": _mult_adds(cfg)}


def check_model_cost(cfg: ModelConfig) -> dict:
    """model_cost(cfg), or a ValueError with one sentence when it is over explorer.nets.caps' limits.

    The parameters are counted first: a net over that cap is refused without running even on the meta device.
    Returns:
        {"params", "mult_adds"} of a net this server may build.
    """
    params = _params(cfg)
    if params > MAX_PARAMS:
        raise ValueError(_("This net ({name} at width {width}) would have {millions} M parameters; this server "
                           "builds nets of up to {most} M.").format(
            name=cfg.name, width=f"{cfg.width:g}", millions=decimal(params / 1e6, 0),
            most=decimal(MAX_PARAMS / 1e6, 0)))
    mult_adds = _mult_adds(cfg)
    if mult_adds > MAX_MULT_ADDS:
        raise ValueError(_("This net ({name} on {size}×{size} images) would need {billions} G mult-adds per image; "
                           "this server allows up to {most} G.").format(
            name=cfg.name, size=cfg.input_size, billions=decimal(mult_adds / 1e9, 0),
            most=decimal(MAX_MULT_ADDS / 1e9, 0)))
    return {"params": params, "mult_adds": mult_adds}


def training_memory(cfgs: Iterable[ModelConfig], batch_size: int) -> int:
    """Estimated peak bytes of one training step of these models together (a job trains its models in lockstep,
    possibly at once): each one's activations kept for the backward pass at `batch_size` images, the gradient in
    flight, and its weights' gradients and momentum; counted on the meta device (explorer.nets.memory)."""
    return sum(_training_profile(cfg).backward_bytes(batch_size) for cfg in cfgs)


def check_training_memory(cfgs: Iterable[ModelConfig], batch_size: int) -> int:
    """training_memory(cfgs, batch_size), or a ValueError with one sentence when it is over the per-job cap
    (explorer.nets.caps.job_activation_cap: MAX_JOB_ACTIVATION_BYTES or EXPLORER_JOB_ACTIVATION_MB)."""
    cfgs = list(cfgs)
    for cfg in cfgs:
        check_model_cost(cfg)  # a net over the size caps is refused before its memory is counted
    need, cap = training_memory(cfgs, batch_size), job_activation_cap()
    if need > cap:
        names = functools.reduce(lambda a, b: _("{first} and {second}").format(first=a, second=b),
                                 [cfg.name for cfg in cfgs]) if len(cfgs) <= 3 else \
            _("these {n} models").format(n=len(cfgs))
        raise ValueError(_("Training {names} on batches of {batch} images would need about {need} of memory, and a "
                           "job may use {cap} here: use a smaller batch, fewer layers or a narrower net.").format(
            names=names, batch=batch_size, need=human_bytes(need), cap=human_bytes(cap)))
    return need
