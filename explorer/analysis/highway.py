"""The gradient highway: how much of the gradient reaching each unit's input came through the shortcut.

He et al. 2016, Eq. 4-5: with identity shortcuts x_{l+1} = x_l + F(x_l), so the gradient at a unit's input
is dL/dx = dL/dz · (1 + dF/dx), where z = F(x) + x is the sum before the unit's after-addition ops. The
"1" is an identity shortcut's part: it carries dL/dz back across the addition unchanged. This module splits
dL/dx into the part through the shortcut and the part through the residual branch F, unit by unit, with
autograd as the oracle: the two parts sum to the gradient autograd gives for the unit's input. Only a
parameter-free shortcut whose shapes match is the "1"; a downsampling shortcut (option A's subsample and zero
channels, or a B/C projection) is its own kind, and a plain unit has no shortcut, so its whole gradient goes
through the branch. Ops after the addition (the original unit's ReLU) sit between units, so across units the
gradient is carried back unchanged only where a unit has none. The work is done on a deep copy; the caller's
model is untouched. Size budget: ~200 lines.
"""
from __future__ import annotations

import copy
import functools

import torch
from torch import nn
from torch.nn import functional as F

from ..i18n import N_, _, ngettext, num, pct
from ..nets.blocks import Projection, ResidualUnit
from ..nets.builder import ResNet
from ..nets.kinds import PLACEMENTS

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
    parent_name, _dot, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def _norm(t: torch.Tensor | None) -> float:
    return 0.0 if t is None else float(t.detach().float().norm())


def _rms(t: torch.Tensor) -> float:
    """Root mean square per element: comparable between tensors of different sizes (a stage's maps shrink)."""
    return _norm(t) / max(t.numel(), 1) ** 0.5


SHORTCUT_KINDS = {  # each kind of shortcut in the words the summary and the chart use: (one, several)
    "identity": (N_("identity shortcut (Eq. 5's \"1\")"), N_("identity shortcuts (Eq. 5's \"1\")")),
    "zero-pad": (N_("downsampling shortcut (option A: subsample, zero channels)"),
                 N_("downsampling shortcuts (option A: subsample, zero channels)")),
    "projection": (N_("projection shortcut (1×1 conv + BN, option B/C)"),
                   N_("projection shortcuts (1×1 conv + BN, option B/C)")),
    "none": (N_("no shortcut (plain)"), N_("no shortcuts (plain)")),
}


def shortcut_kind(unit: ResidualUnit) -> str:
    """"identity" (y = F(x) + x: Eq. 5's "1"), "zero-pad" (option A where the shape changes), "projection"
    (options B/C) or "none" (a plain unit)."""
    if unit.shortcut is None:
        return "none"
    if isinstance(unit.shortcut, Projection):
        return "projection"
    return "identity" if isinstance(unit.shortcut, nn.Identity) else "zero-pad"


def gradient_split(model: ResNet, x: torch.Tensor, y: torch.Tensor, train_mode: bool = True) -> list:
    """Per unit, the sizes of the gradient at its input through the shortcut and through the branch.

    He et al. 2016, Eq. 5: dL/dx = dL/dz · (1 + dF/dx). On one batch the cross-entropy loss is
    back-propagated once; for each unit the gradient arriving at its sum z is sent back through the
    shortcut alone and through the branch alone. The two parts add up (as tensors) to the unit's input gradient.

    Args:
        model: an `explorer.nets.builder.ResNet` (not changed: the work is done on a deep copy).
        x: (B, C, H, W) normalised images; y: (B,) labels.
        train_mode: BN with batch statistics, as in a training step (default), or eval mode.
    Returns:
        one row per unit, in forward order: {"unit", "stage", "index", "kind" (shortcut_kind), "identity" (kind
        is "identity"), "shortcut", "branch", "total", "arriving", "share", "rms", "branch_zero", "after_add"}:
        the L2 norms over the batch of the shortcut's part, the branch's part, their sum (dL/dx) and dL/dz;
        share = |shortcut part| / |dL/dx| (the two parts are added as vectors, so a share can pass 100 %); rms =
        |dL/dx| per element; branch_zero: F(x) is exactly zero on this batch (a zero-initialised branch);
        after_add: the unit has ops after the addition (the original unit's ReLU). A plain unit's "shortcut" is 0.
    """
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"Images and labels must be non-empty and the same count; got {x.shape[0]} and {y.shape[0]}.")
    parts = unit_gradients(model, x, y, train_mode)
    units = dict(model.units())
    rows = []
    for name, (shortcut, branch, arriving, kind, branch_zero) in parts.items():
        stage, _dot, index = name.rpartition(".")
        total = branch if shortcut is None else shortcut + branch
        norm_total = _norm(total)
        rows.append({"unit": name, "stage": stage, "index": int(index), "kind": kind, "identity": kind == "identity",
                     "shortcut": _norm(shortcut), "branch": _norm(branch), "total": norm_total,
                     "arriving": _norm(arriving), "share": _norm(shortcut) / norm_total if norm_total > 0 else None,
                     "rms": _rms(total), "branch_zero": branch_zero,
                     "after_add": bool(PLACEMENTS[units[name].placement].after_add)})
    return rows


