"""Running the engine over the database and reading its recommendations back."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import repeat
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Row, and_, bindparam, delete, event, func, insert
from sqlalchemy import column as sql_column
from sqlalchemy import select as select_columns
from sqlalchemy import table as sql_table
from sqlmodel import Session, col, select

from api.db import FOREIGN_KEYS_PAUSED
from api.errors import Conflict, NotFound
from api.services import partitions, priority
from api.services.tokens import StoredTokens
from matcher import DemandRecord, MatchConfig, Matcher, OrganizationRecord
from matcher import Recommendation as EngineRecommendation
from matcher.candidates import prepare_bulk
from matcher.explanations import SIGNALS, RecommendationBatch
from matcher.scoring import KEYWORD_PREFIX, KEYWORD_SEPARATOR
from models import Demand, MatchRun, Organization, Pairing, PendingMatch, Recommendation
from models.base import utcnow

# The columns the engine reads, in the order of the records' fields: full re-matches select just
# these (no ORM objects: 3 times faster at Jilin scale), single objects go through the same mapping.
_ORG_COLUMNS = ("id", "name", "registrar_level", "city_code", "county_code", "actions", "capability", "scope",
                "org_type", "service_area", "funds", "staff", "status")
_DEMAND_COLUMNS = ("id", "city_code", "county_code", "title", "description", "category", "category_inferred",
                   "township", "village", "beneficiaries", "funding_needed", "due_date", "status")


def _org_from_row(row: Sequence[Any]) -> OrganizationRecord:
    (id_, name, level, city, county, actions, capability, scope, org_type, area, funds, staff, status) = row
    return OrganizationRecord(
        key=str(id_), name=name, level=level, city_code=city, county_code=county, actions=tuple(actions),
        capability=capability, scope=scope, org_type=org_type, service_area=area, funds=funds, staff=staff,
        active=status == "active",
    )


def _demand_from_row(row: Sequence[Any]) -> DemandRecord:
    (id_, city, county, title, description, category, inferred, township, village, beneficiaries, needed, due,
     status) = row
    return DemandRecord(
        key=str(id_), city_code=city, county_code=county, title=title, description=description,
        category=None if inferred else category, township=township, village=village,
        beneficiaries=beneficiaries, funding_needed=needed, due_date=due, open=status == "open",
    )


def org_record(org: Organization) -> OrganizationRecord:
    return _org_from_row([getattr(org, c) for c in _ORG_COLUMNS])


def demand_record(d: Demand) -> DemandRecord:
    return _demand_from_row([getattr(d, c) for c in _DEMAND_COLUMNS])


def _plain_rows(session: Session, query: Any) -> Any:
    """A select of columns through the session's connection: the session's own ``execute`` runs
    even that through the ORM's loading, twice as long at Jilin scale (the organizations: 0.47
    against 0.24 s). Flushed first, as the session's would be."""
    session.flush()
    return session.connection().execute(query)


def load_organizations(session: Session, *where: Any) -> list[OrganizationRecord]:
    """Organizations as engine records, read as plain rows (default: the active ones), in id order
    (so that a run's ties break the same way on every database)."""
    query = select_columns(*(getattr(Organization, c) for c in _ORG_COLUMNS)).order_by(col(Organization.id))
    return [_org_from_row(r) for r in _plain_rows(session, query.where(*(where or (Organization.status == "active",))))]


def load_demands(session: Session, *where: Any) -> tuple[list[DemandRecord], dict[int, str]]:
    """Demands as engine records, read as plain rows (default: the open ones), and the categories
    that were only guessed at import, by demand id. In id order, as organizations are."""
    query = select_columns(*(getattr(Demand, c) for c in _DEMAND_COLUMNS)).order_by(col(Demand.id))
    dems, guessed = [], {}
    for r in _plain_rows(session, query.where(*(where or (Demand.status == "open",)))):
        dems.append(_demand_from_row(r))
        if r[6]:
            guessed[r[0]] = r[5]
    return dems, guessed


STALE_RUN_S = 3600  # a run still "running" after this long was interrupted


