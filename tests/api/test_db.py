"""The engine's sessions on both databases: reads outside a transaction leave the connection as
they found it, and a pooled connection whose server went away while it lay idle is replaced."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

import api.db
from api.db import make_engine, read_scope, session_scope
from models import MatchRun
from tests.conftest import PG_URL


def _runs(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(MatchRun)).one()


def _in_transaction(raw: Any) -> bool:
    return raw.in_transaction if isinstance(raw, sqlite3.Connection) else \
        raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


def test_a_read_then_a_unit_of_work_on_the_same_connection_is_still_all_or_nothing(engine: Engine) -> None:
    with read_scope(engine) as session:
        session.exec(select(func.count()).select_from(MatchRun)).one()
        raw = session.connection().connection.driver_connection
        assert not _in_transaction(raw)  # no BEGIN went to the server, so no COMMIT will either
    # The pool has made one connection so far: the unit of work below gets the same one back.
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        assert session.connection().connection.driver_connection is raw
        session.add(MatchRun(status="failed", config_hash="x", config={}))
        session.flush()
        assert _in_transaction(raw)
        raise RuntimeError("a failure after the write")
    assert _runs(engine) == 0  # rolled back, not committed statement by statement


def test_a_read_sees_what_others_committed_since_its_previous_statement(engine: Engine) -> None:
    with read_scope(engine) as session:
        before = session.exec(select(func.count()).select_from(MatchRun)).one()
        with session_scope(engine) as other:
            other.add(MatchRun(status="failed", config_hash="x", config={}))
        assert session.exec(select(func.count()).select_from(MatchRun)).one() == before + 1


pg_only = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: DUIJIE_TEST_POSTGRES_URL is not set")


def _backend_pid(engine: Engine) -> int:
    with Session(engine) as session:
        return session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()  # type: ignore[return-value]


def _kill(pid: int) -> None:
    admin = make_engine(PG_URL)  # type: ignore[arg-type]
    try:
        with admin.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar() is True
    finally:
        admin.dispose()


@pg_only
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_idle_connection_whose_server_went_away_is_replaced_before_use(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.db, "IDLE_PING_S", 0.0)  # every returned connection counts as idle
    dead = _backend_pid(engine)
    _kill(dead)
    assert _backend_pid(engine) != dead  # no error: pinged, found gone, connected anew


@pg_only
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_connection_in_steady_use_is_not_pinged_so_one_request_sees_the_loss(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.db, "IDLE_PING_S", 3600.0)  # just returned: no ping, no round trip
    dead = _backend_pid(engine)
    _kill(dead)
    with pytest.raises(OperationalError):
        _backend_pid(engine)
    assert _backend_pid(engine) != dead  # the pool replaced its connections after that failure
