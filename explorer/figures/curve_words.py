"""What the step-by-step loss and the gradient charts show, in words (issue 23): sentences computed from the points
explorer.figures.curves draws (kept apart so curves.py stays within its size budget)."""
from __future__ import annotations

from collections.abc import Sequence

from ..i18n import _, decimal
from .style import RunSeries
from .words import listing, num, sentences

# Two plain nets' final training errors closer than this, in percentage points, are not put in order: one seed's
# noise can swap them, and after an epoch or two every net is still near chance (90 % on ten classes), so a
# sentence calling a one-point gap "the degradation problem" would say more than the run shows.
DEGRADATION_GAP_POINTS = 2.0


def depth_order(shallow: float, deep: float, gap: float = DEGRADATION_GAP_POINTS) -> int:
    """1 when the deeper plain net ends at least `gap` higher than the shallower (the degradation problem, He et al.
    2015), -1 when at least `gap` lower, 0 when closer than that (too close to say)."""
    return 1 if deep - shallow >= gap else -1 if shallow - deep >= gap else 0


def loss_takeaway(drawn: Sequence[tuple[RunSeries, list, list]]) -> str:
    """Where each run's step-by-step loss starts and ends (the points drawn), and which ends lowest."""
    ends = []
    for run, x, y in drawn:
        points = [(e, v) for e, v in zip(x, y, strict=True) if v is not None and e is not None]
        if points:
            ends.append((run, points[0][1], points[-1][0], points[-1][1], len(points)))
    if not ends:
        return _("No training step has been recorded yet: the loss appears after the first few steps.")
    parts = [_loss_part(run, num(a), num(b), n, first=i == 0) for i, (run, a, _x, b, n) in enumerate(ends)]
    epoch = max(t[2] for t in ends)
    text = _("By epoch {epoch} the training loss {runs}.").format(epoch=f"{round(epoch, 2):g}", runs=listing(parts))
    finite = [t for t in ends if t[0].status != "diverged"]
    if len(ends) >= 2 and finite:
        best = min(finite, key=lambda t: t[3])
        text = sentences(text, _("{run} ends lowest.").format(run=best[0].name))
    return text


def _loss_part(run: RunSeries, start: str, end: str, points: int, first: bool) -> str:
    """One run's part of the loss sentence: "goes from 2.3 to 0.5 for plain-20" (the first), "from 2.1 to 0.4 for
    resnet-20" (the others), "is 2.3 for plain-20 (one point so far)"; "(then it diverged)" after a diverged run's."""
    if points <= 1:
        text = _("is {end} for {run} (one point so far)")
    else:
        text = _("goes from {start} to {end} for {run}") if first else _("from {start} to {end} for {run}")
    text = text.format(start=start, end=end, run=run.name)
    return _("{part} (then it diverged)").format(part=text) if run.status == "diverged" else text


def profile_takeaway(profiles: Sequence[tuple[RunSeries, int, float | None, list[str], list[float | None]]]) -> str:
    """At the latest epoch drawn (else the start), each run's gradient norm at the first and the last conv layer."""
    latest = [p for p in profiles if p[1] == 2] or [p for p in profiles if p[1] == 1]
    parts, epoch = [], None
    for run, _x, at, _y, y in latest:
        ends = [v for v in y if v is not None]
        if ends:
            epoch = at
            parts.append(_("for {run}, {first} at the first conv layer and {last} at the last (the first is {ratio} "
                           "times the last)").format(run=run.name, first=num(ends[0]), last=num(ends[-1]),
                                                     ratio=num(ends[0] / ends[-1])))
    if not parts:
        return _("No gradient norm is above zero yet.")
    lead = _("Gradient norms before training (epoch 0): {runs}.") if not epoch else \
        _("Gradient norms at epoch {epoch}: {runs}.")
    return sentences(lead.format(epoch=_epoch(epoch), runs=_("; ").join(parts)),
                     _("A ratio far below 1 means little gradient reaches the layers nearest the input."))


def heatmap_takeaway(name: str, layers: list[str], epochs: list[float | None],
                     z: list[list[float | None]]) -> str:
    """The largest and smallest gradient (log10 norm) of one run's heatmap: which layer, which epoch."""
    cells = [(v, layers[i], epochs[j]) for i, line in enumerate(z) for j, v in enumerate(line) if v is not None]
    if not cells:
        return _("No gradient norm of {run} is above zero yet.").format(run=name)
    hi, lo = max(cells, key=lambda c: c[0]), min(cells, key=lambda c: c[0])
    return _("For {run}, log10 gradient norm runs from {low} ({low_layer}, epoch {low_epoch}) to {high} ({high_layer}, "
             "epoch {high_epoch}) over {layers} conv layers and {epochs} epochs.").format(
        run=name, low=decimal(lo[0], 2), low_layer=lo[1], low_epoch=_epoch(lo[2]), high=decimal(hi[0], 2),
        high_layer=hi[1], high_epoch=_epoch(hi[2]), layers=len(layers), epochs=len(epochs))


def _epoch(e: float | None) -> str:
    return _("unknown") if e is None else f"{e:g}"