def start_run(session: Session, config: MatchConfig) -> MatchRun:
    """Record a run as started (so others can see it running), with the configuration it matches by."""
    now = utcnow()
    for running in session.exec(select(MatchRun).where(MatchRun.status == "running")).all():
        if (now - running.started_at).total_seconds() < STALE_RUN_S:
            raise Conflict(f"第{running.id}次匹配正在进行，请稍后再试")
        # Its process died (a re-match takes minutes at most): nothing of it was committed but the
        # run itself, which would otherwise show as running for ever.
        running.status, running.error = "failed", "运行中断：超过1小时未完成"
        session.add(running)
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
    from api.services.pairings import learning_inputs

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
    written = 0.0
    # (A run's own table has no key triggers to turn off: its COPY needs no replication role.)
    writer = _BackgroundWriter.of(session, key_checks=run_table is not None or not checked_at_end, table=run_table)

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
                               sink=write)
    finally:
        # What follows writes, the rest of the run or its failure (a run without rows to write too).
        priority.leave_idle()
        if writer is not None:
            began = time.perf_counter()
            writer.close()  # the last batch written (or, after a failure, the thread ended)
            written += time.perf_counter() - began
    del orgs, dems
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
                       nice: int, idle: bool = False, started: Callable[[BaseProcess], None] | None = None) -> None:
    """Carry a started run to the end in a process of its own, spawned (a fresh interpreter) and
    niced (and with ``idle`` in the idle class until it writes) from its start: the engine's Python
    never holds the caller's interpreter lock, and the caller's requests come first for the CPU.
    Returns when it has ended; a crash is recorded on the run. ``started`` is told of the process
    (the web keeps a list of them)."""
    nice_from_start = nice if priority.PER_THREAD else 0
    proc = multiprocessing.get_context("spawn").Process(
        target=rematch_in_process, args=(database_url, run_id, today, keep_runs, nice - nice_from_start),
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


def rematch_in_process(database_url: str, run_id: int, today: date | None, keep_runs: int, nice: int = 0) -> None:
    """The body of a re-match process started from the web (spawned: a fresh interpreter), at a
    lower priority by ``nice``: the web's requests come first for the CPU while it works."""
    from api.db import make_engine

    if nice > 0:
        os.nice(nice)
    engine = make_engine(database_url)
    try:
        matcher = Matcher(own_process_config())
        prepare_bulk()  # a fresh interpreter: the run's timings are then the matching's own
        run_recorded(engine, matcher, run_id, today=today, keep_runs=keep_runs)
    finally:
        engine.dispose()


_REC_COLUMNS = ("run_id", "demand_id", "organization_id", "demand_rank", "organization_rank", "score",
                "signals", "reasons")
_REC_LIST = ", ".join(_REC_COLUMNS)  # as SQL: the bulk writes name them all, in this order
_REC_MARKS = ", ".join("?" * len(_REC_COLUMNS))  # SQLite's placeholders for one row
_COPY_SQL = f"COPY recommendation ({_REC_LIST}) FROM STDIN"


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # built once, not per row
# Reasons and keywords repeat across hundreds of thousands of rows: each string is encoded once.
_encode_str = lru_cache(maxsize=1 << 17)(_encode)


def _json_list(items: Iterable[str]) -> str:
    return "[" + ",".join(map(_encode_str, items)) + "]"


def _signals_json(signals: dict[str, float], keywords: tuple[str, ...]) -> str:
    """``signals`` plus the keywords as a JSON object, as json would write it (floats by repr)."""
    if all((type(v) is float and math.isfinite(v)) or type(v) is int for v in signals.values()):
        parts = [f'{_encode_str(k)}:{v!r}' for k, v in signals.items()]
        parts.append('"keywords":' + _json_list(keywords))
        return "{" + ",".join(parts) + "}"
    return _encode({**signals, "keywords": list(keywords)})


def recommendation_rows(run_id: int, recs: Iterable[EngineRecommendation], *, ranked: bool = True
                        ) -> list[tuple[Any, ...]]:
    """The engine's recommendations as rows of ``_REC_COLUMNS``, JSON already encoded;
    ``ranked=False`` leaves the ranks to be set afterwards (incremental matching)."""
    return [(run_id, int(r.demand_key), int(r.organization_key), r.demand_rank if ranked else None,
             r.organization_rank if ranked else None, r.score, _signals_json(r.signals, r.keywords),
             _json_list(r.reasons)) for r in recs]


def _encoded(table: Sequence[str], ids: np.ndarray, *, before: str = "", after: str = "",
             inner: bool = False) -> np.ndarray:
    """``before + JSON string + after`` for each id (only the ids present are encoded), as an object
    array indexed by id, with "" at index -1 (no such entry). ``inner`` leaves the quotes off."""
    out = np.full(len(table) + 1, "", dtype=object)
    for i in np.unique(ids[ids >= 0]).tolist():
        text = _encode_str(table[i])
        out[i] = before + (text[1:-1] if inner else text) + after
    return out


def _float_strings(values: np.ndarray) -> list[str]:
    """``repr`` of every value, each distinct one formatted once (signals are rounded: few distinct)."""
    unique, inverse = np.unique(values, return_inverse=True)
    return np.array(unique.astype(str), dtype=object)[inverse.ravel()].tolist()


def _pick(flags: np.ndarray, absent: str, present: str) -> list[str]:
    return np.array([absent, present], dtype=object)[flags.astype(np.int64)].tolist()


def batch_rows(run_id: int, batch: RecommendationBatch) -> list[tuple[Any, ...]]:
    """A batch of the engine's recommendations as rows of ``_REC_COLUMNS``: the same JSON as
    ``recommendation_rows`` writes for them (a test holds it so), put together a column of pieces at
    a time from the batch's tables of reasons and words (each text encoded once), joined per row."""
    n = len(batch)
    if n == 0:
        return []
    reason_ids, keyword_ids = batch.reason_ids, batch.keyword_ids
    words = _encoded(batch.words, keyword_ids, inner=True)
    has_keywords = keyword_ids[:, 0] >= 0
    word_pieces = [words[keyword_ids[:, 0]].tolist()]
    list_seps, text_seps = [], []
    for k in range(1, keyword_ids.shape[1]):
        present = keyword_ids[:, k] >= 0
        list_seps.append(_pick(present, "", '","'))
        text_seps.append(_pick(present, "", KEYWORD_SEPARATOR))
        word_pieces.append(words[keyword_ids[:, k]].tolist())
    opened, closed = _pick(has_keywords, "", '"'), _pick(has_keywords, "]", '"]')

    # Reasons: [category, reach, keywords, scale, feedback, rating], absent ones left out.
    prefix = "," + _encode_str(KEYWORD_PREFIX)[:-1]  # the reason's opening quote and text, left open
    reason_columns = [
        repeat("["),
        _encoded(batch.parts, reason_ids[:, 0], after=",")[reason_ids[:, 0]].tolist(),
        _encoded(batch.parts, reason_ids[:, 1])[reason_ids[:, 1]].tolist(),
        _pick(has_keywords, "", prefix), word_pieces[0],
    ]
    for sep, piece in zip(text_seps, word_pieces[1:], strict=True):
        reason_columns += [sep, piece]
    reason_columns.append(opened)
    for slot in range(2, reason_ids.shape[1]):
        reason_columns.append(_encoded(batch.parts, reason_ids[:, slot], before=",")[reason_ids[:, slot]].tolist())
    reason_columns.append(repeat("]"))

    # Signals as json writes floats (numpy's shortest repr is Python's; a test holds it so).
    columns = batch.signals
    finite = np.ones(n, dtype=bool)
    signal_columns: list[Iterable[str]] = []
    for j, name in enumerate(SIGNALS):
        values = columns[name]
        finite &= np.isfinite(values)
        signal_columns += [repeat(f'{"{" if j == 0 else ","}"{name}":'), _float_strings(values)]
    feedback = columns["feedback"]
    has_feedback = ~np.isnan(feedback)
    finite &= ~np.isinf(feedback)
    feedback_values = _float_strings(np.where(has_feedback, feedback, 0.0))
    signal_columns += [_pick(has_feedback, "", ',"feedback":'),
                       [v if f else "" for v, f in zip(feedback_values, has_feedback.tolist(), strict=True)],
                       repeat(',"keywords":['), opened, word_pieces[0]]
    for sep, piece in zip(list_seps, word_pieces[1:], strict=True):
        signal_columns += [sep, piece]
    signal_columns += [closed, repeat("}")]
    signals = list(map("".join, zip(*signal_columns, strict=False)))  # constants repeat: the lists set the length
    for i in np.flatnonzero(~finite).tolist():  # NaN or infinity: as json writes them
        rec = batch.recommendations([i])[0]
        signals[i] = _signals_json(rec.signals, rec.keywords)
    d_rank = [r or None for r in batch.demand_rank.tolist()]
    o_rank = [r or None for r in batch.organization_rank.tolist()]
    return list(zip(repeat(run_id, n), batch.demand_keys.astype(np.int64).tolist(),
                    batch.organization_keys.astype(np.int64).tolist(), d_rank, o_rank, batch.score.tolist(),
                    signals, map("".join, zip(*reason_columns, strict=False)), strict=True))


class _BackgroundWriter:
    """A re-match's rows written beside the engine: while the engine explains the next batch, a
    thread of this writer's waits on the database for the last one. One thread uses the connection
    at a time (a batch goes out only once the one before has ended, which also hands on its failure).

    PostgreSQL: the thread sends each batch with COPY and waits for the server to store it (its
    insert and index work is in the server's process; the driver lets go of the interpreter lock).
    SQLite: each batch is staged into a temporary table (the driver's per-row work, in the caller's
    thread), then moved into ``recommendation`` by one ``INSERT ... SELECT`` in the writer's thread:
    the two indexes' work, half of the insert at Jilin scale, inside one SQLite call that lets go
    of the lock. Inserting row by row from a second thread would instead wait for the lock at every
    row."""

    _STAGE = "recommendation_stage"  # in the connection's temp schema

    @classmethod
    def of(cls, session: Session, *, key_checks: bool, table: str | None = None) -> _BackgroundWriter | None:
        """None for a database without either way (the caller writes each batch itself). ``table``:
        PostgreSQL, the run's own table (``api.services.partitions``), made in this transaction."""
        conn = session.connection()
        return cls(conn, key_checks=key_checks, table=table) if conn.dialect.name in ("sqlite", "postgresql") \
            else None

    def __init__(self, conn: Any, *, key_checks: bool, table: str | None = None) -> None:
        self.raw = conn.connection.driver_connection
        self.sqlite = conn.dialect.name == "sqlite"
        self.key_checks = key_checks
        self.copy_sql = partitions.copy_statement(table, _REC_LIST) if table else _COPY_SQL
        if self.sqlite:
            self.stage_sql = f"INSERT INTO temp.{self._STAGE} ({_REC_LIST}) VALUES ({_REC_MARKS})"
            self.move_sql = f"INSERT INTO recommendation ({_REC_LIST}) SELECT {_REC_LIST} FROM temp.{self._STAGE}"
            # This connection's own, dropped at the end; one a failed run's rollback brought back goes first.
            self.raw.execute(f"DROP TABLE IF EXISTS temp.{self._STAGE}")
            self.raw.execute(f"CREATE TEMP TABLE {self._STAGE} AS SELECT {_REC_LIST} FROM recommendation WHERE 0")
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="rematch-write", initializer=priority.leave_idle)
        self.pending: Future[None] | None = None

    def _move(self) -> None:
        self.raw.execute(self.move_sql)
        self.raw.execute(f"DELETE FROM temp.{self._STAGE}")

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        self.wait()
        if self.sqlite:
            self.raw.executemany(self.stage_sql, rows)
            self.pending = self.pool.submit(self._move)
        else:
            self.pending = self.pool.submit(_copy_rows, self.raw, rows, self.key_checks, self.copy_sql)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        """The last batch written (its failure raised here), the thread gone, the stage dropped."""
        try:
            self.wait()
        finally:
            self.pool.shutdown(wait=True)
            if self.sqlite:
                self.raw.execute(f"DROP TABLE IF EXISTS temp.{self._STAGE}")


