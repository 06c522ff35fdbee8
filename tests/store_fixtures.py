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
