"""A network in words, from its config: the text description of the Build page's block diagram (issue 23).

Computed from the ModelConfig alone (no model is built): stages, units per stage, widths, the shortcut, where BN
and ReLU sit in a unit, the head and the weighted-layer count as He et al. 2015 count them.
"""
from __future__ import annotations

from ..i18n import N_, _, listing, ngettext
from .config import CIFAR_WIDTHS, IMAGENET_WIDTHS, ModelConfig
from .kinds import BLOCKS, PLACEMENTS

_SHORTCUTS = {
    "none": N_("no shortcuts (the plain net: nothing is added back)"),
    "A": N_("identity shortcuts (option A: zero-padding where the width doubles)"),
    "B": N_("identity shortcuts (option B: a 1×1 projection where the shape changes)"),
    "C": N_("1×1 projection shortcuts on every unit (option C)"),
}
_OPS = {"bn": "BN", "relu": "ReLU"}
# An option of a net's config as a reader sees it (Build's radios and selectboxes, Train's one-line architecture);
# the values themselves stay (code compares them). The placement names are the papers' names and stay as they are.
OPTION_LABELS = {
    "custom": N_("custom"), "cifar": N_("cifar"), "imagenet": N_("imagenet"), "basic": N_("basic"),
    "bottleneck": N_("bottleneck"), "batch": N_("batch"), "none": N_("none"), "kaiming": N_("kaiming"),
    "xavier": N_("xavier"), "original": N_("original"), "no_final_relu": N_("no_final_relu"),
    "bn_after_add": N_("bn_after_add"), "relu_before_add": N_("relu_before_add"), "relu_preact": N_("relu_preact"),
    "full_preact": N_("full_preact"),
}


def option_label(value: object) -> str:
    """An option as the reader sees it: its label where it has one, else the value (a number, a preset's name)."""
    return _(OPTION_LABELS[value]) if isinstance(value, str) and value in OPTION_LABELS else str(value)


def _numbers(values: tuple[int, ...] | list[int]) -> str:
    return ", ".join(map(str, values))


def unit_ops(cfg: ModelConfig) -> str:
    """One unit's operations in order, e.g. "3×3 conv, BN, ReLU, 3×3 conv, BN, add the shortcut, ReLU"."""
    p = PLACEMENTS[cfg.placement]
    kernels = ("1×1", "3×3", "1×1") if cfg.block == "bottleneck" else ("3×3", "3×3")
    ops: list[str] = []
    for i, k in enumerate(kernels, start=1):
        ops += [_OPS[o] for o in p.pre if cfg.norm != "none" or o != "bn"]
        ops.append(_("{kernel} conv").format(kernel=k))
        ops += [_OPS[o] for o in (p.last if i == len(kernels) else p.post) if cfg.norm != "none" or o != "bn"]
    if not cfg.is_plain:
        ops.append(_("add the shortcut"))
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
    if cfg.family == "imagenet":
        stem = (_("a 7×7 conv with stride 2, BN, ReLU and a 3×3 max-pool") if norm else
                _("a 7×7 conv with stride 2, ReLU and a 3×3 max-pool"))
    else:
        stem = _("a 3×3 conv, BN and ReLU") if norm else _("a 3×3 conv and ReLU")
    same = len(set(blocks)) == 1
    per_stage = str(blocks[0]) if same else _numbers(blocks)
    many = blocks[0] if same else 2  # "3, 4, 6, 3 units" reads as a plural
    units = (ngettext("{count} bottleneck unit", "{count} bottleneck units", many) if cfg.block == "bottleneck" else
             ngettext("{count} basic unit", "{count} basic units", many)).format(count=per_stage)
    if cfg.block == "bottleneck":
        expansion = BLOCKS[cfg.block].expansion
        channels = _("{widths} channels inside, {outputs} out").format(
            widths=_numbers(widths), outputs=_numbers([w * expansion for w in widths]))
    else:
        channels = _("{widths} channels").format(widths=_numbers(widths))
    final = [_OPS[o] for o in PLACEMENTS[cfg.placement].pre if norm or o != "bn"]
    tail = (_("{ops}, then global average pooling").format(ops=listing(final)) if final else
            _("global average pooling"))
    text = _("{name}: {stem}, then {stages} stages of {units} ({channels}) with {shortcuts}, {tail} and a "
             "{classes}-way fully connected layer: {layers} weighted layers. Each unit: {unit}. It takes "
             "{in_channels}×{size}×{size} images.").format(
        name=cfg.name, stem=stem, stages=len(blocks), units=units, channels=channels,
        shortcuts=_(_SHORTCUTS[cfg.shortcut]), tail=tail, classes=cfg.num_classes, layers=cfg.num_layers,
        unit=unit_ops(cfg), in_channels=cfg.in_channels, size=cfg.input_size)
    if cfg.zero_init_residual:
        text += " " + _("Each branch starts at zero (zero-init).")
    return text


# The Home page's unit diagram (a fixed picture): what it shows, in words.
HOME_UNIT_DESCRIPTION = N_("A residual unit: the input x goes through a 3×3 conv, BN and ReLU, then a 3×3 conv and "
                         "BN; the identity shortcut carries x around both convs and adds it to their output, and a "
                         "ReLU follows the addition, so the unit outputs ReLU of F(x) plus x.")