def insert_recommendations(session: Session, rows: list[tuple[Any, ...]], *, key_checks: bool = True) -> None:
    """Many recommendation rows at once, in the session's transaction.

    Through the driver: COPY on PostgreSQL, executemany on SQLite; about 3.5 times faster than
    SQLAlchemy's per-row type processing at Jilin scale (BENCHMARKS.md). ``key_checks=False``: the
    caller checks the rows' keys itself, in bulk (``_pause_foreign_keys``), so PostgreSQL's per-row
    triggers are off for the COPY (SQLite's checks the caller has already paused).
    """
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        _copy_rows(conn.connection.driver_connection, rows, key_checks)
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO recommendation ({_REC_LIST}) VALUES ({_REC_MARKS})", rows)
    else:  # any other database: the portable path
        session.execute(insert(Recommendation), [
            {**dict(zip(_REC_COLUMNS, row, strict=True)), "signals": json.loads(row[6]), "reasons": json.loads(row[7])}
            for row in rows])


def _copy_rows(driver: Any, rows: list[tuple[Any, ...]], key_checks: bool, statement: str | None = None) -> None:
    """PostgreSQL: the rows by COPY, in the connection's transaction (see ``insert_recommendations``)."""
    with driver.cursor() as cur:
        if not key_checks:
            cur.execute("SET LOCAL session_replication_role = replica")
        with cur.copy(statement or _COPY_SQL) as copy:
            for row in rows:
                copy.write_row(row)
        if not key_checks:
            # Back on for the rest of the transaction; after a failure the rollback undoes it.
            cur.execute("SET LOCAL session_replication_role = origin")


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
_LATEST_DONE_RUN = (select_columns(func.max(MatchRun.__table__.c.id))  # type: ignore[attr-defined]
                    .where(MatchRun.__table__.c.status == "done").scalar_subquery())  # type: ignore[attr-defined]


