"""Rows <-> records for the run store: what a new row holds, how a row becomes a typed record, filters as SQL.

A row that cannot become a record (a spec that is not a JSON object, a run without a name, a creation time
that is not a number, 10^30 epochs) raises DamagedRecord; listings skip it and report its id.
Size budget: ~150 lines.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import db
from .records import MAX_EPOCHS, STATUSES, DamagedRecord, Experiment, Filter, Final, Progress, Run, run_slug

if TYPE_CHECKING:
    from .db import Row


def _json(text: str | None, what: str, exp_id: str) -> Any:  # whatever JSON the column holds; callers check it
    try:
        return json.loads(text) if text else None
    except (TypeError, ValueError):
        raise DamagedRecord(f"Experiment {exp_id} has a damaged {what}; it is skipped.") from None


def _depth(model: dict[str, Any]) -> int | None:
    try:
        from ..nets.config import ModelConfig
        return ModelConfig.from_dict(model).num_layers
    except Exception:  # noqa: BLE001 - an unreadable config has no depth; the row is still listed
        return None


def experiment_row(exp_id: str, spec: dict, runs: list[dict], owner: str | None, spec_hash: str | None, kind: str,
                   created: float, status: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The experiments row of a new (or imported) experiment."""
    data = spec.get("data") if isinstance(spec, dict) else None
    return {"id": exp_id, "kind": kind or "train", "owner": owner, "status": status, "spec": json.dumps(spec),
            "spec_hash": spec_hash, "dataset": data.get("name") if isinstance(data, dict) else None,
            "spec_kind": (spec.get("kind") if isinstance(spec, dict) else None) or kind, "created": created,
            "runs_text": ", ".join(str(r.get("name")) for r in runs)[:2000], **fields}


def run_row(exp_id: str, position: int, run: dict) -> dict:
    """The runs row of one run of a new (or imported) experiment."""
    raw = run.get("model")
    model = raw if isinstance(raw, dict) else {}
    final = run.get("final")
    return {"exp_id": exp_id, "id": run_slug(run.get("id") or run["name"]), "position": position, "weights_bytes": 0,
            "name": str(run["name"]), "model": json.dumps(model), "depth": _depth(model),
            "status": run.get("status", "queued"), "epochs": run.get("epochs", 0),
            "final": json.dumps(final) if isinstance(final, dict) else None,
            **{k: run.get(k) for k in ("images_per_second", "params", "dataset", "message", "init_weights",
                                       "final_weights") if k in run}}


def run_from_row(row: Row) -> Run:
    r = row._mapping
    model = _json(r["model"], "run config", r["exp_id"])
    epochs = r["epochs"]
    if not isinstance(r["name"], str) or not r["name"] or not isinstance(model, dict) or \
            not isinstance(epochs, int) or not 0 <= epochs <= MAX_EPOCHS:
        raise DamagedRecord(f"Experiment {r['exp_id']} has a damaged run record; it is skipped.")
    return Run(exp_id=r["exp_id"], id=r["id"], name=r["name"], model=model, status=str(r["status"]), epochs=epochs,
               final=Final.from_dict(_json(r["final"], "run result", r["exp_id"])),
               images_per_second=_finite(r["images_per_second"]), params=r["params"], dataset=r["dataset"],
               message=r["message"], depth=r["depth"], init_weights=r["init_weights"],
               final_weights=r["final_weights"])