def unit_gradients(model: ResNet, x: torch.Tensor, y: torch.Tensor, train_mode: bool = True
                   ) -> dict[str, tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, str, bool]]:
    """The split itself, as tensors: {unit name: (shortcut part or None, branch part, dL/dz, kind, F(x) is zero)}.

    Args and mode as `gradient_split`; each part is shaped like the unit's input (B, C, H, W); kind as
    `shortcut_kind`.
    """
    work = copy.deepcopy(model).train(train_mode)
    device = next(work.parameters()).device
    record: dict[str, _Parts] = {}
    units = dict(work.units())
    for name, unit in units.items():
        _swap(work, name, _SplitUnit(unit, name, record))
    loss = F.cross_entropy(work(x.to(device)).float(), y.to(device))
    # dL/dz for every unit: z was never materialised as a leaf, so ask autograd through f (dL/dz = dL/df).
    arriving = torch.autograd.grad(loss, [f for _x, _s, f in record.values()], retain_graph=True)
    out = {}
    for (name, (inp, s, f)), g in zip(record.items(), arriving, strict=True):
        branch = torch.autograd.grad(f, inp, g, retain_graph=True)[0]  # (dF/dx)^T dL/dz
        shortcut = None if s is None else torch.autograd.grad(s, inp, g, retain_graph=True)[0]  # 1 · dL/dz
        out[name] = (shortcut, branch, g, shortcut_kind(units[name]), not bool(f.detach().any()))
    return out


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _net_sentence(name: str, units: list[dict]) -> str:
    """What one net's rows show: the shortcut's share by kind, and the first unit's RMS gradient against the last."""
    ratio = units[0]["rms"] / units[-1]["rms"] if units[-1]["rms"] > 0 else float("inf")
    times = num(ratio, 2) if ratio != float("inf") else f"{ratio:.2g}"
    sizes = _("per element (RMS), the gradient at the first unit's input is {times}× that at the last unit's "
              "input").format(times=times)
    residual = [u for u in units if u["kind"] != "none"]
    if not residual:
        return _("in {name} every unit's gradient passes through its layers; {sizes}").format(name=name, sizes=sizes)
    if all(u["branch_zero"] for u in residual):
        return _("in {name} every residual branch outputs exactly zero on this batch (zero-init: each unit starts as "
                 "its shortcut), so the whole gradient passes through the shortcuts by construction: that is the "
                 "starting point, not something the net has learnt; {sizes}").format(name=name, sizes=sizes)
    clauses = []
    for kind in ("identity", "zero-pad", "projection"):
        shares = [u["share"] for u in residual if u["kind"] == kind and u["share"] is not None]
        if shares:
            share, n = pct(100 * _median(shares), 0), len(shares)
            clause = {
                "identity": ngettext("a median {share} of the input gradient's size at its {n} identity shortcut "
                                     "(Eq. 5's \"1\")", "a median {share} of the input gradient's size at its {n} "
                                     "identity shortcuts (Eq. 5's \"1\")", n),
                "zero-pad": ngettext("a median {share} of the input gradient's size at its {n} downsampling shortcut "
                                     "(option A: subsample, zero channels)", "a median {share} of the input "
                                     "gradient's size at its {n} downsampling shortcuts (option A: subsample, zero "
                                     "channels)", n),
                "projection": ngettext("a median {share} of the input gradient's size at its {n} projection shortcut "
                                       "(1×1 conv + BN, option B/C)", "a median {share} of the input gradient's "
                                       "size at its {n} projection shortcuts (1×1 conv + BN, option B/C)", n),
            }[kind]
            clauses.append(clause.format(share=share, n=n))
    joined = functools.reduce(lambda a, b: _("{first}, and {second}").format(first=a, second=b), clauses)
    text = _("in {name} the part through the shortcut is {shares}; {sizes}").format(name=name, shares=joined,
                                                                                     sizes=sizes)
    if any(u["after_add"] for u in residual):
        text += " " + _("(its units apply ops after the addition, such as the original unit's ReLU, so from one unit "
                        "to the next the gradient also passes those: the \"1\" carries it unchanged across an "
                        "addition, not across units)")
    return text


def _shares_given(units: list[dict]) -> bool:
    """Whether _net_sentence gives this net's shares (a median per kind of shortcut)."""
    residual = [u for u in units if u["kind"] != "none"]
    return bool(residual) and not all(u["branch_zero"] for u in residual) and any(
        u["share"] is not None for u in residual if u["kind"] in ("identity", "zero-pad", "projection"))


def highway_summary(rows: dict) -> str:
    """One sentence on what the user's own numbers show, from {net name: gradient_split rows}.

    For each residual net: the median of |shortcut part| / |dL/dx| per kind of shortcut (identity, zero-pad,
    projection), or that its branches are all zero (zero-init at initialisation); for each net: how the gradient
    per element (RMS) at the first unit's input compares with the last unit's.
    """
    parts = [_net_sentence(name, units) for name, units in rows.items() if units]
    if not parts:
        return _("These nets have no residual units to split.")
    text = "; ".join(parts)
    text = text[0].upper() + text[1:] + "."
    if any(_shares_given(units) for units in rows.values() if units):  # say what a share is
        text += " " + _("Share = |shortcut part| / |∂L/∂x|, L2 norms over the batch; the two parts add as vectors, "
                        "so their shares need not sum to 100% (He et al. 2016, Eq. 5).")
    return text