def latest_run(session: Session) -> MatchRun | None:
    return session.exec(select(MatchRun).where(MatchRun.id == _LATEST_DONE_RUN)).first()


def find_demand(session: Session, ref: str, county_code: str | None = None) -> Demand:
    query = select(Demand).where(Demand.ref == ref)
    if county_code:
        query = query.where(Demand.county_code == county_code)
    found = session.exec(query).all()
    if not found:
        raise NotFound(f"未找到需求编号为{ref}的需求")
    if len(found) > 1:
        raise Conflict(f"需求编号{ref}在{len(found)}个县（市、区）中都有，请同时指定县（市、区）")
    return found[0]


def find_organization(session: Session, credit_code: str) -> Organization:
    org = session.exec(select(Organization).where(Organization.credit_code == credit_code.upper())).first()
    if org is None:
        raise NotFound(f"未找到统一社会信用代码为{credit_code}的社会组织")
    return org


@dataclass
class RecommendationView:
    recommendation: Recommendation
    demand: Demand
    organization: Organization


def recommendations_for_demand(session: Session, demand: Demand, *, top: int | None = None,
                               run: MatchRun | None = None) -> list[RecommendationView]:
    run = run or latest_run(session)
    if run is None:
        return []
    query = (
        select(Recommendation, Organization)
        .join(Organization, col(Organization.id) == Recommendation.organization_id)
        .where(Recommendation.run_id == run.id, Recommendation.demand_id == demand.id,
               col(Recommendation.demand_rank).is_not(None))
        .order_by(col(Recommendation.demand_rank))
    )
    if top:
        query = query.limit(top)
    return [RecommendationView(r, demand, o) for r, o in session.exec(query).all()]


