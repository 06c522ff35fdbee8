"""What the step-by-step loss and the gradient charts show, in words (issue 23): sentences computed from the points
explorer.figures.curves draws (kept apart so curves.py stays within its size budget)."""
from __future__ import annotations

from collections.abc import Sequence

from .style import RunSeries
from .words import listing, num


def loss_takeaway(drawn: Sequence[tuple[RunSeries, list, list]]) -> str:
    """Where each run's step-by-step loss starts and ends (the points drawn), and which ends lowest."""
    ends = []
    for run, x, y in drawn:
        points = [(e, v) for e, v in zip(x, y, strict=True) if v is not None and e is not None]
        if points:
            ends.append((run, points[0][1], points[-1][0], points[-1][1], len(points)))
    if not ends:
        return "No training step has been recorded yet: the loss appears after the first few steps."
    parts = [(f"{'goes ' if i == 0 else ''}from {num(a)} to {num(b)} for {run.name}" if n > 1
              else f"is {num(b)} for {run.name} (one point so far)")
             + (" (then it diverged)" if run.status == "diverged" else "") for i, (run, a, _, b, n) in enumerate(ends)]
    epoch = max(t[2] for t in ends)
    text = f"By epoch {round(epoch, 2):g} the training loss " + listing(parts) + "."
    finite = [t for t in ends if t[0].status != "diverged"]
    if len(ends) >= 2 and finite:
        best = min(finite, key=lambda t: t[3])
        text += f" {best[0].name} ends lowest."
    return text


def profile_takeaway(profiles: Sequence[tuple[RunSeries, int, float | None, list[str], list[float | None]]]) -> str:
    """At the latest epoch drawn (else the start), each run's gradient norm at the first and the last conv layer."""
    latest = [p for p in profiles if p[1] == 2] or [p for p in profiles if p[1] == 1]
    parts, epoch = [], None
    for run, _, at, _, y in latest:
        ends = [v for v in y if v is not None]
        if ends:
            epoch = at
            parts.append(f"for {run.name}, {num(ends[0])} at the first conv layer and {num(ends[-1])} at the last "
                         f"(the first is {num(ends[0] / ends[-1])} times the last)")
    if not parts:
        return "No gradient norm is above zero yet."
    when = "before training (epoch 0)" if not epoch else f"at epoch {_epoch(epoch)}"
    return (f"Gradient norms {when}: " + "; ".join(parts) + ". A ratio far below 1 means little gradient reaches "
            "the layers nearest the input.")


def heatmap_takeaway(name: str, layers: list[str], epochs: list[float | None],
                     z: list[list[float | None]]) -> str:
    """The largest and smallest gradient (log10 norm) of one run's heatmap: which layer, which epoch."""
    cells = [(v, layers[i], epochs[j]) for i, line in enumerate(z) for j, v in enumerate(line) if v is not None]
    if not cells:
        return f"No gradient norm of {name} is above zero yet."
    hi, lo = max(cells, key=lambda c: c[0]), min(cells, key=lambda c: c[0])
    return (f"For {name}, log10 gradient norm runs from {lo[0]:.2f} ({lo[1]}, epoch {_epoch(lo[2])}) to "
            f"{hi[0]:.2f} ({hi[1]}, epoch {_epoch(hi[2])}) over {len(layers)} conv layers and {len(epochs)} epochs.")


def _epoch(e: float | None) -> str:
    return "unknown" if e is None else f"{e:g}"
