"""Disk budgets for weights: a total and a per-owner cap; the oldest finished runs' weights are pruned first.

A class server keeps a semester of runs; weights are most of its disk. When the weights kept (init.pt, final.pt
and the per-epoch snapshots of explorer.store.snapshots, all counted in runs.weights_bytes when written, so
nothing is scanned to count them) exceed a budget, the oldest finished experiments lose first their snapshots
(the least needed: the optimiser's path then says the run kept none), then their weight files (their metrics
and curves stay), whoever's they are for the total, the owner's own for a per-owner budget. A file shared by
lineage twins is removed only when no run refers to it any more. Budgets are checked after each job ends; only
pruning lists folders (one per run it looks at).
Budgets come from EXPLORER_DISK_BUDGET_MB and EXPLORER_OWNER_DISK_BUDGET_MB.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import sqlalchemy as sa

from ..i18n import N_
from . import db
from .runstore import RunStore
from .snapshots import drop_snapshots

BATCH = 50
# Stored in English with the run (pages may show it through _()).
PRUNED = N_("Its weights were pruned to keep the server within its disk budget; its curves are kept.")


@dataclass(frozen=True)
class DiskBudget:
    total_bytes: int | None = None  # None: no cap
    owner_bytes: int | None = None

    @classmethod
    def from_env(cls) -> DiskBudget:
        def mb(name: str) -> int | None:
            try:
                return int(float(os.environ[name]) * 2**20) if os.environ.get(name) else None
            except ValueError:
                return None
        return cls(mb("EXPLORER_DISK_BUDGET_MB"), mb("EXPLORER_OWNER_DISK_BUDGET_MB"))


def weights_bytes(store: RunStore, owner: str | None = None) -> int:
    """Bytes of weights kept (one owner's, when given)."""
    r, e = db.runs.c, db.experiments.c
    q = sa.select(sa.func.coalesce(sa.func.sum(r.weights_bytes), 0)).select_from(
        db.runs.join(db.experiments, r.exp_id == e.id))
    if owner is not None:
        q = q.where(e.owner == owner)
    return int(store.select(q)[0][0])


def enforce(store: RunStore, budget: DiskBudget) -> int:
    """Prune the oldest finished runs' weights until both budgets hold; returns the bytes freed."""
    freed = 0
    if budget.total_bytes is not None:
        freed += _prune(store, None, weights_bytes(store) - budget.total_bytes)
    if budget.owner_bytes is not None:
        r, e = db.runs.c, db.experiments.c
        q = sa.select(e.owner, sa.func.sum(r.weights_bytes)).select_from(
            db.runs.join(db.experiments, r.exp_id == e.id)).group_by(e.owner)
        owners = store.select(q.having(sa.func.sum(r.weights_bytes) > budget.owner_bytes))
        for owner, used in owners:
            freed += _prune(store, owner, int(used) - budget.owner_bytes)
    return freed


def _prune(store: RunStore, owner: str | None, excess: int) -> int:
    """Free `excess` bytes: the oldest finished runs' snapshots first, then their init and final weights."""
    freed = _prune_snapshots(store, owner, excess)
    return freed + (_prune_weights(store, owner, excess - freed) if excess - freed > 0 else 0)


def _finished(owner: str | None) -> sa.Select:
    """The finished runs that still count bytes (one owner's, when given), oldest first."""
    r, e = db.runs.c, db.experiments.c
    q = sa.select(r.exp_id, r.id, r.weights_bytes, r.init_weights, r.final_weights).select_from(
        db.runs.join(db.experiments, r.exp_id == e.id)).where(
        (r.weights_bytes > 0) & e.status.not_in(["queued", "running"]))
    if owner is not None:
        q = q.where(e.owner == owner)
    return q.order_by(e.created.asc(), r.exp_id, r.position)


def _prune_snapshots(store: RunStore, owner: str | None, excess: int) -> int:
    """Delete the snapshots of the oldest finished runs (one folder listing per run looked at)."""
    freed, offset = 0, 0
    while excess - freed > 0:
        rows = store.select(_finished(owner).limit(BATCH).offset(offset))
        if not rows:
            return freed
        offset += len(rows)
        for exp_id, run_id, size, _x, _y in rows:
            got = drop_snapshots(store, exp_id, run_id)
            freed += got
            if got >= int(size):
                offset -= 1  # it counted only snapshots (now 0 bytes): it left the list
            if excess - freed <= 0:
                return freed
    return freed


def _prune_weights(store: RunStore, owner: str | None, excess: int) -> int:
    freed = 0
    while excess - freed > 0:
        rows = store.select(_finished(owner).limit(BATCH))
        if not rows:
            return freed
        for exp_id, run_id, size, init, final in rows:
            store.update_run(exp_id, run_id, init_weights=None, final_weights=None, weights_bytes=0, message=PRUNED)
            for rel in (init, final):
                if rel and not _still_referenced(store, rel):
                    store.artefacts.delete(rel)  # here and at a remote artefact location
            drop_snapshots(store, exp_id, run_id)  # any left (written after the first pass looked)
            freed += int(size)
            if excess - freed <= 0:
                return freed
    return freed


def _still_referenced(store: RunStore, rel: str) -> bool:
    r = db.runs.c
    return bool(store.select(sa.select(r.id).where((r.init_weights == rel) | (r.final_weights == rel)).limit(1)))
