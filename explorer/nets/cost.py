"""What a network would cost before it is built: parameters and mult-adds, counted on the meta device.

The meta device gives every tensor a shape and no memory, so a config's net is built and run once to
count its convolutions' and linear layers' work without allocating a weight or an activation. Callers
check a config with `check_model_cost` before building it for real (explorer.nets.caps states the caps).
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from .builder import build_model, count_parameters
from .caps import MAX_MULT_ADDS, MAX_PARAMS
from .config import ModelConfig


@lru_cache(maxsize=256)
def model_cost(cfg: ModelConfig) -> dict:
    """Parameters and mult-adds of one forward pass on one image, without allocating the model.

    Args:
        cfg: the network (depth and input size are already within explorer.nets.caps by ModelConfig).
    Returns:
        {"params": int, "mult_adds": int}: mult-adds of every conv and linear layer at batch size 1.
    """
    with torch.device("meta"):
        model = build_model(cfg).eval()
    macs = []

    def count(module, inputs, output) -> None:
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            macs.append(output.numel() * k)
        elif isinstance(module, nn.Linear):
            macs.append(output.numel() * module.in_features)

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.empty(1, cfg.in_channels, cfg.input_size, cfg.input_size, device="meta"))
    for h in hooks:
        h.remove()
    return {"params": count_parameters(model), "mult_adds": int(sum(macs))}


def check_model_cost(cfg: ModelConfig) -> dict:
    """model_cost(cfg), or a ValueError with one sentence when it is over explorer.nets.caps' limits.

    Returns:
        {"params", "mult_adds"} of a net this server may build.
    """
    cost = model_cost(cfg)
    if cost["params"] > MAX_PARAMS:
        raise ValueError(f"{cfg.name} at width {cfg.width:g} would have {cost['params'] / 1e6:,.0f} M parameters; "
                         f"this server builds nets of up to {MAX_PARAMS / 1e6:.0f} M.")
    if cost["mult_adds"] > MAX_MULT_ADDS:
        raise ValueError(f"{cfg.name} on {cfg.input_size}×{cfg.input_size} images would need "
                         f"{cost['mult_adds'] / 1e9:,.0f} G mult-adds per image; this server allows up to "
                         f"{MAX_MULT_ADDS / 1e9:.0f} G.")
    return cost
