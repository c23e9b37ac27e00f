"""Engine and sessions. Transactions are committed at the boundary (CLI command, request, job)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Index, MetaData, PrimaryKeyConstraint, event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, SQLModel, create_engine

import models  # noqa: F401  (registers the tables)
from api import schema

FOREIGN_KEYS_PAUSED = "foreign_keys_paused"  # a pooled SQLite connection's mark: checks to turn back on


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        @event.listens_for(engine, "checkin")
        def _foreign_keys_back_on(dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
            # A re-match pauses them for its bulk insert (api.services.runs._pause_foreign_keys).
            if record.info.pop(FOREIGN_KEYS_PAUSED, False) and dbapi_conn is not None:
                dbapi_conn.execute("PRAGMA foreign_keys=ON")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url)
    _ping_when_idle(engine)
    return engine


IDLE_PING_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """A pooled connection that has lain unused for ``IDLE_PING_S`` is pinged before it is handed
    out, and replaced if the server has gone (restarted, or it closed idle sessions). SQLAlchemy's
    ``pool_pre_ping`` pings at every checkout: a round trip to the server for every request, a
    sixth of a recommendation list's time on PostgreSQL (BENCHMARKS.md). A connection in steady use
    was in use a moment ago; if the server went in that moment, the request fails as it would
    have mid-query, and SQLAlchemy then replaces every connection of the pool."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise DisconnectionError() from exc  # the pool discards it and connects anew
            raise


_RETURNED_AT = "returned_at"


def create_tables(engine: Engine) -> None:
    """A new database gets every table, stamped with the newest schema revision; one made before
    must stand at that revision (``duijie db upgrade`` brings it there), or ``SchemaBehind`` says
    so: no table is made behind the migrations' back. On PostgreSQL 14 and later a new
    ``recommendation`` table is partitioned by run (``api.services.partitions``); one made before
    keeps its form, and the code asks which it has."""
    with engine.connect() as conn:
        new = schema.is_new(conn)
    if not new:
        schema.require_current(engine)
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql" and partitions_supported(conn):
            create_postgres_tables(conn)
        else:
            SQLModel.metadata.create_all(conn)
        schema.stamp_head(conn)


PARTITIONS_SINCE = 140000  # DETACH PARTITION ... CONCURRENTLY, which pruning an old run relies on


def partitions_supported(conn: Connection) -> bool:
    return int(conn.exec_driver_sql("SHOW server_version_num").scalar() or 0) >= PARTITIONS_SINCE


def create_postgres_tables(conn: Connection) -> None:
    """The missing tables, a new ``recommendation`` partitioned by run."""
    made = not inspect(conn).has_table("recommendation")
    postgres_metadata().create_all(conn)
    if made:
        # No key on the parent: it would have to include run_id, and each run's key would then be a
        # constraint inherited from it, which ``pg_restore --clean`` tries to drop before the
        # parent's and cannot (api.services.backup). Each run's table has a key of its own on id;
        # one sequence gives every id, so none repeats.
        conn.exec_driver_sql("ALTER TABLE recommendation DROP CONSTRAINT recommendation_pkey")


def postgres_metadata() -> MetaData:
    """The models' tables, with ``recommendation`` partitioned by run. The ORM keeps mapping it by
    ``id``; only the DDL differs, so SQLite's table, where ``id`` is the rowid, is as it was. The
    key here, ``(id, run_id)``, is what a partitioned table's key must be; ``create_tables`` drops
    it once it has given ``id`` its sequence."""
    metadata = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(metadata)
    rec = metadata.tables["recommendation"]
    # The lists' indexes without their leading run_id: a partition holds one run, so the column
    # would only make each index a third larger and its build after the load a third slower.
    for index in list(rec.indexes):
        rec.indexes.discard(index)
        Index(index.name.replace("_run_", "_"), *(c for c in index.columns if c.name != "run_id"))
    rec.c.id.autoincrement = True
    rec.c.run_id.primary_key = True
    rec.append_constraint(PrimaryKeyConstraint(rec.c.id, rec.c.run_id))
    rec.dialect_options["postgresql"]["partition_by"] = "LIST (run_id)"
    return metadata


@lru_cache(maxsize=1)
def partition_index_columns() -> tuple[tuple[str, ...], ...]:
    """The columns of each index of a partitioned ``recommendation``, which each run's table gets."""
    return tuple(tuple(c.name for c in index.columns)
                 for index in sorted(postgres_metadata().tables["recommendation"].indexes, key=lambda i: i.name))


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A read: every statement sees what is committed when it runs, in no transaction of its own.
    On PostgreSQL that saves the BEGIN and the COMMIT, two of a listing's round trips to the
    server (BENCHMARKS.md); a statement that wrote would be committed at once, so only reads go
    this way. SQLite's driver begins no transaction for a read anyway, and there the setting would
    cost a statement each time the connection goes back to the pool (0.5 ms a request, measured)."""
    with Session(engine, expire_on_commit=False) as session:
        if engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
