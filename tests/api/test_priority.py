"""A re-match beside the web: niced, in the idle class while it computes, out of it before it writes."""

from __future__ import annotations

import multiprocessing
import os
import threading

import pytest
from sqlalchemy import event
from sqlmodel import Session, text

from api.db import make_engine
from api.services import priority
from api.services.runs import run_rematch, start_run
from matcher import Matcher
from models import MatchRun
from tests.world import World

IDLE_POLICY = getattr(os, "SCHED_IDLE", -1)
needs_linux = pytest.mark.skipif(not priority.PER_THREAD, reason="Linux: priorities are kept per thread")
needs_idle = pytest.mark.skipif(not priority.idle_reversible(7),
                                reason="this account may not leave the idle class (CAP_SYS_NICE or RLIMIT_NICE)")


def _report_priority(out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put((os.nice(0), os.sched_getscheduler(0)))


def _started(idle: bool) -> tuple[int, int]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_report_priority, args=(out,))
    priority.start_niced(proc, 7, idle=idle)
    reported = out.get(timeout=120)  # the target's first statement: nothing of ours lowered it
    proc.join(timeout=60)
    assert proc.exitcode == 0
    return reported


@needs_linux
def test_a_process_started_niced_runs_niced_from_its_first_instruction_and_the_starter_is_not() -> None:
    own = os.nice(0)
    assert _started(idle=False) == (min(19, own + 7), os.SCHED_OTHER)
    assert os.nice(0) == own  # the web's threads keep their priority


@needs_linux
@needs_idle
def test_a_process_started_idle_is_in_the_idle_class_from_its_first_instruction_and_the_starter_is_not() -> None:
    own = os.nice(0)
    assert _started(idle=True) == (min(19, own + 7), IDLE_POLICY)
    assert os.nice(0) == own and os.sched_getscheduler(0) == os.SCHED_OTHER


@needs_linux
@needs_idle
def test_leaving_the_idle_class_keeps_the_nice_value_and_touches_only_the_calling_thread() -> None:
    seen: list[tuple[bool, int, bool]] = []

    def body() -> None:
        own = os.nice(7)
        os.sched_setscheduler(0, IDLE_POLICY, os.sched_param(0))
        other = threading.Thread(target=lambda: seen.append((priority.in_idle(), 0, False)))
        other.start()
        other.join()  # a thread started from an idle one is idle too
        priority.leave_idle()
        seen.append((priority.in_idle(), os.nice(0) - own, True))
        priority.leave_idle()  # outside the class: nothing happens

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [(True, 0, False), (False, 0, True)]
    assert not priority.in_idle()


@needs_linux
@needs_idle
def test_a_run_computes_in_the_idle_class_and_deletes_and_writes_out_of_it(world: World,
                                                                          shared_matcher: Matcher) -> None:
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the writing thread's class is read by a SQL function written in Python: SQLite's")
    engine = make_engine(world.engine.url.render_as_string(hide_password=False))

    @event.listens_for(engine, "connect")
    def _thread_policy(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.create_function("thread_policy", 0, lambda: os.sched_getscheduler(0))

    for _ in range(2):  # two done runs: the next one's early pruner deletes the older
        with Session(engine) as session:
            run_rematch(session, shared_matcher, keep_runs=2)
            session.commit()
    with Session(engine) as session:
        for statement in (
            "CREATE TABLE policy_seen (op TEXT, policy INTEGER)",
            "CREATE TRIGGER seen_insert AFTER INSERT ON recommendation "
            "BEGIN INSERT INTO policy_seen VALUES ('insert', thread_policy()); END",
            "CREATE TRIGGER seen_delete AFTER DELETE ON recommendation "
            "BEGIN INSERT INTO policy_seen VALUES ('delete', thread_policy()); END",
        ):
            session.connection().exec_driver_sql(statement)
        run_id = start_run(session, shared_matcher.config).id  # as the web does, before the run's process starts
        session.commit()
    computing: list[bool] = []
    ended: list[str] = []

    def progress(stage: str) -> None:
        if stage in ("candidates", "signals"):
            computing.append(priority.in_idle())

    def body() -> None:
        os.sched_setscheduler(0, IDLE_POLICY, os.sched_param(0))  # as a process started idle is
        with Session(engine) as session:
            run = session.get(MatchRun, run_id)
            ended.append(run_rematch(session, shared_matcher, keep_runs=2, run=run, progress=progress).status)
            session.commit()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert ended == ["done"] and computing == [True, True]
    with Session(engine) as session:
        seen = session.exec(text("SELECT op, policy, count(*) FROM policy_seen GROUP BY op, policy")).all()
        session.connection().exec_driver_sql("DROP TRIGGER seen_insert")
        session.connection().exec_driver_sql("DROP TRIGGER seen_delete")
        session.commit()
    engine.dispose()
    assert {(op, policy) for op, policy, _ in seen} == {("insert", os.SCHED_OTHER), ("delete", os.SCHED_OTHER)}
    assert all(n > 0 for *_, n in seen)
