"""Shortcuts and residual units: builds each kind registered in explorer.nets.kinds (one place to add a variant).

A unit computes y = after_add(F(x) + shortcut(x)), where F is the residual branch: 2 convs (basic)
or 3 (bottleneck) with BN and ReLU placed as one of PLACEMENTS says (He et al. 2016, Gross & Wilber
2016). With shortcut "none" the same unit has no addition: y = after_add(F(x)), the plain net.

Module names follow torchvision (conv1, bn1, conv2, bn2, ...) so its weights load; every ReLU is its
own module and never in place, so captum's hooks see each one.
Size budget: ~250 lines.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .kinds import BLOCKS, PLACEMENTS, SHORTCUTS, ShortcutKind


# ----------------------------------------------------------------------------- helpers
def conv3x3(in_ch: int, out_ch: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """3x3 convolution with padding 1 (keeps H, W at stride 1)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=bias)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """1x1 convolution (bottleneck ends and projection shortcuts)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=bias)


def make_norm(norm: str, channels: int) -> nn.Module:
    """BatchNorm2d, or a parameter-free identity when norm == "none"."""
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


# ----------------------------------------------------------------------------- shortcuts
class ZeroPadShortcut(nn.Module):
    """Option A: identity; where the shape changes, subsample by the stride and append zero channels."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        if out_ch < in_ch:
            raise ValueError(f"A zero-padding shortcut cannot shrink channels ({in_ch} -> {out_ch}); use a projection.")
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]  # (B, C, H, W) -> (B, C, H/s, W/s)
        if self.out_ch > self.in_ch:
            pad = x.new_zeros(x.shape[0], self.out_ch - self.in_ch, x.shape[2], x.shape[3])
            x = torch.cat([x, pad], dim=1)  # (B, C, h, w) -> (B, C_out, h, w), extra channels zero
        return x

    def extra_repr(self) -> str:
        return f"{self.in_ch}->{self.out_ch}, stride={self.stride}, zero-pad"


