"""A network in words, from its config: the text description of the Build page's block diagram (issue 23).

Computed from the ModelConfig alone (no model is built): stages, units per stage, widths, the shortcut, where BN
and ReLU sit in a unit, the head and the weighted-layer count as He et al. 2015 count them.
"""
from __future__ import annotations

from .blocks import BLOCKS, PLACEMENTS
from .builder import CIFAR_WIDTHS, IMAGENET_WIDTHS
from .config import ModelConfig

_SHORTCUTS = {
    "none": "no shortcuts (the plain net: nothing is added back)",
    "A": "identity shortcuts (option A: zero-padding where the width doubles)",
    "B": "identity shortcuts (option B: a 1×1 projection where the shape changes)",
    "C": "1×1 projection shortcuts on every unit (option C)",
}
_OPS = {"bn": "BN", "relu": "ReLU"}


def _numbers(values: tuple[int, ...] | list[int]) -> str:
    return ", ".join(map(str, values))


def unit_ops(cfg: ModelConfig) -> str:
    """One unit's operations in order, e.g. "3×3 conv, BN, ReLU, 3×3 conv, BN, add the shortcut, ReLU"."""
    p = PLACEMENTS[cfg.placement]
    kernels = ("1×1", "3×3", "1×1") if cfg.block == "bottleneck" else ("3×3", "3×3")
    ops: list[str] = []
    for i, k in enumerate(kernels, start=1):
        ops += [_OPS[o] for o in p.pre if cfg.norm != "none" or o != "bn"]
        ops.append(f"{k} conv")
        ops += [_OPS[o] for o in (p.last if i == len(kernels) else p.post) if cfg.norm != "none" or o != "bn"]
    if not cfg.is_plain:
        ops.append("add the shortcut")
    ops += [_OPS[o] for o in p.after_add if cfg.norm != "none" or o != "bn"]
    return ", ".join(ops)


def describe_network(cfg: ModelConfig) -> str:
    """The net in two or three sentences, e.g. "resnet-20: a 3×3 conv, then 3 stages of 3 basic units (16, 32, 64
    channels) with identity shortcuts (option A: zero-padding where the width doubles), global average pooling and
    a 10-way fully connected layer: 20 weighted layers. Each unit: 3×3 conv, BN, ReLU, 3×3 conv, BN, add the
    shortcut, ReLU. It takes 3×32×32 images."
    """
    base = IMAGENET_WIDTHS if cfg.family == "imagenet" else CIFAR_WIDTHS
    widths = [max(1, round(w * cfg.width)) for w in base]
    blocks = cfg.blocks_per_stage
    norm = cfg.norm != "none"
    stem = ("a 7×7 conv with stride 2" + (", BN, ReLU" if norm else ", ReLU") + " and a 3×3 max-pool"
            if cfg.family == "imagenet" else "a 3×3 conv" + (", BN and ReLU" if norm else " and ReLU"))
    per_stage = str(blocks[0]) if len(set(blocks)) == 1 else _numbers(blocks)
    kind = "bottleneck" if cfg.block == "bottleneck" else "basic"
    channels = f"{_numbers(widths)} channels"
    if cfg.block == "bottleneck":
        expansion = BLOCKS[cfg.block].expansion
        channels += f" inside, {_numbers([w * expansion for w in widths])} out"
    final = [_OPS[o] for o in PLACEMENTS[cfg.placement].pre if norm or o != "bn"]
    tail = (" and ".join(final) + ", then " if final else "") + "global average pooling"
    unit = "unit" if per_stage == "1" else "units"
    text = (f"{cfg.name}: {stem}, then {len(blocks)} stages of {per_stage} {kind} {unit} ({channels}) with "
            f"{_SHORTCUTS[cfg.shortcut]}, {tail} and a {cfg.num_classes}-way fully connected layer: "
            f"{cfg.num_layers} weighted layers. Each unit: {unit_ops(cfg)}. It takes {cfg.in_channels}×"
            f"{cfg.input_size}×{cfg.input_size} images.")
    if cfg.zero_init_residual:
        text += " Each branch starts at zero (zero-init)."
    return text


# The Home page's unit diagram (a fixed picture): what it shows, in words.
HOME_UNIT_DESCRIPTION = ("A residual unit: the input x goes through a 3×3 conv, BN and ReLU, then a 3×3 conv and "
                         "BN; the identity shortcut carries x around both convs and adds it to their output, and a "
                         "ReLU follows the addition, so the unit outputs ReLU of F(x) plus x.")
