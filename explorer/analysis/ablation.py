"""Block ablation: skip one unit at a time in a trained net and measure the test error.

Veit, Wilber, Belongie 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow Networks":
deleting a single block barely hurt their trained ResNets (except where it downsamples), while deleting a layer
of a plain net destroyed it. That does not hold for every net (in issue 20's audit a short run's ResNet-20 without
zero-init went from 3.1 % to 75.5 % on deleting one unit), so `deletion_summary` words it from the net's own
numbers. Skipping is done by swapping the unit for a small wrapper in a deep copy, so the
caller's model is never touched. Size budget: ~150 lines.
"""
from __future__ import annotations

import copy
import itertools
import math
import random

import torch
from torch import nn

from ..i18n import _
from ..nets.blocks import ResidualUnit
from ..nets.builder import ResNet
from .evaluation import error_rate, eval_no_grad


class ShortcutOnly(nn.Module):
    """A residual unit with its branch removed: y = after_add(shortcut(x)) (Veit et al. 2016)."""

    def __init__(self, unit: ResidualUnit) -> None:
        super().__init__()
        self.unit = unit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unit.after_add(self.unit.identity_path(x))  # F(x) dropped, only the shortcut path is left


def _replacement(unit: ResidualUnit) -> tuple[nn.Module | None, str | None]:
    """(module to put in the unit's place, None) or (None, reason it cannot be skipped)."""
    if unit.shortcut is not None:
        return ShortcutOnly(unit), None
    if unit.in_ch == unit.out_ch and unit.stride == 1:
        return nn.Identity(), None
    return None, _("This plain block changes the shape ({before} to {after} channels, stride {stride}), so there is "
                   "no identity to put in its place.").format(before=unit.in_ch, after=unit.out_ch, stride=unit.stride)


def _swap(model: nn.Module, name: str, module: nn.Module) -> nn.Module:
    """Put `module` at the dotted `name` inside `model`; returns what was there."""
    parent_name, _dot, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child)
    setattr(parent, child, module)
    return old


def ablate_blocks(model: ResNet, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> list:
    """Test error of the net with each unit skipped in turn, after the unablated baseline.

    A residual unit keeps only its shortcut (y = after_add(shortcut(x))); a plain unit becomes the identity
    where its input and output shapes agree, and is reported as not skippable where they do not.

    Args:
        model: a trained `explorer.nets.builder.ResNet` (not changed: the work is done on a deep copy, in eval mode).
        x: (N, C, H, W) test images; y: (N,) labels. batch_size: images per forward pass.
    Returns:
        a list of rows {"unit", "stage", "index", "skippable", "error", "reason"}: first the baseline
        (unit, stage and index None), then one row per unit in forward order. error is a fraction in [0, 1],
        or None where the unit cannot be skipped (reason says why).
    """
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"Images and labels must be non-empty and the same count; got {x.shape[0]} and {y.shape[0]}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}.")
    work = copy.deepcopy(model)
    rows: list[dict[str, object]] = []
    with eval_no_grad(work):
        rows.append({"unit": None, "stage": None, "index": None, "skippable": True,
                     "error": error_rate(work, x, y, batch_size), "reason": None})
        for name, unit in work.units():
            stage, _, index = name.rpartition(".")
            replacement, reason = _replacement(unit)
            row = {"unit": name, "stage": stage, "index": int(index), "skippable": replacement is not None,
                   "error": None, "reason": reason}
            if replacement is not None:
                original = _swap(work, name, replacement.eval())
                row["error"] = error_rate(work, x, y, batch_size)
                _swap(work, name, original)
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------- ensembles of paths
def path_lengths(n_units: int) -> list:
    """How many of a ResNet's 2^n paths pass through k residual branches, k = 0..n (Veit et al. 2016, Fig. 6a).

    Each unit is either taken through its branch or skipped through its shortcut, so n units offer 2^n
    paths, and C(n, k) of them go through exactly k branches: a binomial distribution.

    Args:
        n_units: residual units in the net (e.g. 9 for a CIFAR ResNet-20).
    Returns:
        [{"length": k, "paths": C(n, k), "share": C(n, k) / 2^n}, ...] for k = 0..n.
    """
    if not isinstance(n_units, int) or n_units < 0:
        raise ValueError(f"The number of units must be a whole number of at least 0; got {n_units!r}.")
    return [{"length": k, "paths": math.comb(n_units, k), "share": math.comb(n_units, k) / 2 ** n_units}
            for k in range(n_units + 1)]


