"""The kinds a net is built from, as data: shortcut options, BN/ReLU placements, the units' shapes.

One record per kind, in one table each (a variant is one entry; a new unit shape is also its class in
explorer.nets.blocks, which builds every kind). No torch here: configs are checked against these tables and
pages list them without loading torch, which Home's first paint has no need of (docs/benchmarks.md).
Size budget: ~150 lines.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..i18n import N_


# ----------------------------------------------------------------------------- shortcuts
@dataclass(frozen=True)
class ShortcutKind:
    """One shortcut option: what it does where a unit's shape changes, and how the UI and the diagram name it.

    explorer.nets.blocks.make_shortcut builds it: nothing for the plain net; otherwise the identity where the
    shape stays (unless `everywhere`), and a zero-padding or a projection shortcut where it changes.
    """

    label: str  # where the shape changes: "zero-pad" or "projection" (explorer.nets.blocks.RESHAPES builds it), as
    #             the block diagram writes it on the arrow; "" for none
    everywhere: bool  # a projection on every unit's shortcut, not only where the shape changes (option C)
    help: str  # one sentence for the UI, with its source


SHORTCUTS = {
    "none": ShortcutKind("", False, N_("No shortcut: the plain net, the same layers without the addition "
                                       "(He et al. 2015).")),
    "A": ShortcutKind("zero-pad", False, N_("Identity; where the shape changes, subsample and pad with zero "
                                            "channels: no extra parameters, so plain and residual twins match "
                                            "exactly (He et al. 2015, option A).")),
    "B": ShortcutKind("projection", False, N_("Identity; a 1x1 convolution + BN only where the shape changes "
                                              "(He et al. 2015, option B; torchvision's ResNets).")),
    "C": ShortcutKind("projection", True, N_("A 1x1 convolution + BN on every shortcut: a few more parameters; "
                                             "slightly better than B only for ResNet-34 on ImageNet (24.19 vs "
                                             "24.52 % top-1, He et al. 2015, Table 3), far worse on ResNet-110 "
                                             "on CIFAR-10 (12.22 vs 6.61 %, He et al. 2016, Table 1).")),
}


# ----------------------------------------------------------------------------- placements
@dataclass(frozen=True)
class Placement:
    """Where BN and ReLU sit: ops before each conv, after each inner conv, after the last, after the add.

    A placement with ops before the convs ("pre-activation") also activates the stem's output once, before the
    first unit splits into its two paths, and the last unit's sum before the pool (He et al. 2016, appendix).
    """

    pre: tuple[str, ...]  # ops before every conv of the branch, e.g. ("bn", "relu") for full pre-activation
    post: tuple[str, ...]  # ops after every conv but the last
    last: tuple[str, ...]  # ops after the branch's last conv (before the addition)
    after_add: tuple[str, ...]  # ops after the addition
    zero_init: str | None  # what zero-init zeroes: "bn" (the branch ends in BN: its scale), "conv" (ends in a conv:
    #                    its weights), None (refused: explorer.nets.config.ZERO_INIT_REFUSED says why)
    help: str  # one sentence for the UI, with its source

    @property
    def preactivation(self) -> bool:
        """True when BN/ReLU come before the convs (He et al. 2016): the net then activates before the pool."""
        return bool(self.pre)


PLACEMENTS = {
    "original": Placement((), ("bn", "relu"), ("bn",), ("relu",), "bn", N_(
        "conv-BN-ReLU-conv-BN, add, ReLU: the unit of the 2015 paper (He et al. 2015).")),
    "no_final_relu": Placement((), ("bn", "relu"), ("bn",), (), "bn", N_(
        "The original unit without the ReLU after the addition: a little better at 110 layers "
        "(6.32 vs 6.97 %), no real difference at 20 (Gross & Wilber 2016).")),
    "bn_after_add": Placement((), ("bn", "relu"), (), ("bn", "relu"), None, N_(
        "conv-BN-ReLU-conv, add, BN, ReLU: BN after the addition alters the shortcut signal and "
        "hurts deep nets (ResNet-110: 8.17 vs 6.61 %, He et al. 2016, Table 2; Gross & Wilber "
        "2016).")),
    "relu_before_add": Placement((), ("bn", "relu"), ("bn", "relu"), (), None, N_(
        "conv-BN-ReLU-conv-BN-ReLU, add: the branch can only add, never subtract; "
        "ResNet-110: 7.84 vs 6.61 % (He et al. 2016, Table 2).")),
    "relu_preact": Placement(("relu",), ("bn",), ("bn",), (), "bn", N_(
        "ReLU-conv-BN-ReLU-conv-BN, add: ReLU-only pre-activation, about as good as the original "
        "(ResNet-110: 6.71 vs 6.61 %, He et al. 2016, Table 2).")),
    "full_preact": Placement(("bn", "relu"), (), (), (), "conv", N_(
        "BN-ReLU-conv-BN-ReLU-conv, add: full pre-activation keeps the shortcut a clean identity; "
        "best in He et al. 2016 (ResNet-110: 6.37 vs 6.61 %).")),
}


# ----------------------------------------------------------------------------- unit shapes
@dataclass(frozen=True)
class UnitShape:
    """A residual unit's shape: how many convolutions its branch has and how it widens its output."""

    convs: int  # convolutions in the branch (the paper counts them as layers)
    expansion: int  # output channels / planes


BLOCKS = {
    "basic": UnitShape(2, 1),  # two 3x3 convs (He et al. 2015, Fig. 2 left)
    "bottleneck": UnitShape(3, 4),  # 1x1, 3x3, 1x1 expanding by 4 (He et al. 2015, Fig. 5 right)
}
