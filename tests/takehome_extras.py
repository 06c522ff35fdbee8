"""Registry entries that only the tests know, registered at test time (`register`) the way docs/architecture.md
says a new one is added: a BN/ReLU placement and a shortcut whose module is this file, not the library. The
take-home script must carry them (tests/test_takehome_parity.py).
"""
import numpy as np
import torch
from torch import nn

from explorer.nets import blocks, config, kinds

PLACEMENT_NAME = "relu_bn_sandwich"
PLACEMENT = kinds.Placement(pre=("relu",), post=("bn", "relu"), last=("bn",), after_add=("relu",), zero_init="bn",
                            help="A placement only the tests register: ReLU before the branch and after the add.")
SHORTCUT_NAME = "D"


class AvgPoolShortcut(nn.Module):
    """ResNet-D's shortcut (He et al. 2019, "Bag of Tricks"): average-pool by the stride, then zero channels."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.extra = out_ch - in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)  # (B, C, H, W) -> (B, C, H/s, W/s)
        return torch.cat([x, x.new_zeros(x.shape[0], self.extra, *x.shape[2:])], dim=1) if self.extra else x


def option_d(in_ch: int, out_ch: int, stride: int, norm: str) -> nn.Module:
    return AvgPoolShortcut(in_ch, out_ch, stride)


SHORTCUT = kinds.ShortcutKind("avg-pool", False, "Average-pool where the shape changes (He et al. 2019).")


def register(monkeypatch) -> None:
    """Add both entries to the registries for one test (and their names to config's list, where it keeps one); the
    shortcut's module goes in by its label."""
    monkeypatch.setitem(kinds.PLACEMENTS, PLACEMENT_NAME, PLACEMENT)
    monkeypatch.setitem(kinds.SHORTCUTS, SHORTCUT_NAME, SHORTCUT)
    monkeypatch.setitem(blocks.RESHAPES, SHORTCUT.label, option_d)
    for name, registry in (("PLACEMENTS", kinds.PLACEMENTS), ("SHORTCUTS", kinds.SHORTCUTS)):
        if isinstance(getattr(config, name, None), tuple):
            monkeypatch.setattr(config, name, tuple(registry))


def numpy_mean(x: torch.Tensor) -> float:
    """Reads numpy, which the take-home script must never import: the bundle refuses it."""
    return float(np.mean(x.numpy()))