def delete_random_units(model: ResNet, x: torch.Tensor, y: torch.Tensor, draws: int = 8, seed: int = 0,
                        batch_size: int = 512) -> list:
    """Test error after deleting k randomly chosen units, k = 0..(units that can be skipped), over several draws.

    Veit, Wilber, Belongie 2016 (Fig. 3 and 5): deleting several blocks from a ResNet raises its error
    smoothly, as from an ensemble losing members; a plain net has no shortcut to fall back on. Deleting is
    as in `ablate_blocks` (a residual unit keeps its shortcut; a plain unit becomes the identity where its
    shapes allow; the others are never drawn). With fewer than `draws` possible subsets, each is used once.

    Args:
        model: a trained ResNet (not changed: the work is done on a deep copy in eval mode).
        x: (N, C, H, W) test images; y: (N,) labels. draws: random subsets per k. seed: fixes the subsets.
    Returns:
        [{"k", "errors": [fraction per draw], "mean", "low", "high"}, ...] for k = 0.. ; k = 0 is the full net.
    """
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"Images and labels must be non-empty and the same count; got {x.shape[0]} and {y.shape[0]}.")
    if draws < 1:
        raise ValueError(f"draws must be at least 1; got {draws}.")
    work = copy.deepcopy(model)
    units = [(name, unit) for name, unit in work.units() if _replacement(unit)[0] is not None]
    rng = random.Random(seed)
    rows = []
    with eval_no_grad(work):
        for k in range(len(units) + 1):
            subsets = _subsets(len(units), k, draws, rng)
            errors = [_error_without(work, [units[i] for i in subset], x, y, batch_size) for subset in subsets]
            rows.append({"k": k, "errors": errors, "mean": sum(errors) / len(errors),
                         "low": min(errors), "high": max(errors)})
    return rows


def _subsets(n: int, k: int, draws: int, rng: random.Random) -> list:
    """`draws` distinct random k-subsets of range(n), or all of them when there are no more than that."""
    if math.comb(n, k) <= draws:
        return [list(c) for c in itertools.combinations(range(n), k)]
    seen: set = set()
    while len(seen) < draws:
        seen.add(tuple(sorted(rng.sample(range(n), k))))
    return [list(s) for s in sorted(seen)]


def _error_without(work: ResNet, units: list[tuple[str, ResidualUnit]], x: torch.Tensor, y: torch.Tensor,
                   batch_size: int) -> float:
    """The error with these (name, unit) pairs swapped for their skip; the units are put back afterwards."""
    for name, unit in units:
        skip, _reason = _replacement(unit)
        if skip is not None:  # the caller passes skippable units only
            _swap(work, name, skip.eval())
    try:
        return error_rate(work, x, y, batch_size)
    finally:
        for name, unit in units:
            _swap(work, name, unit)


BARELY = 0.02  # a rise in error of at most 2 points, on average and for the worst unit, "barely changes" it


def deletion_summary(name: str, rows: list, plain: bool = False) -> str:
    """One sentence on what deleting one unit did to this net, from its own `delete_random_units` rows.

    Says "barely changes" (Veit et al. 2016's finding for trained ResNets) only when one deletion raised the error
    by at most BARELY, on average and for the worst unit; otherwise it gives the rise, so the page never claims
    more than the numbers show. plain: the net has no shortcuts (Veit et al. found such a net breaks).
    """
    if len(rows) < 2:
        return f"{name}: no unit can be deleted."
    full, one = rows[0]["mean"], rows[1]
    worst, mean = one["high"] - full, one["mean"] - full
    text = (f"{name}: {100 * full:.1f}% with nothing deleted, {100 * one['mean']:.1f}% on average with one unit "
            f"deleted (worst {100 * one['high']:.1f}%), {100 * rows[-1]['mean']:.1f}% with all {rows[-1]['k']} "
            "deletable units gone")
    if worst <= BARELY:
        return text + (": deleting one unit barely changes its error" +
                       (", even without shortcuts." if plain else ", as Veit et al. 2016 found for their ResNets."))
    if mean <= BARELY:
        return text + (f": most single deletions barely change its error, but one raised it by {100 * worst:.1f} "
                       "points.")
    if plain:
        return text + (f": one deletion raises its error by {100 * mean:.1f} points on average; with no shortcut to "
                       "fall back on, a plain net breaks, as Veit et al. 2016 found.")
    return text + (f": one deletion raises its error by {100 * mean:.1f} points on average, so this net does not "
                   "behave like the ensemble of paths Veit et al. 2016 found in their trained ResNets.")
