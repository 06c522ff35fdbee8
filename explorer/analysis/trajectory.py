"""The optimiser's path on the loss landscape, in the plane of the path's two principal directions.

Li, Xu, Taylor, Studer, Goldstein 2018, section 7: random directions miss the path of training (in high
dimensions they are nearly orthogonal to it). Instead, stack theta_i - theta_final over the saved epochs,
take its first two principal directions as the plane, project the path onto it and draw the loss
L(theta_final + a d1 + b d2) as contours underneath. As in explorer.analysis.landscape, only conv and
linear weights move; BN parameters, BN statistics and biases keep their trained values (eval mode).
Size budget: ~150 lines.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from .evaluation import check_pair, loss_at


def _path_weights(state: dict) -> dict:
    """The weights the path is traced in: conv and linear weights (dim >= 2), as in the landscape."""
    return {n: t for n, t in state.items() if t.dim() >= 2 and t.is_floating_point()}


def _flat(state: dict, names: list) -> torch.Tensor:
    return torch.cat([state[n].detach().float().cpu().flatten() for n in names])  # (P,)


def pca_plane(snapshots: list, final: dict) -> dict:
    """The path's plane: the first two principal directions of theta_i - theta_final (Li et al. 2018, §7).

    Args:
        snapshots: state_dicts along training, oldest first (the initial weights first); at least two that
            differ from the final weights. final: the trained state_dict (the plane's origin).
    Returns:
        {"names": moving weight names, "d1", "d2": (P,) orthonormal directions, "explained": [share of the
        path's variance along d1, along d2], "alpha", "beta": each snapshot's coordinates on the plane}.
    Raises:
        ValueError: one sentence, with fewer than two snapshots away from the final weights.
    """
    names = list(_path_weights(final))
    end = _flat(final, names)
    rows = torch.stack([_flat(s, names) - end for s in snapshots])  # (n, P)
    if rows.shape[0] < 2 or int((rows.norm(dim=1) > 0).sum()) < 2:
        raise ValueError("The path needs at least two saved weights besides the final ones; train a new run, "
                         "which keeps a snapshot every epoch.")
    centred = rows - rows.mean(dim=0, keepdim=True)  # principal directions of the centred points
    _, s, vh = torch.linalg.svd(centred.double(), full_matrices=False)
    d1, d2 = vh[0].float(), vh[1].float()  # unit length and orthogonal
    explained = (s ** 2 / (s ** 2).sum()).tolist()
    return {"names": names, "d1": d1, "d2": d2, "explained": [explained[0], explained[1]],
            "alpha": (rows @ d1).tolist(), "beta": (rows @ d2).tolist()}


def _axis(coords: list, steps: int, margin: float) -> list:
    low, high = min(coords + [0.0]), max(coords + [0.0])
    pad = margin * max(high - low, 1e-3)
    low, high = low - pad, high + pad
    return [low + (high - low) * k / (steps - 1) for k in range(steps)]


def path_surface(model: nn.Module, snapshots: list, x: torch.Tensor, y: torch.Tensor, steps: int = 21,
                 margin: float = 0.25, progress: Callable | None = None,
                 should_stop: Callable | None = None) -> dict:
    """The loss on the path's PCA plane around the trained weights, with the path projected onto it.

    Args:
        model: the trained net (unchanged: the work is done on a deep copy).
        snapshots: state_dicts along training, initial weights first (see `pca_plane`).
        x: (N, C, H, W) images; y: (N,) labels. steps: grid points per axis; the grid covers the path plus
            `margin` of its extent on each side. progress: fed the fraction done after each row;
            should_stop: checked before each point.
    Returns:
        {"alpha", "beta": [steps], "loss": steps x steps (rows follow beta; None where not computed),
        "path": {"alpha", "beta"} per snapshot then the final weights at (0, 0), "explained": [r1, r2],
        "plane": "pca", "subset": N, "stopped": bool}.
    """
    if steps < 2 or margin < 0:
        raise ValueError("The path's landscape needs at least 2 steps per axis and a margin of 0 or more.")
    check_pair(x, y)
    work = copy.deepcopy(model)
    plane = pca_plane(snapshots, work.state_dict())
    params = dict(work.named_parameters())
    weights = [params[n] for n in plane["names"]]
    centre = [p.detach().clone() for p in weights]
    d1, d2 = (_unflatten(plane[k], centre) for k in ("d1", "d2"))
    alphas, betas = _axis(plane["alpha"], steps, margin), _axis(plane["beta"], steps, margin)
    result = {"alpha": alphas, "beta": betas, "loss": [[None] * steps for _ in range(steps)],
              "path": {"alpha": plane["alpha"] + [0.0], "beta": plane["beta"] + [0.0]},
              "explained": plane["explained"], "plane": "pca", "subset": int(x.shape[0]), "stopped": False}
    for i, b in enumerate(betas):
        for j, a in enumerate(alphas):
            if should_stop is not None and should_stop():
                result["stopped"] = True
                return result
            with torch.no_grad():
                for p, c, u, v in zip(weights, centre, d1, d2, strict=True):
                    torch.add(c, u, alpha=a, out=p.data)  # theta* + a d1 + b d2, in place
                    p.data.add_(v, alpha=b)
            result["loss"][i][j] = loss_at(work, x, y)
        if progress is not None:
            progress((i + 1) / steps)
    return result


def _unflatten(flat: torch.Tensor, like: list) -> list:
    """Split a (P,) vector into tensors shaped (and placed) like `like`."""
    out, start = [], 0
    for t in like:
        out.append(flat[start:start + t.numel()].view_as(t).to(device=t.device, dtype=t.dtype))
        start += t.numel()
    return out
