"""The run store's database: schema, engines (SQLite in WAL mode, or PostgreSQL) and the schema version check.

SQLite is the embedded default (`<runs dir>/runs.db`), so the app needs nothing else; `EXPLORER_DATABASE_URL`
(or `--database-url`) names a PostgreSQL server for a shared deployment (`postgresql+psycopg://...`).
Writes are short transactions; on SQLite they take the write lock at BEGIN (BEGIN IMMEDIATE), so two writers
never deadlock on a lock upgrade, and a busy database is waited for (busy_timeout) and retried, never shown.
Size budget: ~200 lines.
"""
from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

T = TypeVar("T")
if TYPE_CHECKING:
    from typing_extensions import Unpack
    Row = sa.Row[Unpack[tuple[Any, ...]]]  # a result row of any width (its columns read by name)

SCHEMA_VERSION = 1  # bump with a migration step in `_migrate` when the tables change
DB_FILE = "runs.db"

metadata = sa.MetaData()

meta = sa.Table("meta", metadata, sa.Column("key", sa.String(64), primary_key=True),
                sa.Column("value", sa.String(200), nullable=False))

experiments = sa.Table(
    "experiments", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False, default="train"),
    sa.Column("owner", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("spec", sa.Text, nullable=False),  # JSON
    sa.Column("spec_hash", sa.String(64)),
    sa.Column("dataset", sa.String(64)),  # from the spec, for filters
    sa.Column("spec_kind", sa.String(32)),  # single, twin, sweep, compare (or the job kind)
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("message", sa.Text),
    sa.Column("worker", sa.String(200)),  # "host:pid:start ticks" of the worker process
    sa.Column("stop_requested", sa.Float),
    sa.Column("progress", sa.Text),  # JSON: the latest progress event
    sa.Column("runs_text", sa.Text, nullable=False, default=""),  # run names, for labels without a join
    sa.Column("resume_state", sa.String(400)),  # path (artefact folder) of the last completed epoch's state
    sa.Column("resume_step", sa.Integer),  # the step that state was saved at
    sa.Index("ix_experiments_status_created", "status", "created"),
    sa.Index("ix_experiments_owner_created", "owner", "created"),
    sa.Index("ix_experiments_spec_hash", "spec_hash"),
    sa.Index("ix_experiments_kind_created", "kind", "created"),
    sa.Index("ix_experiments_created", "created"),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("exp_id", sa.String(64), sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("model", sa.Text, nullable=False),  # JSON: ModelConfig.to_dict()
    sa.Column("depth", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("epochs", sa.Integer, nullable=False, default=0),
    sa.Column("final", sa.Text),  # JSON
    sa.Column("images_per_second", sa.Float),
    sa.Column("params", sa.BigInteger),
    sa.Column("dataset", sa.String(64)),
    sa.Column("message", sa.Text),
    sa.Column("init_weights", sa.String(400)),  # paths relative to the artefact folder
    sa.Column("final_weights", sa.String(400)),
    sa.Column("weights_bytes", sa.BigInteger, nullable=False, default=0),  # bytes of the files this run wrote
    sa.Index("ix_runs_depth", "depth"),
)

metrics = sa.Table(
    "metrics", metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("exp_id", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(100), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("step", sa.Integer),
    sa.Column("record", sa.Text, nullable=False),  # JSON, as docs/engine.md's metrics.jsonl line
    sa.Index("ix_metrics_run", "exp_id", "run_id", "type", "seq"),
)


class SchemaMismatch(RuntimeError):
    """The database was made by another version of the app (one sentence says which way)."""


def database_url(runs_dir: Path, url: str | None = None) -> str:
    """The database to use: `url`, else EXPLORER_DATABASE_URL, else SQLite in the runs folder."""
    url = url or os.environ.get("EXPLORER_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{Path(runs_dir).resolve() / DB_FILE}"


def make_engines(url: str) -> tuple[sa.Engine, sa.Engine]:
    """(reader, writer) engines for a URL; on SQLite the writer begins with BEGIN IMMEDIATE, both use WAL."""
    if not url.startswith("sqlite"):
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=8)
        return engine, engine
    return _sqlite_engine(url, immediate=False), _sqlite_engine(url, immediate=True)


def _sqlite_engine(url: str, immediate: bool) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: object) -> None:  # a DB-API connection: sqlite3's, untyped here
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" below decides how a transaction starts
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def run_in(engine: sa.Engine, fn: Callable[[sa.Connection], T]) -> T:
    """fn(connection) in one transaction on this engine (a write, or a consistent read snapshot), retried while
    the database is busy."""
    def attempt() -> T:
        with engine.begin() as conn:
            return fn(conn)
    return retrying(attempt)


def retrying(fn: Callable[[], T], attempts: int = 8) -> T:
    """Run fn(); a busy SQLite database ("database is locked") or a PostgreSQL serialisation failure is retried."""
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            text = str(exc).lower()
            transient = "locked" in text or "busy" in text or "could not serialize" in text or "deadlock" in text
            if not transient or attempt == attempts - 1:
                raise
            time.sleep(min(1.0, 0.02 * 2 ** attempt) * (0.5 + random.random()))
    raise ValueError(f"retrying needs at least one attempt; got {attempts}.")


CLAIM_LOCK = 0x6578706C  # "expl": the PostgreSQL advisory lock that job managers' claims take in turn


def claim_lock(conn: sa.Connection) -> None:
    """Hold the claim lock until this transaction ends, so claims that count running jobs never interleave
    (several app replicas on one PostgreSQL database). SQLite's writer holds the whole database from BEGIN
    IMMEDIATE already."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})


def ensure_schema(writer: sa.Engine) -> None:
    """Create the tables on a new database; refuse one made by another schema version (one sentence)."""
    def create() -> int:
        with writer.begin() as conn:
            metadata.create_all(conn, checkfirst=True)
            row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
            if row is None:
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                return SCHEMA_VERSION
            return int(row[0])
    try:
        found = retrying(create)
    except sa.exc.IntegrityError:  # another process created it at the same moment
        found = retrying(create)
    if found != SCHEMA_VERSION:
        newer = found > SCHEMA_VERSION
        raise SchemaMismatch(
            f"The run database has schema version {found} but this app reads version {SCHEMA_VERSION}: "
            + ("upgrade the app to read it." if newer else "run `python -m explorer import-store` from a "
               "backup, or start with an empty runs folder."))
