"""Bulk writes of a run's recommendations: rows encoded in batches, written by a thread beside the engine."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlmodel import Session

from api.services import partitions, priority
from matcher import Recommendation as EngineRecommendation
from matcher.explanations import SIGNALS, RecommendationBatch
from matcher.scoring import KEYWORD_PREFIX, KEYWORD_SEPARATOR
from models import Recommendation

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


class BackgroundWriter:
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
    def of(cls, session: Session, *, key_checks: bool, table: str | None = None) -> BackgroundWriter | None:
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
