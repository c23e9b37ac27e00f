"""A full re-match's lifecycle: started, run (here or in a process of its own), written, old runs pruned."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import column as sql_column
from sqlalchemy import delete, event, func
from sqlalchemy import select as select_columns
from sqlalchemy import table as sql_table
from sqlmodel import Session, col, select

from api.db import FOREIGN_KEYS_PAUSED
from api.errors import Conflict
from api.services import leases, partitions, priority, review
from api.services.bulk import BackgroundWriter, batch_rows, insert_recommendations
from api.services.learning import learning_inputs
from api.services.records import load_demands, load_organizations
from api.services.tokens import StoredTokens
from api.services.vectors import stored_vectors
from matcher import MatchConfig, Matcher
from matcher.candidates import prepare_bulk
from matcher.explanations import RecommendationBatch
from models import Demand, MatchRun, Organization, PendingMatch, Recommendation
from models.base import utcnow

STALE_RUN_S = 3600  # a run's lease: a holder on another host is trusted this long
NO_LEASE_GRACE_S = 60  # a run's process takes its lease within seconds of the run's start


def run_lease(run_id: int) -> str:
    return f"match_run:{run_id}"


def start_run(session: Session, config: MatchConfig) -> MatchRun:
    """Record a run as started (so others can see it running), with the configuration it matches by.

    A run marked running whose process is gone (killed, crashed: its lease's holder no longer
    exists, or no process ever took the lease) is marked failed: nothing of it was committed but
    the run itself, which would otherwise block every later run."""
    now = utcnow()
    for running in session.exec(select(MatchRun).where(MatchRun.status == "running")).all():
        live = leases.held(session, run_lease(running.id), now)  # type: ignore[arg-type]
        if live or (live is None and (now - running.started_at).total_seconds() < NO_LEASE_GRACE_S):
            raise Conflict(f"第{running.id}次匹配正在进行，请稍后再试")
        running.status, running.error = "failed", "运行中断：运行它的进程已退出"
        session.add(running)
    leases.forget(session, prefix="match_run:")  # no run is running now: their leases are done
    run = MatchRun(config_hash=config.config_hash(), config=config.to_dict())
    session.add(run)
    session.flush()
    return run


BULK_CACHE_KIB = 65_536


def run_rematch(
    session: Session,
    matcher: Matcher,
    *,
    today: date | None = None,
    keep_runs: int = 3,
    progress: Callable[[str], None] | None = None,
    run: MatchRun | None = None,
) -> MatchRun:
    """A full re-match: every active organization against every open demand.

    Pairs rejected by staff or dismissed by the organization are never suggested
    again; each organization's approvals, rejections and village ratings weigh on its score.
    Without ``run`` the run is started and committed first: others see it running, and SQLite's
    write lock is not held while the engine works (writes from the web would wait on it), only
    for the write at the end. A failure after that marks the run failed.
    """
    if run is not None:
        return _rematch(session, matcher, run, today=today, keep_runs=keep_runs, progress=progress)
    run = start_run(session, matcher.config)
    session.commit()
    try:
        return _rematch(session, matcher, run, today=today, keep_runs=keep_runs, progress=progress)
    except BaseException as exc:
        session.rollback()
        mark_run_failed(session.get_bind(), run.id, str(exc) or type(exc).__name__)  # type: ignore[arg-type]
        raise


def _rematch(session: Session, matcher: Matcher, run: MatchRun, *, today: date | None, keep_runs: int,
             progress: Callable[[str], None] | None) -> MatchRun:
    # This process's mark on the run: killed midway, the next run sees its holder gone.
    leases.take(session.get_bind(), run_lease(run.id), now=utcnow(), holder=leases.holder(),  # type: ignore[arg-type]
                duration=timedelta(seconds=STALE_RUN_S))
    started = time.perf_counter()
    if session.get_bind().dialect.name == "sqlite":
        # A page cache for the bulk write: with SQLite's default 2 MB the two indexes of ~300,000 new
        # rows spill to the WAL mid-transaction (the insert is ~25 % faster at Jilin scale). For this
        # connection only, until it closes (a pooled one in the scheduler's process keeps it).
        session.connection().exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    # PostgreSQL with a partitioned table: the run writes a table of its own, attached at the end;
    # old runs' tables are dropped once it has committed. Otherwise old rows are deleted early.
    run_table = partitions.create_run_table(session.connection(), run.id) \
        if partitions.partitioned(session.connection()) else None  # type: ignore[arg-type]
    pruned: list[int] = []  # the runs whose rows the early delete removed, once it has committed
    pruner = None if run_table is not None else threading.Thread(
        target=_prune_early, args=(session.get_bind(), run.id, keep_runs, pruned),
        name=f"prune-before-run-{run.id}", daemon=True)
    if pruner is not None:
        pruner.start()
    # The run's own table has no key checks to pause: the attach checks its rows in one join a key.
    checked_at_end = run_table is not None or _pause_foreign_keys(session)
    orgs = load_organizations(session)
    dems, guessed = load_demands(session)
    read_ids = ([int(o.key) for o in orgs], [int(d.key) for d in dems]) if checked_at_end else ([], [])
    began = time.perf_counter()
    stored_tokens = StoredTokens(session, matcher.tokenizer)
    stored_tokens.load([o.text for o in orgs] + [d.text for d in dems])
    token_store = time.perf_counter() - began
    began = time.perf_counter()
    # Meaning for the texts encoded so far; the others are matched by words alone this time.
    vectors = stored_vectors(session, orgs, dems)
    vector_load = time.perf_counter() - began
    written = 0.0
    # (A run's own table has no key triggers to turn off: its COPY needs no replication role.)
    writer = BackgroundWriter.of(session, key_checks=run_table is not None or not checked_at_end, table=run_table)

    def write(batch: RecommendationBatch) -> None:
        # The rows go out as they are explained: they never all sit in memory at once.
        nonlocal written
        began = time.perf_counter()
        rows = batch_rows(run.id, batch)  # type: ignore[arg-type]
        priority.leave_idle()  # this thread holds the write from here to the commit: never starved
        if pruner is not None:
            pruner.join()  # before this session takes SQLite's write lock (the pruner would wait on it)
        if writer is not None:
            writer.write(rows)
        else:
            insert_recommendations(session, rows, key_checks=not checked_at_end)
        written += time.perf_counter() - began

    try:
        result = matcher.match(orgs, dems, **learning_inputs(session).keyed(), today=today, progress=progress,
                               sink=write, vectors=vectors)
    finally:
        # What follows writes, the rest of the run or its failure (a run without rows to write too).
        priority.leave_idle()
        if writer is not None:
            began = time.perf_counter()
            writer.close()  # the last batch written (or, after a failure, the thread ended)
            written += time.perf_counter() - began
    with_meaning = 0 if vectors is None else len(vectors.demands) + len(vectors.organizations)
    del orgs, dems, vectors
    if pruner is not None:
        pruner.join()  # no rows to write (nothing open): still before this session writes
    if checked_at_end:
        _drop_vanished(session, run.id, *read_ids, table=run_table or "recommendation")
    began = time.perf_counter()
    stored_tokens.save()
    token_store += time.perf_counter() - began
    write_start = time.perf_counter()
    if run_table is not None:
        partitions.attach(session.connection(), run.id)  # type: ignore[arg-type]
    # Categories inferred with the whole corpus in view supersede the import-time guess.
    changed = {i: inference.action for i, category in guessed.items()
               if (inference := result.inferred.get(str(i))) is not None and inference.action != category}
    ids = list(changed)
    for start in range(0, len(ids), 500):
        for d in session.exec(select(Demand).where(col(Demand.id).in_(ids[start:start + 500]))):
            d.category = changed[d.id]  # type: ignore[index]
            session.add(d)
    stats = result.stats
    timings = dict(stats.timings)
    timings["explain"] = timings.get("explain", 0.0) - written
    timings["tokenize"] = timings.get("tokenize", 0.0) + token_store  # reading and storing tokens is part of it
    timings["vectorize"] = timings.get("vectorize", 0.0) + vector_load  # and reading stored meaning vectors
    timings["db_write"] = written + time.perf_counter() - write_start
    run.status = "done"
    run.finished_at = utcnow()
    run.n_organizations = stats.n_organizations
    run.n_demands = stats.n_demands
    run.pairs_considered = stats.pairs_considered
    run.n_recommendations = stats.n_recommendations
    run.coverage = round(stats.coverage, 4)
    run.demands_without_candidates = len(stats.demands_without_candidates)
    run.timings = {k: round(v, 3) for k, v in timings.items()}
    # How many records had their meaning (the rest: words alone), kept beside the config that ran.
    run.config = {**run.config, "semantic_records": with_meaning, "records": stats.n_demands + stats.n_organizations}
    run.duration_s = round(time.perf_counter() - started, 3)
    session.add(run)
    # What the early delete left: the run it kept, or all of it if it failed. Not its runs again: on
    # PostgreSQL their rows are dead but still in the indexes until a vacuum, and a second delete
    # visits every one of them (0.8–1.2 s of the server's at Jilin scale) to find nothing.
    if run_table is None:
        _prune_runs(session, keep_runs, done=pruned)
    else:
        engine = session.get_bind()
        event.listen(session, "after_commit", lambda _s: partitions.drop_old_quietly(engine, keep_runs), once=True)
    # Everything queued for incremental matching before this run began is covered by it.
    session.execute(delete(PendingMatch).where(col(PendingMatch.queued_at) <= run.started_at))
    session.flush()
    return run


def _pause_foreign_keys(session: Session) -> bool:
    """Whether this run's bulk insert goes without a foreign-key check per row, replaced by one look
    at the end (``_drop_vanished``). The ids come from the run's own reads; those deleted since are
    dropped there, which is what the keys would have refused.

    SQLite: three lookups a row, ~0.7 s of the Jilin write. The pool turns the checks back on when
    the connection is returned (api/db.py). A no-op inside a transaction, where SQLite ignores the
    pragma anyway.

    PostgreSQL: the checks are triggers run row by row, 6.8 of the 10.8 s the server spends
    inserting a Jilin run (measured with and without them). Each COPY runs with
    ``session_replication_role = replica``, which turns them off for this connection and which only
    a superuser, or (PostgreSQL 15 and later) a role granted ``SET ON PARAMETER
    session_replication_role``, may set. Without that privilege the checks stay on, as before.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return _may_skip_key_triggers(conn)
    if conn.dialect.name != "sqlite":
        return False
    raw = conn.connection.driver_connection
    if raw is None or raw.in_transaction:
        return False
    conn.connection.info[FOREIGN_KEYS_PAUSED] = True
    raw.execute("PRAGMA foreign_keys=OFF")
    return True