def recommendations_for_organization(session: Session, org: Organization, *, top: int | None = None,
                                     run: MatchRun | None = None) -> list[RecommendationView]:
    run = run or latest_run(session)
    if run is None:
        return []
    query = (
        select(Recommendation, Demand)
        .join(Demand, col(Demand.id) == Recommendation.demand_id)
        .where(Recommendation.run_id == run.id, Recommendation.organization_id == org.id,
               col(Recommendation.organization_rank).is_not(None))
        .order_by(col(Recommendation.organization_rank))
    )
    if top:
        query = query.limit(top)
    return [RecommendationView(r, d, org) for r, d in session.exec(query).all()]


# The API's two list endpoints are its busiest reads. Each reads its list in one statement built
# once here: the latest done run's rows for the subject, the other side's columns and the pair's
# pairing status. Through the ORM (run, list and statuses, objects built for all of them) a list
# took 2.5 times as long: 1.5 ms of the ~7 ms a request cost the web process (BENCHMARKS.md).
_REC, _PAIR = Recommendation.__table__.c, Pairing.__table__.c  # type: ignore[attr-defined]


def _listing(rank: Any, subject: Any, other_table: Any, other_key: Any) -> Any:
    return (
        select_columns(_REC.run_id, rank.label("rank"), _REC.score, _REC.signals, _REC.reasons,
                       _PAIR.status.label("pairing_status"), *other_table.c)
        .join_from(Recommendation.__table__, other_table, other_table.c.id == other_key)  # type: ignore[attr-defined]
        .outerjoin(Pairing.__table__, and_(_PAIR.demand_id == _REC.demand_id,  # type: ignore[attr-defined]
                                           _PAIR.organization_id == _REC.organization_id))
        .where(_REC.run_id == _LATEST_DONE_RUN, subject == bindparam("subject"), rank.is_not(None))
        .order_by(rank)
        .limit(bindparam("top"))
    )


