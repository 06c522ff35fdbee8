"""The run store's database for tests: SQLite always, PostgreSQL when EXPLORER_TEST_DATABASE_URL names a server.

.ci/run starts a throwaway PostgreSQL cluster and sets the variable; elsewhere the PostgreSQL cases skip with
the reason. Each PostgreSQL case starts from empty tables.
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
    engine = sa.create_engine(db.database_url(".", PG_URL))
    with engine.begin() as conn:
        db.metadata.drop_all(conn)
    engine.dispose()
    return PG_URL
