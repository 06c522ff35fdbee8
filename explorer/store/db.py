"""The run store's database: schema, engines (SQLite in WAL mode, or PostgreSQL) and the schema version check.

SQLite is the embedded default (`<runs dir>/runs.db`), so the app needs nothing else; `EXPLORER_DATABASE_URL`
(or `--database-url`) names a PostgreSQL server for a shared deployment (`postgresql+psycopg://...`).
Writes are short transactions; on SQLite they take the write lock at BEGIN (BEGIN IMMEDIATE), so two writers
never deadlock on a lock upgrade, and a busy database is waited for (busy_timeout) and retried, never shown.
A database that goes away (a PostgreSQL restart, a file locked by another program) is waited for: every
transaction is retried with growing waits for the store's patience (a worker's is minutes, a page's seconds), then
StoreUnavailable says so in one sentence; a damaged file, an unsupported URL or an unwritable path is a StoreError
with one sentence at once (docs/security.md, "Faults").
Size budget: ~260 lines.
"""
from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from ..i18n import N_, _

T = TypeVar("T")
log = logging.getLogger(__name__)
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


starts = sa.Table(  # every job ever submitted, kept when the job is deleted: the hourly limits count here
    "starts", metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("exp_id", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(64)),
    sa.Column("client", sa.String(100)),  # the client's address (explorer.jobs.request.client_key), or None
    sa.Column("time", sa.Float, nullable=False),
    sa.Index("ix_starts_owner_time", "owner", "time"),
    sa.Index("ix_starts_client_time", "client", "time"),
    sa.Index("ix_starts_exp", "exp_id"),
)


class StoreError(RuntimeError):
    """The run store cannot be used as it is; str() is one sentence for the user (pages show it, the CLI prints
    it and exits with 2)."""


class SchemaMismatch(StoreError):
    """The database was made by another version of the app (one sentence says which way)."""


class StoreUnavailable(StoreError):
    """The database did not answer within the store's patience (a server restarting or stopped, a file locked)."""


def folder_refused(folder: Path, reason: str | None) -> StoreError:
    """The runs folder cannot be made (a file in its place, no permission, a full disk): one sentence."""
    return StoreError(_("The runs folder {path} cannot be made ({reason}).").format(path=folder, reason=reason))


def experiment_gone(exp_id: str) -> FileNotFoundError:
    """An experiment that is not in the database (deleted meanwhile): one sentence."""
    return FileNotFoundError(_("Experiment {id} does not exist (it may have been deleted).").format(id=exp_id))


SCHEMES = ("sqlite", "postgresql")  # the databases the run store is tested on
UNAVAILABLE = N_("The run database is not answering (its server may be stopped or restarting, or its file locked by "
               "another program); try again in a moment.")  # shown through _()
_TRANSIENT_CODES = ("08", "57P", "40001", "40P01", "53")  # connection, shutdown, serialisation, deadlock, resources
_TRANSIENT_WORDS = ("locked", "busy", "could not serialize", "deadlock", "connection", "server closed",
                    "terminating", "starting up", "shutting down", "unable to open", "timeout", "timed out")