def _may_skip_key_triggers(conn: Any) -> bool:
    """PostgreSQL: may this connection's user set ``session_replication_role``? Asked, not tried,
    so a role without the privilege leaves no error in the server's log every night."""
    if int(conn.exec_driver_sql("SHOW server_version_num").scalar()) >= 150000:
        return bool(conn.exec_driver_sql("SELECT has_parameter_privilege('session_replication_role', 'SET')")
                    .scalar())
    return conn.exec_driver_sql("SHOW is_superuser").scalar() == "on"


_KEY_SHARE = {"read": True, "key_share": True}  # FOR KEY SHARE (key_share alone is FOR NO KEY UPDATE)


def _drop_vanished(session: Session, run_id: int, org_ids: list[int], demand_ids: list[int], *,
                   table: str = "recommendation") -> None:
    """Rows of this run naming an organization or demand deleted while it worked: what the foreign
    keys would have refused. Called after the last insert. On SQLite this transaction then holds the
    write lock, so no delete can commit between this look and the commit; on PostgreSQL the look
    takes the lock each key check would have taken (``FOR KEY SHARE``, ~25 ms for both Jilin
    tables): a delete begun after it waits for this commit, then cascades to the run's rows."""
    rows = sql_table(table, sql_column("run_id"), sql_column("organization_id"), sql_column("demand_id"))
    session.execute(select_columns(MatchRun.id).where(col(MatchRun.id) == run_id).with_for_update(**_KEY_SHARE))
    for owner, column, ids in ((Organization, rows.c.organization_id, org_ids), (Demand, rows.c.demand_id, demand_ids)):
        present = set(session.execute(
            select_columns(owner.id).with_for_update(**_KEY_SHARE)).scalars())  # type: ignore[attr-defined]
        gone = [i for i in ids if i not in present]
        for start in range(0, len(gone), 500):
            session.execute(delete(rows).where(rows.c.run_id == run_id, column.in_(gone[start:start + 500])))


