"""PostgreSQL, a database whose ``recommendation`` table predates its partitioning by run (a plain
table, which the code keeps using): a re-match's bulk write checks its rows' foreign keys once at
the end instead of row by row when its role may turn the per-row triggers off, and row by row, as
before, when it may not. (A partitioned table's run writes a table of its own with no triggers, for
any role: tests/api/test_partitions.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.errors import ForeignKeyViolation, LockNotAvailable
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from api.db import make_engine, session_scope
from api.services.bulk import insert_recommendations
from api.services.runs import _pause_foreign_keys, run_rematch
from matcher import Matcher
from models import Demand, MatchRun, Pairing, Recommendation
from tests.conftest import PG_URL
from tests.world import World, build_world

pytestmark = [pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: DUIJIE_TEST_POSTGRES_URL is not set"),
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]


@pytest.fixture(autouse=True)
def plain_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables as ``create_tables`` made them before partitioning (before the world is built)."""
    monkeypatch.setattr("api.db.PARTITIONS_SINCE", 10**9)


@pytest.fixture
def plain_role_url(db_url: str) -> Iterator[str]:
    """The test's schema reached as a role that owns its tables but is no superuser (and has no
    privilege to set ``session_replication_role``), as an office's database may be set up."""
    role = f"r_{uuid.uuid4().hex[:12]}"
    schema = db_url.rsplit("search_path%3D", 1)[1]
    admin = make_engine(PG_URL)  # type: ignore[arg-type]
    with admin.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN NOSUPERUSER'))
        conn.execute(text(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}"'))
    try:
        yield f"{db_url}%20-crole%3D{role}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def _rows(session: Session, run_id: int) -> list[tuple]:  # type: ignore[type-arg]
    return sorted(
        (r.demand_id, r.organization_id, r.demand_rank, r.organization_rank, r.score, r.signals, r.reasons)
        for r in session.exec(select(Recommendation).where(Recommendation.run_id == run_id)))


def _victim(world: World) -> int:
    with Session(world.engine) as session:
        listed = session.exec(select(Recommendation.demand_id).distinct()).all()
        paired = set(session.exec(select(Pairing.demand_id)).all())
    return next(i for i in listed if i not in paired)


def _rematch_deleting(world: World, matcher: Matcher, victim: int) -> tuple[str, int | None]:
    """A re-match during which another connection deletes ``victim`` after the engine read it and
    before any row is written: the run's status and id (None if it failed)."""
    def progress(stage: str) -> None:
        if stage == "candidates":
            with Session(world.engine) as other:
                other.connection().exec_driver_sql(f"DELETE FROM demand WHERE id = {victim}")
                other.commit()

    with Session(world.engine) as session:
        try:
            run = run_rematch(session, matcher, progress=progress)
            session.commit()
            return run.status, run.id
        except ForeignKeyViolation:  # the COPY's own check, through the driver
            session.rollback()
            return "failed", None


def test_only_a_role_allowed_to_turn_the_triggers_off_skips_them(
        world: World, plain_role_url: str, shared_matcher: Matcher) -> None:
    with Session(world.engine) as session:
        assert _pause_foreign_keys(session) is True  # the tests' superuser
    plain = make_engine(plain_role_url)
    try:
        with Session(plain) as session:
            assert session.connection().exec_driver_sql("SHOW is_superuser").scalar() == "off"
            assert _pause_foreign_keys(session) is False
    finally:
        plain.dispose()


def test_the_triggers_are_off_for_the_copy_only(world: World) -> None:
    with Session(world.engine) as session:
        run_id = session.exec(select(func.max(MatchRun.id))).one()
        missing = session.exec(select(func.max(Demand.id))).one() + 1000
        row = (run_id, missing, 1, 1, None, 0.5, "{}", "[]")
        # Unchecked, a row naming no demand goes in: the caller's own check at the end is what drops it.
        insert_recommendations(session, [row], key_checks=False)
        assert session.exec(select(func.count()).select_from(Recommendation)
                            .where(Recommendation.demand_id == missing)).one() == 1
        # The same connection, the same transaction, a checked write: the triggers are back.
        with pytest.raises(ForeignKeyViolation):
            insert_recommendations(session, [row])
        session.rollback()


def test_a_superuser_run_drops_the_rows_of_a_demand_deleted_meanwhile(world: World, shared_matcher: Matcher) -> None:
    victim = _victim(world)
    status, run_id = _rematch_deleting(world, shared_matcher, victim)
    assert status == "done"
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(Recommendation)
                            .where(Recommendation.demand_id == victim)).one() == 0
        assert session.exec(select(func.count()).select_from(Recommendation)
                            .where(Recommendation.run_id == run_id)).one() > 0


def test_without_the_privilege_a_run_checks_row_by_row_and_writes_the_same_rows(
        plain_role_url: str, tmp_path: Path, shared_matcher: Matcher, db_url: str) -> None:
    world = build_world(plain_role_url, tmp_path, shared_matcher)  # its re-match: checked row by row
    superuser = make_engine(db_url)
    try:
        with session_scope(superuser) as session:
            fast = run_rematch(session, shared_matcher).id
        with Session(world.engine) as session:
            runs = session.exec(select(MatchRun.id).order_by(col(MatchRun.id))).all()
            assert len(runs) == 2 and runs[1] == fast
            assert len(_rows(session, runs[0])) > 0
            assert _rows(session, runs[0]) == _rows(session, fast)
        # A demand deleted mid-run: the per-row check refuses its rows and the run fails cleanly.
        victim = _victim(world)
        assert _rematch_deleting(world, shared_matcher, victim) == ("failed", None)
        with Session(world.engine) as session:
            assert session.exec(select(MatchRun.status).order_by(col(MatchRun.id).desc())).first() == "failed"
    finally:
        superuser.dispose()
        world.engine.dispose()


def test_until_the_run_commits_its_rows_keys_cannot_be_deleted_but_their_rows_can_be_updated(
        world: World, shared_matcher: Matcher) -> None:
    victim = _victim(world)
    with Session(world.engine) as session:
        run_rematch(session, shared_matcher)  # written and checked, not yet committed
        with Session(world.engine) as other:
            conn = other.connection()
            conn.exec_driver_sql("SET lock_timeout = '200ms'")
            conn.exec_driver_sql("UPDATE organization SET name = name WHERE id = 1")  # staff edit as usual
            conn.exec_driver_sql(f"UPDATE demand SET title = title WHERE id = {victim}")
            other.commit()
            conn = other.connection()
            conn.exec_driver_sql("SET lock_timeout = '200ms'")
            with pytest.raises(OperationalError) as refused:  # what each row's key check would have held
                conn.exec_driver_sql(f"DELETE FROM demand WHERE id = {victim}")
            assert isinstance(refused.value.orig, LockNotAvailable)
            other.rollback()
        session.commit()
