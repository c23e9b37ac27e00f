"""PostgreSQL: each full run's recommendations in a partition of their own.

A run writes its rows into a table made in its own transaction, so ``COPY ... FREEZE`` stores them
already frozen (no hint bits for the first readers to set, nothing for a vacuum to freeze later);
it builds that table's key and indexes once, after the load, instead of row by row; and it
attaches the table as the run's partition just before it commits. Attaching takes a SHARE UPDATE
EXCLUSIVE lock on ``recommendation``, which neither readers nor writers wait on, and the table's
CHECK on ``run_id`` spares the scan for the partition's bound. An old run goes by ``DETACH
PARTITION ... CONCURRENTLY`` and ``DROP TABLE``, after the new run has committed, instead of a
325,000-row DELETE whose dead rows stay in the table and its indexes until a vacuum.

A database whose ``recommendation`` was made before (a plain table; ``api.db.create_tables`` makes
new ones partitioned) keeps the plain way: ``partitioned`` asks which it has. ``convert`` (``duijie
partition-recommendations``) moves such a table into partitions.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from api.db import create_postgres_tables, partition_index_columns, partitions_supported
from api.errors import InvalidInput
from models import MatchRun, Recommendation

log = logging.getLogger(__name__)

PARENT = "recommendation"
_PREFIX = "recommendation_run_"


def partitioned(conn: Connection) -> bool:
    """Whether ``recommendation`` here is partitioned by run."""
    if conn.dialect.name != "postgresql":
        return False
    return conn.exec_driver_sql(
        f"SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('{PARENT}')").scalar() is True


def table_name(run_id: int) -> str:
    return f"{_PREFIX}{int(run_id)}"


def create_run_table(conn: Connection, run_id: int) -> str:
    """The run's table, in the caller's transaction: the parent's columns and defaults (``id`` from
    the same sequence), and a CHECK that lets the attach skip the scan for the bound."""
    name = table_name(run_id)
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS, "
                         f"CONSTRAINT {name}_run CHECK (run_id = {int(run_id)}))")
    return name


def copy_statement(name: str, columns: str) -> str:
    # FREEZE is refused unless the table was made (or emptied) in this transaction, which it was.
    return f"COPY {name} ({columns}) FROM STDIN WITH (FREEZE)"


def attach(conn: Connection, run_id: int) -> None:
    """Key and indexes built over the loaded rows, then the table attached as the run's partition.
    Each index equal to one of the parent's is taken as that index's partition, not built again;
    the parent's foreign keys are checked over the rows in one join each."""
    name = table_name(run_id)
    # One core for the builds: the web's requests have the other.
    conn.exec_driver_sql("SET LOCAL max_parallel_maintenance_workers = 0")
    conn.exec_driver_sql(f"ALTER TABLE {name} ADD PRIMARY KEY (id)")  # its own (api.db.create_tables)
    for columns in partition_index_columns():
        conn.exec_driver_sql(f"CREATE INDEX ON {name} ({', '.join(columns)})")
    conn.exec_driver_sql(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES IN ({int(run_id)})")


def convert(engine: Engine) -> list[int]:
    """A plain ``recommendation`` table (a database made before) moved into the partitioned layout in
    one transaction, each run's rows, ids included, into a table of its own; returns the runs moved
    (none if it was partitioned already). The table is locked throughout: stop the web app and the
    scheduler first. A failure leaves the database as it was."""
    with engine.begin() as conn:
        if conn.dialect.name != "postgresql" or not partitions_supported(conn):
            raise InvalidInput("只有 PostgreSQL 14 及以上版本的推荐表可以按匹配批次分区")
        if partitioned(conn):
            return []
        conn.exec_driver_sql(f"LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE")
        # The old table, its key's index and its sequence out of the way of the new ones' names.
        conn.exec_driver_sql(f"ALTER TABLE {PARENT} RENAME TO {PARENT}_plain")
        conn.exec_driver_sql(f"ALTER TABLE {PARENT}_plain RENAME CONSTRAINT {PARENT}_pkey TO {PARENT}_plain_pkey")
        conn.exec_driver_sql(f"ALTER SEQUENCE {PARENT}_id_seq RENAME TO {PARENT}_plain_id_seq")
        create_postgres_tables(conn)
        last, called = conn.exec_driver_sql(f"SELECT last_value, is_called FROM {PARENT}_plain_id_seq").one()
        conn.exec_driver_sql(f"SELECT setval('{PARENT}_id_seq', {int(last)}, {'true' if called else 'false'})")
        columns = ", ".join(c.name for c in Recommendation.__table__.columns)  # type: ignore[attr-defined]
        # Every run with rows, and the latest done one even without (incremental matching adds to it).
        runs = list(conn.exec_driver_sql(
            f"SELECT run_id FROM {PARENT}_plain UNION SELECT max(id) FROM match_run WHERE status = 'done' "
            "ORDER BY 1").scalars())
        runs = [r for r in runs if r is not None]
        for run_id in runs:
            name = create_run_table(conn, run_id)
            conn.exec_driver_sql(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {PARENT}_plain "
                                 f"WHERE run_id = {int(run_id)}")
            attach(conn, run_id)
        conn.exec_driver_sql(f"DROP TABLE {PARENT}_plain")  # and the sequence it owns
    return runs


def attached(conn: Connection) -> dict[str, bool]:
    """The run tables attached as partitions, each with whether a detach of it is pending."""
    return dict(conn.exec_driver_sql(
        "SELECT c.relname, i.inhdetachpending FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        f"WHERE i.inhparent = to_regclass('{PARENT}')").all())


def detached(conn: Connection) -> list[str]:
    """Run tables beside the parent that are no partition: what a crash left between a detach and
    its drop (a run's table not yet attached is in its uncommitted transaction, unseen here)."""
    return list(conn.exec_driver_sql(
        "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND NOT c.relispartition "
        f"AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('{PARENT}')) "
        f"AND c.relname ~ '^{_PREFIX}[0-9]+$' ORDER BY c.relname").scalars())


def ensure(conn: Connection, run_id: int) -> None:
    """An empty partition for a run that has none, so rows can be added to it one by one (a run's
    own rows come with its table); nothing where the table is not partitioned."""
    if not partitioned(conn) or table_name(run_id) in attached(conn):
        return
    create_run_table(conn, run_id)
    attach(conn, run_id)


DROP_WAIT = "60s"  # for transactions holding the table; one open longer leaves the drop to the next run


def drop_old(engine: Engine, keep: int, *, wait: str = DROP_WAIT) -> list[int]:
    """Drop the partitions of all but the newest ``keep`` done runs; returns their runs. Outside any
    transaction (``CONCURRENTLY`` needs that): the detach waits for the reads under way, never
    blocks one, and gives up after ``wait`` (a session left idle in a transaction would otherwise
    hold it, and the run's process, for ever), leaving the detach pending. Also finishes a pending
    detach and drops a table a crash left detached; a run's table not yet attached is in its
    uncommitted transaction, which no one else sees."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(f"SET lock_timeout = '{wait}'")
        try:
            return _drop_old(conn, keep)
        finally:
            conn.exec_driver_sql("RESET lock_timeout")  # the connection goes back to the pool


def _drop_old(conn: Connection, keep: int) -> list[int]:
    dropped: list[int] = []
    kept = set(conn.execute(select(MatchRun.id).where(MatchRun.status == "done")
                            .order_by(col(MatchRun.id).desc()).limit(keep)).scalars())
    for name, pending in attached(conn).items():
        run_id = _run_of(name)
        if run_id is None or run_id in kept:
            continue
        conn.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {name} "
                             f"{'FINALIZE' if pending else 'CONCURRENTLY'}")
        conn.exec_driver_sql(f"DROP TABLE {name}")
        dropped.append(run_id)
    for name in detached(conn):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    return sorted(dropped)


def drop_old_quietly(engine: Engine, keep: int) -> list[int]:
    """``drop_old`` after a run has committed: a failure there leaves old rows for the next run to
    drop, and must not make the committed run look failed."""
    try:
        return drop_old(engine, keep)
    except Exception:
        log.warning("旧推荐分区清理失败，将在下次匹配时重试", exc_info=True)
        return []


def _run_of(name: str) -> int | None:
    suffix = name[len(_PREFIX):] if name.startswith(_PREFIX) else ""
    return int(suffix) if suffix.isdigit() else None