_ORG_LISTING = _listing(_REC.organization_rank, _REC.organization_id, Demand.__table__, _REC.demand_id)  # type: ignore[attr-defined]
_DEMAND_LISTING = _listing(_REC.demand_rank, _REC.demand_id, Organization.__table__, _REC.organization_id)  # type: ignore[attr-defined]


@dataclass
class Listing:
    """One side's list of the latest done run. Each row has ``rank``, ``score``, ``signals``,
    ``reasons``, ``pairing_status`` (None where no pairing exists) and every column of the other
    side's record, named as on its model (``id``, ``ref``, ``credit_code``, ``status``, ...)."""

    run_id: int | None
    rows: list[Row[Any]]


def listing_for_organization(session: Session, org_id: int, *, top: int) -> Listing:
    return _read_listing(session, _ORG_LISTING, org_id, top)


def listing_for_demand(session: Session, demand_id: int, *, top: int) -> Listing:
    return _read_listing(session, _DEMAND_LISTING, demand_id, top)


def _read_listing(session: Session, statement: Any, subject: int, top: int) -> Listing:
    rows = list(session.connection().execute(statement, {"subject": subject, "top": top}).all())
    if rows:
        return Listing(rows[0].run_id, rows)
    run = latest_run(session)
    return Listing(run.id if run else None, [])


def export_recommendations(session: Session, out: Path, *, side: str, top: int | None = None) -> int:
    """One JSON object a line: demand_ref, credit_code, rank, score, signals, reasons."""
    run = latest_run(session)
    if run is None:
        raise NotFound("还没有完成的匹配：请先运行 duijie rematch")
    rank_col = Recommendation.demand_rank if side == "demands" else Recommendation.organization_rank
    order = (Recommendation.demand_id, rank_col) if side == "demands" else (
        Recommendation.organization_id, rank_col)
    query = (
        select(Recommendation, Demand.ref, Demand.county_code, Organization.credit_code)
        .join(Demand, col(Demand.id) == Recommendation.demand_id)
        .join(Organization, col(Organization.id) == Recommendation.organization_id)
        .where(Recommendation.run_id == run.id, col(rank_col).is_not(None))
        .order_by(*order)
    )
    if top:
        query = query.where(rank_col <= top)
    n = 0
    with out.open("w", encoding="utf-8") as f:
        for rec, ref, county_code, code in session.exec(query):
            line = {
                "demand_ref": ref, "county_code": county_code, "credit_code": code,
                "rank": rec.demand_rank if side == "demands" else rec.organization_rank,
                "score": rec.score, "signals": rec.signals, "reasons": rec.reasons,
                "run_id": run.id,
            }
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
    return n


def counts(session: Session) -> dict[str, int]:
    return {
        "organizations": session.exec(select(func.count()).select_from(Organization)).one(),
        "demands": session.exec(select(func.count()).select_from(Demand)).one(),
        "open_demands": session.exec(
            select(func.count()).select_from(Demand).where(Demand.status == "open")).one(),
    }
