"""PostgreSQL: each run's recommendations in a partition of their own (api.services.partitions):
written into a table made in the run's transaction, attached at its end, old runs' tables dropped
once it has committed; the rows and lists the same as the plain table's."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from psycopg.errors import LockNotAvailable
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from api.db import make_engine, session_scope
from api.services import partitions
from api.services.listings import listing_for_demand
from api.services.runs import run_rematch
from matcher import Matcher
from models import Demand, MatchRun, Recommendation
from tests.api.test_rematch_keys import _rematch_deleting, _victim, plain_role_url  # noqa: F401  (a fixture)
from tests.conftest import PG_URL
from tests.world import World, build_world

pytestmark = [pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: DUIJIE_TEST_POSTGRES_URL is not set"),
              pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]


def _tables(world: World, *, attached: bool) -> list[str]:
    with world.engine.connect() as conn:
        return sorted(partitions.attached(conn)) if attached else partitions.detached(conn)


def _rows(session: Session, run_id: int) -> list[tuple]:  # type: ignore[type-arg]
    return sorted(
        (r.demand_id, r.organization_id, r.demand_rank, r.organization_rank, r.score, r.signals, r.reasons)
        for r in session.exec(select(Recommendation).where(Recommendation.run_id == run_id)))


def _rematch(world: World, matcher: Matcher, keep: int = 3) -> int:
    with Session(world.engine) as session:
        run_id = run_rematch(session, matcher, keep_runs=keep).id
        session.commit()
    assert run_id is not None
    return run_id


def test_a_new_database_partitions_the_table_and_each_run_attaches_its_own(
        world: World, shared_matcher: Matcher) -> None:
    with world.engine.connect() as conn:
        assert partitions.partitioned(conn)
    first = world_first_run(world)
    second = _rematch(world, shared_matcher)
    assert _tables(world, attached=True) == sorted([partitions.table_name(first), partitions.table_name(second)])
    with Session(world.engine) as session:
        # The same engine over the same data: the same rows, whichever table holds them.
        assert _rows(session, first) == _rows(session, second) and len(_rows(session, second)) > 0
        # Each partition holds its run's rows only; its bound is the run.
        with world.engine.connect() as conn:
            for run_id in (first, second):
                name = partitions.table_name(run_id)
                assert conn.exec_driver_sql(f"SELECT DISTINCT run_id FROM {name}").scalars().all() == [run_id]
                assert conn.exec_driver_sql(
                    f"SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = '{name}'"
                ).scalar() == f"FOR VALUES IN ({run_id})"
                # Its key and the indexes it built after the load, each taken as the parent's
                # index's partition: none built again by the attach.
                indexes = conn.exec_driver_sql(
                    "SELECT i.indisprimary, p.indexrelid IS NOT NULL FROM pg_index i LEFT JOIN pg_inherits h "
                    "ON h.inhrelid = i.indexrelid LEFT JOIN pg_index p ON p.indexrelid = h.inhparent "
                    f"WHERE i.indrelid = to_regclass('{name}')").all()
                assert sorted(indexes) == [(False, True), (False, True), (True, False)]
        demand_id = session.exec(select(Recommendation.demand_id).where(Recommendation.run_id == second)).first()
        listing = listing_for_demand(session, demand_id, top=5)  # type: ignore[arg-type]
    assert listing.run_id == second and listing.rows


def world_first_run(world: World) -> int:
    with Session(world.engine) as session:
        run_id = session.exec(select(func.max(MatchRun.id)).where(MatchRun.status == "done")).one()
    assert run_id is not None
    return run_id


def test_old_runs_tables_go_after_the_commit_and_a_crashs_leftovers_with_them(
        world: World, shared_matcher: Matcher) -> None:
    runs = [world_first_run(world)] + [_rematch(world, shared_matcher) for _ in range(2)]
    assert _tables(world, attached=True) == sorted(partitions.table_name(r) for r in runs)
    # What a crash can leave: a table detached and not dropped, and a detach begun and not finished.
    with world.engine.connect() as conn:
        conn.exec_driver_sql(f"ALTER TABLE recommendation DETACH PARTITION {partitions.table_name(runs[0])}")
        conn.commit()
    with _reading(world):  # the concurrent detach commits its first step, then waits for this read
        failed: list[BaseException] = []
        detach = threading.Thread(target=_detach_catching, args=(world, partitions.table_name(runs[1]), failed))
        detach.start()
        pid = _waiting_detach(world)
        with world.engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_cancel_backend({pid})")
        detach.join(timeout=60)
    assert failed and "cancel" in str(failed[0])
    assert partitions.table_name(runs[0]) in _tables(world, attached=False)
    newest = _rematch(world, shared_matcher, keep=1)
    assert _tables(world, attached=True) == [partitions.table_name(newest)]
    assert _tables(world, attached=False) == []
    with Session(world.engine) as session:
        assert session.exec(select(Recommendation.run_id).distinct()).all() == [newest]


@contextmanager
def _reading(world: World) -> Iterator[None]:
    """A read transaction under way, holding ``recommendation`` as any read does."""
    with world.engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM recommendation").scalar()
        yield
        conn.rollback()


def _detach_catching(world: World, name: str, failed: list[BaseException]) -> None:
    with world.engine.connect() as conn:
        try:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                f"ALTER TABLE recommendation DETACH PARTITION {name} CONCURRENTLY")
        except Exception as exc:
            failed.append(exc)


def _waiting_detach(world: World) -> int:
    """The server process of a detach waiting for the reads before it (polled, up to 60 s)."""
    deadline = time.monotonic() + 60
    with world.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        while time.monotonic() < deadline:
            pid = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                       "AND strpos(query, 'DETACH PARTITION') > 0").scalar()
            if pid is not None:
                return int(pid)
    raise AssertionError("the detach never waited")


def test_a_failed_run_leaves_no_table_and_the_latest_lists_whole(world: World, shared_matcher: Matcher) -> None:
    first = world_first_run(world)

    def fail(stage: str) -> None:
        if stage == "explain":
            raise RuntimeError("engine stopped")

    with Session(world.engine) as session:
        before = len(_rows(session, first))
        with pytest.raises(RuntimeError):
            run_rematch(session, shared_matcher, progress=fail)
    with Session(world.engine) as session:
        assert session.exec(select(MatchRun.status).order_by(col(MatchRun.id).desc())).first() == "failed"
        assert len(_rows(session, first)) == before
    assert _tables(world, attached=True) == [partitions.table_name(first)]
    assert _tables(world, attached=False) == []


def test_a_role_that_cannot_turn_triggers_off_still_writes_unchecked_and_drops_a_deleted_demands_rows(
        plain_role_url: str, tmp_path: Path, shared_matcher: Matcher) -> None:  # noqa: F811
    # The run's own table has no triggers: the keys are checked once, at the attach, for any role.
    world = build_world(plain_role_url, tmp_path, shared_matcher)
    try:
        with Session(world.engine) as session:
            assert session.connection().exec_driver_sql("SHOW is_superuser").scalar() == "off"
        victim = _victim(world)
        status, run_id = _rematch_deleting(world, shared_matcher, victim)
        assert status == "done"
        with Session(world.engine) as session:
            assert session.get(Demand, victim) is None
            assert session.exec(select(func.count()).select_from(Recommendation)
                                .where(Recommendation.demand_id == victim)).one() == 0
            assert session.exec(select(func.count()).select_from(Recommendation)
                                .where(Recommendation.run_id == run_id)).one() > 0
    finally:
        world.engine.dispose()


def test_a_database_made_before_keeps_its_plain_table_and_deletes_old_runs(
        db_url: str, tmp_path: Path, shared_matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.db.PARTITIONS_SINCE", 10**9)  # as create_tables made it before
    world = build_world(db_url, tmp_path, shared_matcher)
    try:
        monkeypatch.undo()  # the code of today, over that database
        with world.engine.connect() as conn:
            assert not partitions.partitioned(conn)
            assert conn.exec_driver_sql("SELECT relkind FROM pg_class WHERE oid = to_regclass('recommendation')"
                                        ).scalar() == "r"
        first = world_first_run(world)
        runs = [_rematch(world, shared_matcher, keep=1) for _ in range(2)]
        with session_scope(world.engine) as session:
            assert session.exec(select(Recommendation.run_id).distinct()).all() == [runs[-1]]
            assert _rows(session, runs[-1]) and first < runs[0]
        assert _tables(world, attached=False) == []
    finally:
        world.engine.dispose()


def test_dropping_an_old_run_waits_for_a_read_of_it_and_never_fails_it(
        world: World, shared_matcher: Matcher) -> None:
    first = world_first_run(world)
    second = _rematch(world, shared_matcher)
    reader = make_engine(world.engine.url.render_as_string(hide_password=False))
    try:
        with reader.connect() as conn:
            conn.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
            counted = conn.execute(text("SELECT count(*) FROM recommendation WHERE run_id = :r"), {"r": first}).scalar()
            dropped: list[int] = []
            worker = threading.Thread(target=lambda: dropped.extend(partitions.drop_old(world.engine, 1)))
            worker.start()
            _waiting_detach(world)
            again = conn.execute(text("SELECT count(*) FROM recommendation WHERE run_id = :r"), {"r": first}).scalar()
            assert again == counted and counted > 0 and not dropped
            conn.exec_driver_sql("COMMIT")
        worker.join(timeout=60)
        assert dropped == [first]
        assert _tables(world, attached=True) == [partitions.table_name(second)]
    finally:
        reader.dispose()


def test_a_database_made_before_is_converted_in_place_rows_and_ids_kept(
        db_url: str, tmp_path: Path, shared_matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.db.PARTITIONS_SINCE", 10**9)
    world = build_world(db_url, tmp_path, shared_matcher)
    monkeypatch.undo()
    try:
        runs = [world_first_run(world), _rematch(world, shared_matcher)]
        with Session(world.engine) as session:
            before = {r: _rows(session, r) for r in runs}
            ids = sorted(session.exec(select(Recommendation.id)).all())
        # A failure midway (the second run's attach) leaves the plain table as it was.
        attach, attached = partitions.attach, []

        def failing(conn, run_id):  # type: ignore[no-untyped-def]
            if attached:
                raise RuntimeError("disk full")
            attached.append(run_id)
            attach(conn, run_id)

        monkeypatch.setattr(partitions, "attach", failing)
        with pytest.raises(RuntimeError):
            partitions.convert(world.engine)
        monkeypatch.undo()
        with world.engine.connect() as conn:
            assert not partitions.partitioned(conn) and attached == runs[:1]
        with Session(world.engine) as session:
            assert {r: _rows(session, r) for r in runs} == before
        assert _tables(world, attached=False) == []
        assert partitions.convert(world.engine) == runs
        with world.engine.connect() as conn:
            assert partitions.partitioned(conn)
            assert conn.exec_driver_sql("SELECT to_regclass('recommendation_plain')").scalar() is None
        assert _tables(world, attached=True) == sorted(partitions.table_name(r) for r in runs)
        with Session(world.engine) as session:
            assert {r: _rows(session, r) for r in runs} == before
            assert sorted(session.exec(select(Recommendation.id)).all()) == ids
        assert partitions.convert(world.engine) == []  # once is enough
        # The next run writes its own table, its ids after the old ones, and drops the oldest run.
        newest = _rematch(world, shared_matcher, keep=2)
        assert _tables(world, attached=True) == sorted(partitions.table_name(r) for r in (runs[1], newest))
        with Session(world.engine) as session:
            assert min(session.exec(select(Recommendation.id).where(Recommendation.run_id == newest)).all()) > ids[-1]
            assert _rows(session, newest) == before[runs[1]]
    finally:
        world.engine.dispose()



def test_a_drop_held_up_too_long_gives_up_and_the_next_one_finishes_it(world: World, shared_matcher: Matcher) -> None:
    # A transaction left open on the table would otherwise hold the run's process for ever.
    first = world_first_run(world)
    second = _rematch(world, shared_matcher)
    with _reading(world):
        with pytest.raises(OperationalError) as gave_up:
            partitions.drop_old(world.engine, 1, wait="200ms")
        assert isinstance(gave_up.value.orig, LockNotAvailable)
    with world.engine.connect() as conn:
        assert partitions.attached(conn)[partitions.table_name(first)] is True  # the detach pending
    assert partitions.drop_old(world.engine, 1) == [first]
    assert _tables(world, attached=True) == [partitions.table_name(second)]
    assert _tables(world, attached=False) == []
    with world.engine.connect() as conn:  # the pool's connections keep no timeout of the drop's
        assert {conn.exec_driver_sql("SHOW lock_timeout").scalar()} == {"0"}