class Projection(nn.Sequential):
    """Options B/C: a strided 1x1 conv followed by BN (torchvision's `downsample`)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, norm: str) -> None:
        super().__init__(conv1x1(in_ch, out_ch, stride, bias=norm == "none"), make_norm(norm, out_ch))


MakeShortcut = Callable[[int, int, int, str], nn.Module]  # (in_ch, out_ch, stride, norm) -> the shortcut
MakeConv = Callable[[int, int, bool], nn.Conv2d]  # (in_ch, out_ch, bias) -> one conv of a branch


def _zero_pad(in_ch: int, out_ch: int, stride: int, norm: str) -> nn.Module:
    return ZeroPadShortcut(in_ch, out_ch, stride)


# What a shortcut does where the shape changes, by its kind's label (explorer.nets.kinds.SHORTCUTS): a new label,
# such as ResNet-D's average pool, is one entry here and one kind there.
RESHAPES: dict[str, MakeShortcut] = {"zero-pad": _zero_pad, "projection": Projection}


def make_shortcut(kind: ShortcutKind, in_ch: int, out_ch: int, stride: int, norm: str) -> nn.Module | None:
    """One unit's shortcut, as its registered kind says (He et al. 2015, options A, B and C).

    Returns:
        None for the plain net; the identity where the shape stays (options A and B); otherwise the module its
        label names in RESHAPES: a zero-padding shortcut (A) or a projection (B, and C on every unit).
    """
    if not kind.label:
        return None
    if in_ch == out_ch and stride == 1 and not kind.everywhere:
        return nn.Identity()
    return RESHAPES[kind.label](in_ch, out_ch, stride, norm)


# ----------------------------------------------------------------------------- units
class ResidualUnit(nn.Module):
    """One unit: a branch of convs with BN/ReLU per its placement, plus a shortcut (or none).

    Subclasses fix the convs (their `expansion` and `_conv_plan`); the builder takes the class. `activated`
    marks the first unit of a pre-activation net: its input was already activated right after the stem, before
    the split into the two paths, so its first conv has no BN/ReLU of its own (He et al. 2016, appendix).
    """

    expansion = 1  # output channels / planes
    convs = 2  # convolutions in the branch (the paper counts them as layers)

    def __init__(self, in_ch: int, planes: int, stride: int = 1, shortcut: str = "A",
                 placement: str = "original", norm: str = "batch", activated: bool = False) -> None:
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"Unknown shortcut {shortcut!r}; choose one of {', '.join(SHORTCUTS)}.")
        if placement not in PLACEMENTS:
            raise ValueError(f"Unknown placement {placement!r}; choose one of {', '.join(PLACEMENTS)}.")
        self.in_ch, self.out_ch, self.stride = in_ch, planes * self.expansion, stride
        self.shortcut_kind, self.placement = shortcut, placement
        p = PLACEMENTS[placement]
        bias = norm == "none"
        plan = self._conv_plan(in_ch, planes, stride)
        self._branch_names: list[str] = []  # module names of F(x), in order
        for i, (cin, cout, make) in enumerate(plan, start=1):
            self._add_ops(() if activated and i == 1 else p.pre, i, cin, norm)
            setattr(self, f"conv{i}", make(cin, cout, bias))
            self._branch_names.append(f"conv{i}")
            self._add_ops(p.last if i == len(plan) else p.post, i, cout, norm)
        self._after_names: list[str] = []
        for op in p.after_add:
            name = f"{op}_out"
            setattr(self, name, make_norm(norm, self.out_ch) if op == "bn" else nn.ReLU())
            self._after_names.append(name)
        self.shortcut = make_shortcut(SHORTCUTS[shortcut], in_ch, self.out_ch, stride, norm)
        # Pre-activation units: "these projection shortcuts are also with pre-activation" (He et al. 2016,
        # appendix), so a projection sees the input after the unit's first BN/ReLU; an identity sees x itself.
        self._n_pre = 0 if activated else len(p.pre)
        self._preact_projection = self._n_pre > 0 and isinstance(self.shortcut, Projection)
        self._zero_init = p.zero_init

    def _add_ops(self, ops: tuple[str, ...], i: int, channels: int, norm: str) -> None:
        for op in ops:
            setattr(self, f"{op}{i}", make_norm(norm, channels) if op == "bn" else nn.ReLU())
            self._branch_names.append(f"{op}{i}")

    def _conv_plan(self, in_ch: int, planes: int, stride: int) -> list[tuple[int, int, MakeConv]]:
        raise NotImplementedError

    @property
    def zero_init_target(self) -> nn.BatchNorm2d | nn.Conv2d | None:
        """What zero-init zeroes so the unit starts as its shortcut and still learns, or None where it cannot.

        A branch that ends in BN: that BN, whose scale is zeroed (Goyal et al. 2017); one that ends in a conv
        (full pre-activation): that conv, whose weights are zeroed; a branch that ends in a ReLU, or a unit
        with BN after the addition: None (explorer.nets.config.ZERO_INIT_REFUSED).
        """
        if self._zero_init is None:
            return None
        last = getattr(self, self._branch_names[-1])
        wanted = nn.BatchNorm2d if self._zero_init == "bn" else nn.Conv2d
        return last if isinstance(last, wanted) else None

    def branch_layers(self) -> list[tuple[str, nn.Module]]:
        """[(name, module)] of F(x), in the order they run (pre-activation ops first, where there are any)."""
        return [(name, getattr(self, name)) for name in self._branch_names]

    def _run(self, names: list[str], x: torch.Tensor) -> torch.Tensor:
        for name in names:
            x = getattr(self, name)(x)
        return x

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the branch alone, the part that is added to the shortcut."""
        return self._run(self._branch_names, x)

    def identity_path(self, x: torch.Tensor) -> torch.Tensor:
        """What the shortcut adds to F(x): shortcut(x), pre-activated first for a projection in a pre-activation
        unit."""
        if self.shortcut is None:
            raise ValueError("A plain unit has no shortcut, so it has no identity path.")
        return self.shortcut(self._run(self._branch_names[: self._n_pre], x) if self._preact_projection else x)

    def after_add(self, out: torch.Tensor) -> torch.Tensor:
        for name in self._after_names:
            out = getattr(self, name)(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._run(self._branch_names[: self._n_pre], x)  # pre-activation (BN/ReLU before the first conv), if any
        out = self._run(self._branch_names[self._n_pre:], h)  # the rest of F(x)
        if self.shortcut is not None:
            out = out + self.shortcut(h if self._preact_projection else x)  # y = F(x) + x: this is the ResNet
        return self.after_add(out)


class BasicBlock(ResidualUnit):
    """Two 3x3 convs; the first carries the stride (He et al. 2015, Fig. 2)."""

    expansion = BLOCKS["basic"].expansion
    convs = BLOCKS["basic"].convs

    def _conv_plan(self, in_ch: int, planes: int, stride: int) -> list[tuple[int, int, MakeConv]]:
        return [(in_ch, planes, lambda i, o, b: conv3x3(i, o, stride, b)),
                (planes, planes, lambda i, o, b: conv3x3(i, o, 1, b))]


class Bottleneck(ResidualUnit):
    """1x1 reduce, 3x3 (with the stride, as torchvision), 1x1 expand by 4 (He et al. 2015, Fig. 5)."""

    expansion = BLOCKS["bottleneck"].expansion
    convs = BLOCKS["bottleneck"].convs

    def _conv_plan(self, in_ch: int, planes: int, stride: int) -> list[tuple[int, int, MakeConv]]:
        return [(in_ch, planes, lambda i, o, b: conv1x1(i, o, 1, b)),
                (planes, planes, lambda i, o, b: conv3x3(i, o, stride, b)),
                (planes, planes * 4, lambda i, o, b: conv1x1(i, o, 1, b))]


UNITS: dict[str, type[ResidualUnit]] = {"basic": BasicBlock, "bottleneck": Bottleneck}  # the classes of BLOCKS
