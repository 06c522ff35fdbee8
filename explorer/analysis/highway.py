"""The gradient highway: how much of the gradient reaching each unit's input came through the shortcut.

He et al. 2016, Eq. 4-5: with identity shortcuts x_{l+1} = x_l + F(x_l), so the gradient at a unit's input
is dL/dx = dL/dz · (1 + dF/dx), where z = F(x) + x is the sum before the unit's after-addition ops. The
"1" is the shortcut's part: it carries the gradient back unchanged. This module splits dL/dx into the part
through the shortcut and the part through the residual branch F, unit by unit, with autograd as the oracle:
the two parts sum to the gradient autograd gives for the unit's input. A plain unit has no shortcut, so its
whole gradient goes through the branch. The work is done on a deep copy; the caller's model is untouched.
Size budget: ~150 lines.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from ..nets.blocks import ResidualUnit
from ..nets.builder import ResNet

_Parts = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]  # a unit's input x, shortcut s(x), branch F(x)


class _SplitUnit(nn.Module):
    """A unit whose forward keeps its input x, shortcut output s and branch output F(x) for the split."""

    def __init__(self, unit: ResidualUnit, name: str, record: dict[str, _Parts]) -> None:
        super().__init__()
        self.unit, self.name, self.record = unit, name, record

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.unit.residual_branch(x)  # F(x), pre-activation (if any) included
        s = self.unit.identity_path(x) if self.unit.shortcut is not None else None
        self.record[self.name] = (x, s, f)
        return self.unit.after_add(f if s is None else f + s)  # y = after_add(F(x) + x): the same sum as forward


def _swap(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def _norm(t: torch.Tensor | None) -> float:
    return 0.0 if t is None else float(t.detach().float().norm())


def gradient_split(model: ResNet, x: torch.Tensor, y: torch.Tensor, train_mode: bool = True) -> list:
    """Per unit, the norms of the gradient at its input through the shortcut and through the branch.

    He et al. 2016, Eq. 5: dL/dx = dL/dz · (1 + dF/dx). On one batch the cross-entropy loss is
    back-propagated once; for each unit the gradient arriving at its sum z is sent back through the
    shortcut alone and through the branch alone. The two parts add up to the unit's input gradient.

    Args:
        model: an `explorer.nets.builder.ResNet` (not changed: the work is done on a deep copy).
        x: (B, C, H, W) normalised images; y: (B,) labels.
        train_mode: BN with batch statistics, as in a training step (default), or eval mode.
    Returns:
        one row per unit, in forward order: {"unit", "stage", "index", "identity" (True for a parameter-free
        shortcut), "shortcut", "branch", "total", "arriving"}: the L2 norms over the batch of the shortcut's
        part, the branch's part, their sum (dL/dx) and dL/dz. A plain unit's "shortcut" is 0.
    """
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"Images and labels must be non-empty and the same count; got {x.shape[0]} and {y.shape[0]}.")
    parts = unit_gradients(model, x, y, train_mode)
    rows = []
    for name, (shortcut, branch, arriving, unit_kind) in parts.items():
        stage, _, index = name.rpartition(".")
        total = branch if shortcut is None else shortcut + branch
        rows.append({"unit": name, "stage": stage, "index": int(index), "identity": unit_kind,
                     "shortcut": _norm(shortcut), "branch": _norm(branch), "total": _norm(total),
                     "arriving": _norm(arriving)})
    return rows


def unit_gradients(model: ResNet, x: torch.Tensor, y: torch.Tensor,
                   train_mode: bool = True) -> dict[str, tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, bool]]:
    """The split itself, as tensors: {unit name: (shortcut part or None, branch part, dL/dz, identity?)}.

    Args and mode as `gradient_split`; each part is shaped like the unit's input (B, C, H, W).
    """
    work = copy.deepcopy(model).train(train_mode)
    device = next(work.parameters()).device
    record: dict[str, _Parts] = {}
    units = dict(work.units())
    for name, unit in units.items():
        _swap(work, name, _SplitUnit(unit, name, record))
    loss = F.cross_entropy(work(x.to(device)).float(), y.to(device))
    # dL/dz for every unit: z was never materialised as a leaf, so ask autograd through f (dL/dz = dL/df).
    arriving = torch.autograd.grad(loss, [f for _, _, f in record.values()], retain_graph=True)
    out = {}
    for (name, (inp, s, f)), g in zip(record.items(), arriving, strict=True):
        branch = torch.autograd.grad(f, inp, g, retain_graph=True)[0]  # (dF/dx)^T dL/dz
        shortcut = None if s is None else torch.autograd.grad(s, inp, g, retain_graph=True)[0]  # 1 · dL/dz
        shortcut_module = units[name].shortcut
        identity = shortcut_module is not None and not any(True for _ in shortcut_module.parameters())
        out[name] = (shortcut, branch, g, identity)
    return out


def highway_summary(rows: dict) -> str:
    """One sentence on what the user's own numbers show, from {net name: gradient_split rows}.

    For each residual net: the median share of the input gradient's norm that the shortcut carries;
    for each net: how the gradient at the first unit's input compares with the last unit's.
    """
    parts = []
    for name, units in rows.items():
        if not units:
            continue
        first, last = units[0]["total"], units[-1]["total"]
        ratio = first / last if last > 0 else float("inf")
        with_shortcut = [u for u in units if u["shortcut"] > 0]
        if with_shortcut:
            share = sorted(u["shortcut"] / max(u["shortcut"] + u["branch"], 1e-30) for u in with_shortcut)
            med = share[len(share) // 2]
            parts.append(f"in {name} the shortcut carries a median {100 * med:.0f}% of the gradient's size into "
                         f"each unit, and the first unit receives {ratio:.2g}× the gradient of the last")
        else:
            parts.append(f"in {name} every unit's gradient passes through its layers, and the first unit receives "
                         f"{ratio:.2g}× the gradient of the last")
    if not parts:
        return "These nets have no residual units to split."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + " (shares of the two parts' norms, He et al. 2016, Eq. 5)."