def _finite(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def experiment_from_row(row: Row, runs: tuple[Run, ...]) -> Experiment:
    r = row._mapping
    spec = _json(r["spec"], "spec", r["id"])
    created = r["created"]
    if not isinstance(spec, dict) or isinstance(created, bool) or not isinstance(created, (int, float)) \
            or r["status"] not in STATUSES:
        raise DamagedRecord(f"Experiment {r['id']} has a damaged record (its spec, status or creation time); "
                            "it is skipped.")
    return Experiment(id=r["id"], kind=r["kind"] or "train", owner=r["owner"], status=r["status"], spec=spec,
                      spec_hash=r["spec_hash"], created=float(created), started=_finite(r["started"]),
                      finished=_finite(r["finished"]), message=r["message"], worker=r["worker"],
                      resumable=bool(r["resume_state"]), progress=Progress.from_dict(_json(r["progress"], "progress",
                                                                                          r["id"])), runs=runs)


def records_from_rows(rows: Sequence[Row], with_runs: bool,
                      run_rows: Callable[[list[str]], Iterable[Row]]) -> tuple[list[Experiment], list[str]]:
    """([Experiment, ...], [ids of damaged rows]) for experiment rows, in their order; run_rows(ids) fetches runs."""
    runs: dict[str, tuple[Run, ...] | None] = {}
    if with_runs:
        for row in run_rows([r._mapping["id"] for r in rows]):
            exp_id = row._mapping["exp_id"]
            try:
                run = run_from_row(row)
            except DamagedRecord:
                runs[exp_id] = None
                continue
            kept = runs.get(exp_id, ())
            if kept is not None:
                runs[exp_id] = (*kept, run)
    items: list[Experiment] = []
    damaged: list[str] = []
    for row in rows:
        exp_id = row._mapping["id"]
        try:
            kept = runs.get(exp_id, ())
            if kept is None:
                raise DamagedRecord(exp_id)
            items.append(experiment_from_row(row, kept))
        except DamagedRecord:
            damaged.append(exp_id)
    return items, damaged


def filter_clause(filt: Filter) -> sa.ColumnElement[bool]:
    """The SQL condition for a runstore.Filter."""
    e = db.experiments.c
    cond: sa.ColumnElement[bool] = sa.true()
    for column, value in ((e.kind, filt.kind), (e.owner, filt.owner), (e.dataset, filt.dataset),
                          (e.spec_kind, filt.spec_kind), (e.status, filt.status)):
        if value is not None:
            cond = cond & (column == value)
    if filt.before is not None:
        cond = cond & (e.created < filt.before)
    if filt.exclude_active:
        cond = cond & e.status.not_in(["queued", "running"])
    if filt.depth is not None:
        rc = db.runs.c
        cond = cond & sa.exists().where((rc.exp_id == e.id) & (rc.depth == int(filt.depth)))
    return cond


def owner_counts(conn: sa.Connection, owner: str | None, since: float | None = None) -> dict[str, int]:
    """{status: number of this owner's experiments}, plus "since": how many were created after `since`."""
    e = db.experiments.c
    recent = sa.func.sum(sa.case((e.created >= since, 1), else_=0)) if since is not None else sa.literal(0)
    rows = conn.execute(sa.select(e.status, sa.func.count(), recent).where(e.owner == owner).group_by(e.status)).all()
    out = {status: int(n) for status, n, _ in rows}
    if since is not None:
        out["since"] = sum(int(r or 0) for _, _, r in rows)
    return out


def insert_metrics(conn: sa.Connection, rows: list[dict[str, Any]], tries: list[int]) -> None:
    """Insert metric rows; `tries` counts this write's attempts (the caller's list, appended to here). A retry (the
    first try may have committed before the connection dropped) first removes the rows with the same run, type and
    step, so a record is never stored twice."""
    tries.append(1)
    if len(tries) > 1:
        m = db.metrics.c
        for row in rows:
            if row["step"] is not None:
                conn.execute(db.metrics.delete().where((m.exp_id == row["exp_id"]) & (m.run_id == row["run_id"])
                                                       & (m.type == row["type"]) & (m.step == row["step"])))
    conn.execute(db.metrics.insert(), rows)


STARTS_KEPT_S = 8 * 24 * 3600  # a start is counted for the hour after it, and while its job is queued or running
#                                (at most the longest job budget, 7 days, plus a day in the queue)


def record_start(conn: sa.Connection, exp_id: str, owner: str | None, client: str | None, now: float) -> None:
    """Note a submitted job in `starts` (deleting the job keeps this row), and forget starts past STARTS_KEPT_S."""
    s = db.starts.c
    conn.execute(db.starts.delete().where(s.time < now - STARTS_KEPT_S))
    conn.execute(db.starts.insert().values(exp_id=exp_id, owner=owner, client=client, time=now))


def start_counts(conn: sa.Connection, owner: str | None, client: str | None, since: float) -> dict[str, int]:
    """What the job limits read, under the claim lock: this owner's experiments by status, "since": the owner's
    starts after `since` (deleted jobs included), and for the client (None: not counted) "client_since": its
    starts after `since` and "client_active": its jobs queued or running."""
    out = owner_counts(conn, owner)
    s, e = db.starts.c, db.experiments.c
    out["since"] = int(conn.execute(sa.select(sa.func.count()).select_from(db.starts)
                                    .where((s.owner == owner) & (s.time >= since))).scalar_one())
    if client is not None:
        out["client_since"] = int(conn.execute(sa.select(sa.func.count()).select_from(db.starts)
                                               .where((s.client == client) & (s.time >= since))).scalar_one())
        out["client_active"] = int(conn.execute(
            sa.select(sa.func.count()).select_from(db.starts.join(db.experiments, e.id == s.exp_id))
            .where((s.client == client) & e.status.in_(["queued", "running"]))).scalar_one())
    return out