def run_recorded(engine: Any, matcher: Matcher, run_id: int, *, today: date | None, keep_runs: int) -> None:
    """Carry a started run to the end; a failure is recorded on the run for staff to see."""
    with Session(engine, expire_on_commit=False) as session:
        run = session.get(MatchRun, run_id)
        assert run is not None
        try:
            run_rematch(session, matcher, today=today, keep_runs=keep_runs, run=run)
            session.commit()
        except Exception as exc:
            session.rollback()
            mark_run_failed(engine, run_id, str(exc))


def mark_run_failed(engine: Any, run_id: int, error: str) -> None:
    with Session(engine) as session:
        run = session.get(MatchRun, run_id)
        if run is not None and run.status == "running":
            run.status, run.error = "failed", error[:500]
            session.add(run)
            session.commit()


def run_in_own_process(engine: Any, database_url: str, run_id: int, *, today: date | None, keep_runs: int,
                       nice: int, idle: bool = False, started: Callable[[BaseProcess], None] | None = None,
                       review_first: bool = False) -> None:
    """Carry a started run to the end in a process of its own, spawned (a fresh interpreter) and
    niced (and with ``idle`` in the idle class until it writes) from its start: the engine's Python
    never holds the caller's interpreter lock, and the caller's requests come first for the CPU.
    Returns when it has ended; a crash is recorded on the run. ``started`` is told of the process
    (the web keeps a list of them). With ``review_first`` the process runs the 需复核 checks over every
    open record first (the nightly job): what they hold sits the run out."""
    nice_from_start = nice if priority.PER_THREAD else 0
    proc = multiprocessing.get_context("spawn").Process(
        target=rematch_in_process, args=(database_url, run_id, today, keep_runs, nice - nice_from_start,
                                         review_first),
        name=f"match-run-{run_id}", daemon=True)
    if started is not None:
        started(proc)
    priority.start_niced(proc, nice_from_start, idle=idle)
    proc.join()
    if proc.exitcode != 0:
        mark_run_failed(engine, run_id, f"匹配进程异常退出（退出码{proc.exitcode}）")


