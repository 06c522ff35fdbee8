"""The run store: experiments, runs, progress, stop requests and metrics in a database; weights as files.

    database (explorer.store.db)     experiments, runs, metrics: SQLite `<runs dir>/runs.db` (WAL) by default,
                                     PostgreSQL when EXPLORER_DATABASE_URL / --database-url names one
    <runs dir>/<experiment id>/      worker.log, resume.pt (the last completed epoch's state)
    <runs dir>/<experiment id>/<run id>/init.pt, final.pt, landscape.json   (paths referenced from the database)
    EXPLORER_ARTIFACTS_URL / --artifacts-url: the same paths at an fsspec URL instead, the runs folder then being
    this machine's scratch space and cache (explorer.store.artefacts)

Every write is one short transaction, so a killed worker leaves no half-written row, and each update sets only
the columns it names (no read-modify-write), so concurrent writers never lose an update. Reads hand out typed
records (explorer.store.records). Weights are read only with weights_only=True. Size budget: ~420 lines.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from ..nets.preprocessing import Preprocessing
from . import db
from .artefacts import Artefacts
from .host import atomic_write_json, is_local, load_checkpoint, pid_alive, read_json, worker_alive, worker_handle
from .records import ACTIVE, FINAL_KEYS, STATUSES, Experiment, Filter, Metric, check_name, run_slug

if TYPE_CHECKING:
    from torch import nn

    from .db import Row

T = TypeVar("T")
Admit = Callable[[Callable[[float], dict[str, int]]], None]  # the job manager's check of an owner's counts

log = logging.getLogger(__name__)

__all__ = ["STATUSES", "ACTIVE", "FINAL_KEYS", "RunStore", "Filter", "Page", "default_runs_dir", "run_slug",
           "pid_alive", "worker_handle", "worker_alive", "load_checkpoint", "read_json",
           "atomic_write_json", "is_local"]

TRAINING, EVERY_KIND = Filter(), Filter(kind=None)  # the default filters: training runs; jobs of every kind
MAX_METRIC_ROWS = 200_000  # one read of a run's metrics returns at most this many records (newest dropped)
PATIENCE_S = 5.0  # how long the app waits for a database that does not answer before saying so (a worker waits longer)


def default_runs_dir() -> Path:
    """EXPLORER_RUNS_DIR, else ./runs."""
    return Path(os.environ.get("EXPLORER_RUNS_DIR") or "runs")


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        value = default
    return value if 0 <= value <= 86_400 else default


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _loads(text: str | None, default: Any = None) -> Any:  # JSON of any shape; callers check it
    try:
        return json.loads(text) if text else default
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class Page:
    """One page of experiments, newest first: the records, how many match in all, the ids of damaged rows skipped."""

    items: tuple
    total: int
    damaged: tuple = ()

    @property
    def skipped(self) -> int:
        return len(self.damaged)


class RunStore:
    """Experiments in a database, artefacts under one folder. Workers write; pages, the CLI and the job manager read."""

    def __init__(self, root: str | os.PathLike[str] | None = None, database_url: str | None = None,
                 artefacts_url: str | None = None, patience_s: float | None = None, check: bool = True) -> None:
        """patience_s: how long a transaction waits for a database that is away (EXPLORER_DB_PATIENCE_S, else
        PATIENCE_S), then db.StoreUnavailable; check: read a SQLite file whole once (db.ensure_schema). A store that
        cannot be used raises db.StoreError with one sentence."""
        self.root = Path(root) if root is not None else default_runs_dir()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in its place, no permission, a full disk
            raise db.folder_refused(self.root, exc.strerror) from exc
        self.url = db.database_url(self.root, database_url)
        self.artefacts = Artefacts(self.root, artefacts_url)  # the runs folder, or EXPLORER_ARTIFACTS_URL
        self.patience_s = patience_s if patience_s is not None else _env_seconds("EXPLORER_DB_PATIENCE_S", PATIENCE_S)
        self._read, self._write = db.make_engines(self.url, busy_s=min(30.0, max(1.0, self.patience_s)))
        db.ensure_schema(self._write, self.patience_s, check)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def close(self) -> None:
        """Release the database connections (tests and benchmarks that make many stores)."""
        self._read.dispose()
        self._write.dispose()

    def _tx(self, fn: Callable[[sa.Connection], T]) -> T:
        """fn(connection) in one write transaction, retried while the database is busy."""
        return db.run_in(self._write, fn, self.patience_s)

    def _q(self, fn: Callable[[sa.Connection], T]) -> T:
        """fn(connection) on a read connection (a consistent snapshot), retried while the database is busy."""
        return db.run_in(self._read, fn, self.patience_s)

    def ping(self, patience_s: float = 1.0) -> None:  # db.StoreError, one sentence, unless the database answers
        db.run_in(self._read, lambda c: c.execute(sa.text("SELECT 1")).scalar(), patience_s)

    def select(self, query: sa.Executable) -> list[Row]:
        """The rows of a read-only query on the store's tables (explorer.store's own modules build them)."""
        return self._q(lambda c: list(c.execute(query).all()))

    def _run_rows(self, exp_ids: list[str]) -> list[Row]:
        """The run rows of some experiments, in each one's run order."""
        rc = db.runs.c
        return self._q(lambda c: list(c.execute(sa.select(db.runs).where(rc.exp_id.in_(exp_ids))
                                                .order_by(rc.exp_id, rc.position)).all())) if exp_ids else []

    # ------------------------------------------------------------------ paths
    def exp_dir(self, exp_id: str) -> Path:
        if not isinstance(exp_id, str) or not exp_id or "/" in exp_id or exp_id.startswith("."):
            raise ValueError(f"Not an experiment id: {str(exp_id)[:40]!r}.")
        return self.root / exp_id

    def run_dir(self, exp_id: str, run_id: str) -> Path:
        return self.exp_dir(exp_id) / run_slug(run_id)

    def artefact(self, relative: str | None) -> Path | None:
        """The local file a database path names, only if it is a regular file inside the store (no link out);
        with a remote artefact location, downloaded first (or taken from this machine's cache)."""
        return self.artefacts.fetch(relative)

    def publish(self, path: Path) -> str:
        """A file just written under the runs folder, made visible to every node; its database path."""
        return self.artefacts.publish(path)

    # ------------------------------------------------------------------ create and update
    def create_experiment(self, spec: dict, runs: list, owner: str | None = None,
                          spec_hash: str | None = None, kind: str = "train", admit: Admit | None = None,
                          client: str | None = None) -> str:
        """A new experiment, status queued, with its runs (and with `admit`, its row in `starts`): one transaction.

        Args:
            spec: the experiment's JSON spec (ExperimentSpec.to_dict()).
            runs: [{"name": ..., "model": ModelConfig dict}, ...]; names must be unique.
            admit: called in that transaction, under the claim lock (so every app replica's requests count), with
                counts(since) -> tables.start_counts(owner, client, since); it raises to refuse (the job limits).
            client: who asked, as the job manager's per-client limits know them (None: not counted by client).
        Returns: the new experiment id.
        """
        names = [check_name(r["name"]) for r in runs]
        if len(set(names)) != len(names) or len({run_slug(n) for n in names}) != len(names):
            raise ValueError(f"Run names must be unique within an experiment; got {names}.")
        exp_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        self.insert_experiment(exp_id, spec, runs, owner=owner, spec_hash=spec_hash, kind=kind, created=time.time(),
                               admit=admit, client=client)
        return exp_id

    def insert_experiment(self, exp_id: str, spec: dict, runs: list, owner: str | None = None,
                          spec_hash: str | None = None, kind: str = "train", created: float = 0.0,
                          status: str = "queued", admit: Admit | None = None, client: str | None = None,
                          **fields: Any) -> None:
        """Insert an experiment row and its run rows as they are (create_experiment and import-store use it); with
        `admit` (a job manager's request), its row in `starts` too."""
        from .tables import experiment_row, record_start, run_row, start_counts
        row = experiment_row(exp_id, spec, runs, owner, spec_hash, kind, created, status, fields)
        rows = [run_row(exp_id, i, r) for i, r in enumerate(runs)]
        tries = [0]

        def write(conn: sa.Connection) -> None:
            tries[0] += 1
            if tries[0] > 1 and conn.execute(sa.select(db.experiments.c.id).where(db.experiments.c.id == exp_id)) \
                    .first() is not None:
                return  # the first try committed before its connection dropped
            if admit is not None:
                db.claim_lock(conn)
                admit(lambda since: start_counts(conn, owner, client, since))
                record_start(conn, exp_id, owner, client, time.time())
            conn.execute(db.experiments.insert().values(**row))
            if rows:
                conn.execute(db.runs.insert(), rows)
        self._tx(write)  # refused by `admit`: no row, no folder
        self.exp_dir(exp_id).mkdir(parents=True, exist_ok=True)

    def has_experiment(self, exp_id: str) -> bool:
        """True when a row with this id exists (damaged or not)."""
        return self._q(lambda c: c.execute(sa.select(db.experiments.c.id).where(db.experiments.c.id == exp_id))
                       .first()) is not None

    def update_experiment(self, exp_id: str, **fields: Any) -> Experiment | None:
        """Set some columns of an experiment (status, started, finished, message, worker); returns it as stored."""
        allowed = {"status", "started", "finished", "message", "worker", "resume_state", "resume_step",
                   "stop_requested", "created"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"Experiments have no field {', '.join(sorted(bad))}.")
        found = self._tx(lambda c: c.execute(db.experiments.update().where(db.experiments.c.id == exp_id)
                                             .values(**fields)).rowcount)
        if not found:
            raise db.experiment_gone(exp_id)
        return self.load_experiment(exp_id, reconcile=False)

    def claim(self, exp_id: str, most_running: int | None = None, most_per_owner: int | None = None) -> bool:
        """Mark a queued experiment running for this process, atomically: False when another job manager (another
        app process or replica) claimed it first, or when `most_running` experiments (`most_per_owner` of its
        owner's) already run. Claims take one lock in turn, so limits counted here hold across every replica.
        The worker's own handle replaces the claim once it starts."""
        e, mark = db.experiments.c, {"worker": f"{socket.gethostname()}:{os.getpid()}:claim", "started": time.time()}
        claim = db.experiments.update().where((e.id == exp_id) & (e.status == "queued")).values(status="running")
        claim = claim.values(**mark)

        def write(conn: sa.Connection) -> int:
            db.claim_lock(conn)
            if conn.execute(sa.select(e.id).where((e.id == exp_id) & (e.status == "running") & (
                    e.worker == mark["worker"]) & (e.started == mark["started"]))).first() is not None:
                return 1  # a retry: the first try committed before its connection dropped
            owners = conn.execute(sa.select(e.owner).where(e.status == "running")).scalars().all()
            owner = conn.execute(sa.select(e.owner).where(e.id == exp_id)).scalar()
            if (most_running is not None and len(owners) >= most_running) or \
                    (most_per_owner is not None and owners.count(owner) >= most_per_owner):
                return 0
            return conn.execute(claim).rowcount
        return bool(self._tx(write))

    def update_run(self, exp_id: str, run_id: str, **fields: Any) -> None:
        """Set some columns of a run (status, epochs, final, images_per_second, params, dataset, message)."""
        if "final" in fields:
            fields["final"] = _dumps(fields["final"]) if fields["final"] is not None else None
        if "model" in fields:
            fields["model"] = _dumps(fields["model"])
        self._tx(lambda c: c.execute(db.runs.update().where((db.runs.c.exp_id == exp_id) &
                                                            (db.runs.c.id == run_slug(run_id))).values(**fields)))

    def update_runs(self, exp_id: str, where_status: Iterable[str] | None = None, **fields: Any) -> None:
        """Set columns of every run of an experiment (only those in `where_status`, when given)."""
        cond = db.runs.c.exp_id == exp_id
        if where_status:
            cond = cond & db.runs.c.status.in_(list(where_status))
        self._tx(lambda c: c.execute(db.runs.update().where(cond).values(**fields)))

    def write_progress(self, exp_id: str, progress: dict) -> None:
        self._tx(lambda c: c.execute(db.experiments.update().where(db.experiments.c.id == exp_id)
                                     .values(progress=_dumps(progress))))

    def append_metrics(self, exp_id: str, run_id: str, records: list) -> None:
        """Append metric records (dicts or Metric) in one transaction: readers see all of them or none."""
        rows = []
        for r in records:
            d = r.to_dict() if isinstance(r, Metric) else dict(r)
            step = d.get("step")
            rows.append({"exp_id": exp_id, "run_id": run_slug(run_id), "type": str(d.get("type")),
                         "step": int(step) if isinstance(step, (int, float)) and abs(step) < 2**31 else None,
                         "record": _dumps(d)})
        if rows:
            from .tables import insert_metrics
            tries: list[int] = []  # a retried insert replaces what its first try may have committed
            self._tx(lambda c: insert_metrics(c, rows, tries))

    # ------------------------------------------------------------------ stop requests
    def request_stop(self, exp_id: str) -> None:
        self._tx(lambda c: c.execute(db.experiments.update().where(db.experiments.c.id == exp_id)
                                     .values(stop_requested=time.time())))

    def stop_requested(self, exp_id: str) -> bool:
        row = self._q(lambda c: c.execute(sa.select(db.experiments.c.stop_requested)
                                          .where(db.experiments.c.id == exp_id)).first())
        return row is None or row[0] is not None  # a deleted job stops too

    # ------------------------------------------------------------------ read
    def read_metrics(self, exp_id: str, run_id: str, kind: str | None = None, after: int = 0,
                     limit: int = MAX_METRIC_ROWS) -> list:
        """Metric records of one run, in order (at most `limit`, those after sequence number `after`)."""
        m = db.metrics.c
        q = sa.select(m.record).where((m.exp_id == exp_id) & (m.run_id == run_slug(run_id)) & (m.seq > after))
        if kind is not None:
            q = q.where(m.type == kind)
        rows = self._q(lambda c: c.execute(q.order_by(m.seq).limit(max(0, int(limit)))).all())
        out = []
        for (text,) in rows:
            d = _loads(text)
            if isinstance(d, dict):
                out.append(Metric.from_dict(d))
        return out

    def metrics_version(self, exp_id: str) -> tuple:
        """(run id, newest metric sequence number) per run: charts change only when this does."""
        m = db.metrics.c
        rows = self._q(lambda c: c.execute(sa.select(m.run_id, sa.func.max(m.seq)).where(m.exp_id == exp_id)
                                           .group_by(m.run_id)).all())
        return tuple(sorted((r, s) for r, s in rows))

    def load_experiment(self, exp_id: str, with_runs: bool = True, reconcile: bool = True) -> Experiment | None:
        """An experiment (with its runs and progress), or None if missing or damaged.

        One that claims to be running but whose worker process is gone is marked interrupted here.
        """
        from .tables import records_from_rows
        rows = self._q(lambda c: c.execute(sa.select(db.experiments).where(db.experiments.c.id == exp_id)).all())
        items, damaged = records_from_rows(rows, with_runs, self._run_rows)
        if damaged:
            log.warning("Experiment %s has a damaged record; it is skipped.", exp_id)
        if not items:
            return None
        exp = items[0]
        if reconcile and exp.status == "running" and exp.worker and not worker_alive(exp.worker):
            return self.mark_interrupted(exp_id, "The worker process ended unexpectedly.")
        return exp

    def mark_interrupted(self, exp_id: str, message: str) -> Experiment | None:
        """The experiment and its active runs become `interrupted` in one transaction: no reader sees one without
        the other (an interrupted experiment whose runs still read `running`)."""
        def both(c: sa.Connection) -> None:
            c.execute(db.experiments.update().where(
                (db.experiments.c.id == exp_id) & db.experiments.c.status.in_(ACTIVE))
                .values(status="interrupted", message=message, finished=time.time()))
            c.execute(db.runs.update().where((db.runs.c.exp_id == exp_id) & db.runs.c.status.in_(list(ACTIVE)))
                      .values(status="interrupted"))
        self._tx(both)
        return self.load_experiment(exp_id, reconcile=False)

    def page(self, filt: Filter = TRAINING, limit: int = 20, offset: int = 0, with_runs: bool = True) -> Page:
        """One page of experiments matching a filter, newest first, with the count of all that match."""
        from .tables import filter_clause, records_from_rows
        e = db.experiments.c
        where = filter_clause(filt)
        q = sa.select(db.experiments).where(where).order_by(e.created.desc(), e.id.desc())
        rows = self._q(lambda c: c.execute(q.limit(max(1, int(limit))).offset(max(0, int(offset)))).all())
        total = self._q(lambda c: c.execute(sa.select(sa.func.count()).select_from(db.experiments)
                                            .where(where)).scalar_one())
        items, damaged = records_from_rows(rows, with_runs, self._run_rows)
        return Page(tuple(items), int(total), tuple(damaged))

    def list_experiments(self, with_runs: bool = True, filt: Filter = EVERY_KIND,
                         limit: int = 100_000) -> list:
        """Experiments matching a filter (every kind by default), newest first; damaged rows are skipped."""
        return list(self.page(filt, limit=limit, with_runs=with_runs).items)

    def with_status(self, statuses: Iterable[str], oldest_first: bool = True, limit: int = 10_000,
                    with_runs: bool = False) -> Page:
        """Experiments in some statuses (what the job manager asks twice a second), by creation time."""
        from .tables import records_from_rows
        e = db.experiments.c
        q = sa.select(db.experiments).where(e.status.in_(list(statuses)))
        q = q.order_by(e.created.asc() if oldest_first else e.created.desc()).limit(limit)
        rows = self._q(lambda c: list(c.execute(q).all()))
        items, damaged = records_from_rows(rows, with_runs, self._run_rows)
        return Page(tuple(items), len(items), tuple(damaged))

    def owner_counts(self, owner: str, since: float | None = None) -> dict:
        """{status: number of this owner's experiments}, plus "since": how many were created after `since`."""
        from .tables import owner_counts
        return self._q(lambda c: owner_counts(c, owner, since))

    def find_by_hash(self, spec_hash: str,
                     statuses: Iterable[str] = ("queued", "running", "completed")) -> Experiment | None:
        """The newest experiment with this spec hash in one of these statuses, or None."""
        e = db.experiments.c
        row = self._q(lambda c: c.execute(sa.select(e.id).where((e.spec_hash == spec_hash)
                                                                & e.status.in_(list(statuses)))
                                          .order_by(e.created.desc()).limit(1)).first())
        return self.load_experiment(row[0], with_runs=False) if row else None

    def typical_duration(self, n: int = 10) -> float:
        """Mean wall time of the newest finished experiments (60 s when there are none yet)."""
        e = db.experiments.c
        rows = self._q(lambda c: c.execute(sa.select(e.started, e.finished).where(
            (e.status == "completed") & e.started.is_not(None) & e.finished.is_not(None))
            .order_by(e.created.desc()).limit(n)).all())
        times = [f - s for s, f in rows if isinstance(s, (int, float)) and isinstance(f, (int, float))]
        return sum(times) / len(times) if times else 60.0

    # ------------------------------------------------------------------ delete
    def delete_experiment(self, exp_id: str) -> None:
        """Delete an experiment's rows (one transaction), then its artefact folder (a link is removed, not followed)."""
        def write(conn: sa.Connection) -> None:
            conn.execute(db.metrics.delete().where(db.metrics.c.exp_id == exp_id))
            conn.execute(db.runs.delete().where(db.runs.c.exp_id == exp_id))
            conn.execute(db.experiments.delete().where(db.experiments.c.id == exp_id))
        self._tx(write)
        d = self.exp_dir(exp_id)
        if d.is_symlink():
            d.unlink()
        else:
            shutil.rmtree(d, ignore_errors=True)
        self.artefacts.delete_folder(exp_id)

    def delete_metrics_after(self, exp_id: str, step: int) -> None:
        """Drop metric records past a step (a resumed run rewrites them from its last completed epoch)."""
        m = db.metrics.c
        self._tx(lambda c: c.execute(db.metrics.delete().where((m.exp_id == exp_id) & (m.step > step))))

    # ------------------------------------------------------------------ weights and artefacts
    def save_weights(self, exp_id: str, run_id: str, which: str, model: nn.Module, model_cfg: dict,
                     preprocessing: Preprocessing, reuse: str | None = None) -> Path:
        """Save state_dict + model config + preprocessing as `which`.pt (atomic) and record its path.

        reuse: an already saved file with identical tensors (a lineage twin's init.pt), referenced instead.
        """
        if which not in ("init", "final"):
            raise ValueError(f"Weights are 'init' or 'final', not {which!r}.")
        path = self.run_dir(exp_id, run_id) / f"{which}.pt"
        if reuse is None:
            from .host import save_atomically
            path.parent.mkdir(parents=True, exist_ok=True)
            state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            save_atomically(path, {"format": "resnet-explorer/1", "state_dict": state, "model": model_cfg,
                                   "preprocessing": preprocessing.to_dict()})  # ENOSPC: OSError, no file left
        relative = reuse or self.publish(path)
        size = 0 if reuse else path.stat().st_size  # a shared file counts once, for the run that wrote it
        rc = db.runs.c
        column = rc[f"{which}_weights"]  # counted once: a retried write whose first try committed adds nothing
        self._tx(lambda c: c.execute(db.runs.update().where((rc.exp_id == exp_id) & (rc.id == run_slug(run_id)))
                                     .values(**{f"{which}_weights": relative, "weights_bytes": rc.weights_bytes
                                                + sa.case((column.is_distinct_from(relative), size), else_=0)})))
        return self.root / relative

    def weights_path(self, exp_id: str, run_id: str, which: str = "final") -> Path:
        """Where a run's weights are (a path that may not exist; `artefact` checks it is a safe regular file)."""
        row = self._q(lambda c: c.execute(sa.select(db.runs.c[f"{which}_weights"]).where(
            (db.runs.c.exp_id == exp_id) & (db.runs.c.id == run_slug(run_id)))).first())
        path = self.artefact(row[0]) if row and row[0] else None
        return path if path is not None else self.run_dir(exp_id, run_id) / f".missing-{which}.pt"

    def has_weights(self, exp_id: str, run_id: str, which: str = "final") -> bool:
        """True when a run's weights are kept (nothing is downloaded to find out)."""
        row = self._q(lambda c: c.execute(sa.select(db.runs.c[f"{which}_weights"]).where(
            (db.runs.c.exp_id == exp_id) & (db.runs.c.id == run_slug(run_id)))).first())
        return row is not None and bool(row[0]) and self.artefacts.exists(row[0])
