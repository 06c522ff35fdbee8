"""Loss landscapes: a 1-D line between two sets of weights and a 2-D slice around trained weights.

Li, Xu, Taylor, Studer, Goldstein 2018, "Visualizing the Loss Landscape of Neural Nets": plot
L(theta* + a d1 + b d2) along two random Gaussian directions, each filter-normalised (every filter of a
direction rescaled to the norm of the matching filter of theta*). Only conv and linear weights move;
BN parameters, BN running statistics and biases stay at their trained values, and the net is evaluated
in eval mode on a fixed subset of the training data.

Speed: each grid point writes the weights in place (no model rebuilds) and runs one forward pass of the
subset; see docs/benchmarks_landscape.md. Size budget: ~250 lines.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from .evaluation import check_pair, loss_at


# ----------------------------------------------------------------------------- helpers
def _moving_weights(model: nn.Module) -> dict:
    """The parameters a landscape moves: conv and linear weights (dim >= 2), by name."""
    return {name: p for name, p in model.named_parameters() if p.dim() >= 2}




def _stopped(should_stop: Callable | None) -> bool:
    return should_stop is not None and bool(should_stop())


# ----------------------------------------------------------------------------- public
def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> dict:
    """A random Gaussian direction with each filter rescaled to the norm of the model's matching filter.

    Li et al. 2018, section 4: filter normalisation removes the scale invariance that BN gives to conv
    weights, so landscapes of different nets can be compared. A "filter" is one output slice of a weight
    (one output channel of a conv, one output row of a linear layer).

    Args:
        model: the net whose weights set the scale.
        generator: a CPU torch.Generator (the seed makes the direction reproducible).
    Returns:
        {parameter name: tensor shaped like that weight, on its device}; conv and linear weights only
        (BN parameters, biases and buffers get no entry: they never move).
    """
    direction = {}
    for name, w in _moving_weights(model).items():
        d = torch.randn(w.shape, generator=generator, dtype=torch.float32)  # CPU, so seeds agree across devices
        w_norm = w.detach().float().cpu().flatten(1).norm(dim=1)  # (out,)
        d_norm = d.flatten(1).norm(dim=1)  # (out,)
        scale = (w_norm / d_norm.clamp_min(1e-10)).view(-1, *([1] * (w.dim() - 1)))
        direction[name] = (d * scale).to(device=w.device, dtype=w.dtype)
    return direction




def line(model_init: nn.Module, model_final: nn.Module, x: torch.Tensor, y: torch.Tensor, points: int = 21,
         extend: float = 0.25, progress: Callable | None = None, should_stop: Callable | None = None) -> dict:
    """Loss along theta(a) = (1 - a) theta_init + a theta_final, for a from -extend to 1 + extend.

    The 1-D interpolation plot (Goodfellow et al. 2015, used by Li et al. 2018, section 3). Only conv and
    linear weights are interpolated; BN parameters, BN statistics and biases are the final model's, so
    a = 1 is the trained net and a = 0 is the initial weights seen through the trained BN layers.

    Args:
        model_init, model_final: two nets of the same architecture (neither is changed).
        x: (N, C, H, W) images; y: (N,) labels (e.g. `landscape_subset`).
        points: grid points on [-extend, 1 + extend]; a = 0 and a = 1 are always added to the grid.
        progress: called with the fraction done after each point. should_stop: checked before each point.
    Returns:
        {"alpha": [...], "loss": [...], "stopped": bool}; on a stop, the losses computed so far.
    """
    if points < 2 or extend < 0:
        raise ValueError("A line needs at least 2 points and an extension of 0 or more.")
    work = copy.deepcopy(model_final)
    weights = _moving_weights(work)
    init = _moving_weights(model_init)
    if init.keys() != weights.keys() or any(init[n].shape != weights[n].shape for n in weights):
        raise ValueError("The initial and final models must have the same architecture.")
    start = {n: p.detach().to(weights[n].device).clone() for n, p in init.items()}
    end = {n: p.detach().clone() for n, p in weights.items()}
    grid = [-extend + (1 + 2 * extend) * k / (points - 1) for k in range(points)]
    alphas = sorted({round(a, 12) + 0.0 for a in grid} | {0.0, 1.0})  # rounding merges near-duplicates of 0, 1
    losses: list[float] = []
    for i, a in enumerate(alphas):
        if _stopped(should_stop):
            return {"alpha": alphas[:len(losses)], "loss": losses, "stopped": True}
        with torch.no_grad():
            for n, p in weights.items():
                torch.lerp(start[n], end[n], a, out=p.data)  # (1 - a) init + a final, in place
        losses.append(loss_at(work, x, y))
        if progress is not None:
            progress((i + 1) / len(alphas))
    return {"alpha": alphas, "loss": losses, "stopped": False}


def surface(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 21, span: float = 1.0, seed: int = 0,
            progress: Callable | None = None, should_stop: Callable | None = None) -> dict:
    """A 2-D slice L(theta* + a d1 + b d2) around the trained weights, a and b in linspace(-span, span, steps).

    Li et al. 2018, Figure 5: without shortcuts the slice turns chaotic as depth grows; with them it stays
    smooth. d1 and d2 are filter-normalised random directions drawn from one generator seeded with `seed`.
    Works on a deep copy, so the caller's model is unchanged.

    Args:
        model: the trained net. x: (N, C, H, W) images; y: (N,) labels (e.g. `landscape_subset`).
        steps: grid points per axis. span: half-width of the grid, in units of the directions.
        progress: called with the fraction done after each row. should_stop: checked before each point.
    Returns:
        {"alpha": [steps], "beta": [steps], "loss": steps x steps list, "seed": int, "subset": N,
        "stopped": bool}. loss[i][j] is at (alpha[j], beta[i]): rows follow beta, as plotly's z expects.
        On a stop, points not computed are None.
    """
    if steps < 2 or span <= 0:
        raise ValueError("A landscape needs at least 2 steps per axis and a span above 0.")
    check_pair(x, y)
    work = copy.deepcopy(model)
    weights = _moving_weights(work)
    generator = torch.Generator().manual_seed(seed)
    d1 = filter_normalized_direction(work, generator)
    d2 = filter_normalized_direction(work, generator)
    centre = {n: p.detach().clone() for n, p in weights.items()}
    axis = [span * (2 * k - (steps - 1)) / (steps - 1) for k in range(steps)]  # exact 0 in the middle
    loss: list[list[float | None]] = [[None] * steps for _ in range(steps)]
    result = {"alpha": axis, "beta": axis, "loss": loss, "seed": seed, "subset": int(x.shape[0]), "stopped": False}
    for i, b in enumerate(axis):
        for j, a in enumerate(axis):
            if _stopped(should_stop):
                result["stopped"] = True
                return result
            _move_to(weights, centre, d1, d2, a, b)
            loss[i][j] = loss_at(work, x, y)
        if progress is not None:
            progress((i + 1) / steps)
    return result


def _move_to(weights: dict, centre: dict, d1: dict, d2: dict, a: float, b: float) -> None:
    """Write theta* + a d1 + b d2 into the weights in place."""
    with torch.no_grad():
        for n, p in weights.items():
            torch.add(centre[n], d1[n], alpha=a, out=p.data)
            p.data.add_(d2[n], alpha=b)


def landscape_subset(x: torch.Tensor, y: torch.Tensor, n: int, seed: int = 0) -> tuple:
    """A fixed random subset of the training data, the same for every net of an experiment.

    Li et al. 2018 use the whole training set; a few hundred images show the same shape at a tiny cost (a job takes
    explorer.jobs.request.DEFAULT_SUBSET).

    Args:
        x: (N, C, H, W) images; y: (N,) labels. n: images to keep (all of them if N <= n). seed: which ones.
    Returns:
        (x_subset (n, C, H, W), y_subset (n,)), in a fixed order.
    """
    check_pair(x, y)
    if n < 1:
        raise ValueError(f"The landscape subset needs at least 1 image; got {n}.")
    if x.shape[0] <= n:
        return x, y
    generator = torch.Generator().manual_seed(seed)
    idx = torch.randperm(x.shape[0], generator=generator)[:n].sort().values
    return x[idx.to(x.device)], y[idx.to(y.device)]
