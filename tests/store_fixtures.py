"""The run store's database for tests: SQLite always, PostgreSQL when EXPLORER_TEST_DATABASE_URL names a server.

.ci/run starts a throwaway PostgreSQL cluster and sets the variable; elsewhere the PostgreSQL cases skip with
the reason. Each PostgreSQL case starts from empty tables, in a database of its pytest-xdist worker's own when
the suite runs in parallel (workers never drop each other's tables).
"""
import os

import pytest

PG_URL = os.environ.get("EXPLORER_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="EXPLORER_TEST_DATABASE_URL is not set (.ci/run starts a PostgreSQL server and sets it)"))]


def fresh_url(backend: str):
    """None (SQLite in the runs folder) or the test PostgreSQL URL with every table dropped."""
    if backend == "sqlite":
        return None
    import sqlalchemy as sa

    from explorer.store import db
    url = _worker_url()
    engine = sa.create_engine(db.database_url(".", url))
    with engine.begin() as conn:
        db.metadata.drop_all(conn)
    engine.dispose()
    return url


_WORKER_URLS: dict = {}


def _worker_url() -> str:
    """PG_URL, or under pytest-xdist a database named after the worker on the same server (created once)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return PG_URL
    if worker not in _WORKER_URLS:
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        from explorer.store import db
        server = make_url(PG_URL)
        name = f"{server.database}_{worker}"
        engine = sa.create_engine(db.database_url(".", PG_URL), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        _WORKER_URLS[worker] = server.set(database=name).render_as_string(hide_password=False)
    return _WORKER_URLS[worker]


# ----------------------------------------------------------------------------- a PostgreSQL server a test may stop
PG_BINS = sorted(__import__("glob").glob("/usr/lib/postgresql/*/bin/pg_ctl"))
needs_pg_binaries = pytest.mark.skipif(not PG_BINS, reason="PostgreSQL's server binaries (Debian's postgresql "
                                       "package: /usr/lib/postgresql/*/bin) are not installed")


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary folder on a free port, which a test stops, starts and restarts
    (the CI's shared server must not be restarted under the other tests). As root it runs as user postgres,
    like .ci/run."""

    def __init__(self, folder) -> None:
        import socket
        self.bin = os.path.dirname(PG_BINS[-1])
        self.dir = str(folder)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            import shutil
            shutil.chown(self.dir, self.user)
        self._as_pg(f"'{self.bin}/initdb' -D '{self.dir}/data' -A trust -U postgres --no-sync >/dev/null")
        self.start()

    def _as_pg(self, command: str) -> None:
        import subprocess
        argv = ["su", self.user, "-s", "/bin/sh", "-c", command] if self.user else ["sh", "-c", command]
        subprocess.run(argv, check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        self._as_pg(f"'{self.bin}/pg_ctl' -D '{self.dir}/data' -l '{self.dir}/log' -w -o \"-p {self.port} "
                    f"-k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off\" start")

    def stop(self, mode: str = "fast") -> None:
        self._as_pg(f"'{self.bin}/pg_ctl' -D '{self.dir}/data' -m {mode} -w stop")

    def restart(self) -> None:
        self._as_pg(f"'{self.bin}/pg_ctl' -D '{self.dir}/data' -m fast -w restart -o \"-p {self.port} -k {self.dir} "
                    "-c listen_addresses=127.0.0.1 -c fsync=off\"")