def database_url(runs_dir: Path, url: str | None = None) -> str:
    """The database to use: `url`, else EXPLORER_DATABASE_URL, else SQLite in the runs folder."""
    url = url or os.environ.get("EXPLORER_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{Path(runs_dir).resolve() / DB_FILE}"


def check_url(url: str) -> None:
    """Refuse, with one sentence, a database URL the run store cannot use: another kind of database, or a SQLite
    path that is not a file this process may write (nothing is created or written to find out)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if ":" in url else ""
    if scheme not in SCHEMES:
        raise StoreError(_("The database URL must start with sqlite:/// or postgresql://, not {scheme}.").format(
            scheme=repr(scheme[:20])))
    if scheme != "sqlite":
        return
    name = sa.engine.make_url(url).database
    if not name or name == ":memory:":
        raise StoreError(_("The SQLite database URL must name a file (sqlite:////path/to/runs.db)."))
    path = Path(name)
    if path.exists() and not path.is_file():
        raise StoreError(_("The run database {path} is not a regular file.").format(path=path))
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise StoreError(_("The run database {path} cannot be written by this process (check the folder and its "
                           "permissions).").format(path=path))


def make_engines(url: str, busy_s: float = 30.0) -> tuple[sa.Engine, sa.Engine]:
    """(reader, writer) engines for a URL; on SQLite the writer begins with BEGIN IMMEDIATE, both use WAL.

    PostgreSQL: each checkout pings first (pool_pre_ping), so connections left from before a server restart are
    replaced, never used; a server that cannot be reached fails within connect_timeout, then is retried."""
    check_url(url)
    if not url.startswith("sqlite"):
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=8,
                                  connect_args={"connect_timeout": 5})
        return engine, engine
    return _sqlite_engine(url, False, busy_s), _sqlite_engine(url, True, busy_s)


def _sqlite_engine(url: str, immediate: bool, busy_s: float) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": busy_s, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: object) -> None:  # a DB-API connection: sqlite3's, untyped here
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" below decides how a transaction starts
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def run_in(engine: sa.Engine, fn: Callable[[sa.Connection], T], patience_s: float = 30.0) -> T:
    """fn(connection) in one transaction on this engine (a write, or a consistent read snapshot), retried while
    the database is busy or away, for up to patience_s; then StoreUnavailable. A damaged database raises
    StoreError at once. A retried write must be idempotent: its first try may have committed before the
    connection dropped (runstore's writes check)."""
    def attempt() -> T:
        try:
            with engine.begin() as conn:
                return fn(conn)
        except sa.exc.DatabaseError as exc:
            if not isinstance(exc, (OperationalError, sa.exc.IntegrityError)) and _damaged(exc):
                raise StoreError(f"The run database {engine.url.database or ''} is damaged or is not a database "
                                 "(restore it from a backup, or move it away to start an empty one).") from exc
            raise
    return retrying(attempt, patience_s)


def _damaged(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "file is encrypted" in text


def transient(exc: BaseException) -> bool:
    """True for an error that waiting may cure: a busy or locked SQLite file, a PostgreSQL server restarting,
    stopped or unreachable, a connection dropped, a serialisation failure or deadlock."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, (OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError)):
        return False
    code = str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")
    text = str(exc).lower()
    return code.startswith(_TRANSIENT_CODES) or any(w in text for w in _TRANSIENT_WORDS)


def retrying(fn: Callable[[], T], patience_s: float = 30.0) -> T:
    """Run fn(); transient errors (see `transient`) are retried with growing, jittered waits (20 ms up to 2 s) for
    up to patience_s (at least three tries), then raise StoreUnavailable with one sentence."""
    deadline = time.monotonic() + patience_s
    attempt = 0
    while True:
        try:
            return fn()
        except sa.exc.SQLAlchemyError as exc:
            if not transient(exc):
                raise
            if attempt >= 2 and time.monotonic() >= deadline:
                log.info("The run database did not answer for %.0f s: %s", patience_s, str(exc).splitlines()[0])
                raise StoreUnavailable(_(UNAVAILABLE)) from exc
            wait = min(2.0, 0.02 * 2 ** attempt) * (0.5 + random.random())
            time.sleep(wait)
            attempt += 1


CLAIM_LOCK = 0x6578706C  # "expl": the PostgreSQL advisory lock that job managers' claims take in turn


def claim_lock(conn: sa.Connection) -> None:
    """Hold the claim lock until this transaction ends, so claims that count running jobs never interleave
    (several app replicas on one PostgreSQL database). SQLite's writer holds the whole database from BEGIN
    IMMEDIATE already."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})


def ensure_schema(writer: sa.Engine, patience_s: float = 30.0, check: bool = True) -> None:
    """Create the tables on a new database (and tables added since, such as `starts`, on an older one); refuse one
    made by another schema version, a damaged file or a server that does not answer (one sentence each).

    check: on SQLite, read every page once first (quick_check: ~20 ms for 3 MB), so a truncated file is refused
    here rather than by whichever query reaches its missing half (a worker, opening the store for each job, skips)."""
    def create(conn: sa.Connection) -> int:
        if check and conn.dialect.name == "sqlite":
            found = conn.exec_driver_sql("PRAGMA quick_check(1)").scalar()
            if found != "ok":
                raise sa.exc.DatabaseError("PRAGMA quick_check", None, ValueError(f"malformed: {found}"))
        metadata.create_all(conn, checkfirst=True)
        row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
        if row is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return SCHEMA_VERSION
        return int(row[0]) if str(row[0]).isdigit() else -1
    try:
        found = run_in(writer, create, patience_s)
    except sa.exc.IntegrityError:  # another process created it at the same moment
        found = run_in(writer, create, patience_s)
    except StoreError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        reason = str(exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc).splitlines()[0][:200]
        raise StoreError(_("The run database at {url} cannot be used ({reason}).").format(
            url=writer.url.render_as_string(hide_password=True), reason=reason)) from exc
    if found != SCHEMA_VERSION:
        newer = found > SCHEMA_VERSION
        raise SchemaMismatch((_("The run database has schema version {found} but this app reads version {version}: "
                                "upgrade the app to read it.") if newer else
                              _("The run database has schema version {found} but this app reads version {version}: "
                                "run `python -m explorer import-store` from a backup, or start with an empty runs "
                                "folder.")).format(found=found, version=SCHEMA_VERSION))