def own_process_config() -> MatchConfig:
    """What a run in a process of its own matches by. Its starter records the run with it and needs no
    matcher of its own: building one (the dictionary) held the web's interpreter lock for ~0.8 s, and
    the requests of that second waited behind it (BENCHMARKS.md)."""
    return MatchConfig()


def rematch_in_process(database_url: str, run_id: int, today: date | None, keep_runs: int, nice: int = 0,
                       review_first: bool = False) -> None:
    """The body of a re-match process started from the web (spawned: a fresh interpreter), at a
    lower priority by ``nice``: the web's requests come first for the CPU while it works."""
    from api.db import make_engine

    if nice > 0:
        os.nice(nice)
    engine = make_engine(database_url)
    try:
        matcher = Matcher(own_process_config())
        if review_first:
            with Session(engine) as session:
                review.scan(session, matcher, now=utcnow())
                session.commit()
        prepare_bulk()  # a fresh interpreter: the run's timings are then the matching's own
        run_recorded(engine, matcher, run_id, today=today, keep_runs=keep_runs)
    finally:
        engine.dispose()


def _prune_runs(session: Session, keep: int, *, current: int | None = None, done: Iterable[int] = ()) -> list[int]:
    """Delete the recommendations of all but the newest ``keep`` done runs (and ``current``'s), but
    of the runs ``done`` (already pruned); returns the runs it pruned."""
    keep_ids = list(session.exec(
        select(MatchRun.id).where(MatchRun.status == "done").order_by(col(MatchRun.id).desc()).limit(keep)
    ).all())
    if current is not None:
        keep_ids.append(current)
    if not keep_ids:
        return []
    # By run, through the index that starts with run_id: ``run_id NOT IN (kept)`` read every row of
    # every run kept (~1 million at Jilin scale: 0.2 s at each run's end, where runs long pruned
    # now cost a probe each). Every row's run is a match_run row (a foreign key).
    skip = set(done)
    drop = [i for i in session.exec(select(MatchRun.id).where(col(MatchRun.id).not_in(keep_ids))).all()
            if i not in skip]
    for start in range(0, len(drop), 500):
        session.execute(delete(Recommendation).where(col(Recommendation.run_id).in_(drop[start:start + 500])))
    return drop  # type: ignore[return-value]


def _prune_early(engine: Any, run_id: int, keep: int, pruned: list[int]) -> None:
    """While the engine works: delete the rows the run's end would delete, but the one older run
    it keeps until this one is done (users see the latest lists meanwhile), in a transaction of its
    own. One DELETE runs in the database without the interpreter lock, so it overlaps the engine's
    Python (~0.9 s of 324,000 rows at Jilin scale, otherwise at the end of every nightly run)."""
    priority.leave_idle()  # it holds the rows it deletes (and on SQLite the write lock) until it commits
    with Session(engine) as session:
        dropped = _prune_runs(session, max(keep - 1, 1), current=run_id)
        session.commit()
    pruned.extend(dropped)


# The run users see: the newest that finished. One definition, for ``latest_run`` and inside the
# API's list statements below.
LATEST_DONE_RUN = (select_columns(func.max(MatchRun.__table__.c.id))  # type: ignore[attr-defined]
                    .where(MatchRun.__table__.c.status == "done").scalar_subquery())  # type: ignore[attr-defined]


def latest_run(session: Session) -> MatchRun | None:
    return session.exec(select(MatchRun).where(MatchRun.id == LATEST_DONE_RUN)).first()
