"""Consistent snapshots of the database and their restoration.

SQLite: the online backup API copies a consistent image while the application keeps writing.
PostgreSQL: ``pg_dump`` in its custom format (one snapshot transaction), restored with
``pg_restore`` in a single transaction, so a failed restore changes nothing. When the URL
pins a schema (``options=-csearch_path=…``), only that schema is dumped and restored.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, inspect, select, table
from sqlalchemy.engine import make_url

from api.db import make_engine
from api.errors import AppError, InvalidInput

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupFailed(AppError):
    code = "backup_failed"
    status_code = 500


@dataclass
class Snapshot:
    path: Path
    kind: str  # sqlite | postgresql
    size: int
    rows: dict[str, int]


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput("内存数据库无法备份")
    return Path(database)


def _pg_schema(url: str) -> str | None:
    options = " ".join(parse_qs(urlsplit(url).query).get("options", []))
    for part in unquote(options).split():
        if part.startswith("-csearch_path="):
            return part.split("=", 1)[1].split(",")[0].strip('"')
    return None


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(f"找不到 {name}：请安装 PostgreSQL 客户端（postgresql-client）")
    return found


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = sorted(inspect(conn).get_table_names())
            return {n: int(conn.execute(select(func.count()).select_from(table(n))).scalar_one()) for n in names}
    finally:
        engine.dispose()


def backup(url: str, out: Path) -> Snapshot:
    """Write a consistent snapshot to ``out`` (replaced only once the snapshot is complete)."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".backup-", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        if url.startswith("sqlite"):
            kind = "sqlite"
            source = sqlite3.connect(_sqlite_path(url), timeout=30)
            target = sqlite3.connect(partial)
            try:
                source.backup(target)  # one step: a consistent image even while others write
                if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise BackupFailed("备份文件校验失败")
            finally:
                target.close()
                source.close()
        elif url.startswith("postgresql"):
            kind = "postgresql"
            schema = _pg_schema(url)
            command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}",
                       *([f"--schema={schema}"] if schema else []), f"--dbname={_libpq(url)}"]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BackupFailed(f"pg_dump 失败：{done.stderr.strip()[-500:]}")
        else:
            raise InvalidInput("只支持 SQLite 与 PostgreSQL")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return Snapshot(out, kind, out.stat().st_size, row_counts(url))


def restore(url: str, file: Path) -> dict[str, int]:
    """Load a snapshot into the database at ``url``, replacing what it holds. Stop the
    application (web and scheduler) first."""
    if not file.is_file():
        raise InvalidInput(f"备份文件不存在：{file}")
    head = file.read_bytes()[:16]
    if url.startswith("sqlite"):
        if not head.startswith(SQLITE_MAGIC):
            raise InvalidInput("这不是 SQLite 备份文件")
        source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise InvalidInput("备份文件已损坏（完整性校验未通过）")
            target = sqlite3.connect(_sqlite_path(url), timeout=30)
            try:
                source.backup(target)  # replaces every page of the target in one step
            finally:
                target.close()
        finally:
            source.close()
    elif url.startswith("postgresql"):
        if not head.startswith(PGDUMP_MAGIC):
            raise InvalidInput("这不是 pg_dump（custom 格式）备份文件")
        schema = _pg_schema(url)
        command = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                   "--single-transaction", "--exit-on-error", *([f"--schema={schema}"] if schema else []),
                   f"--dbname={_libpq(url)}", str(file)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BackupFailed(f"pg_restore 失败（数据库未改动）：{done.stderr.strip()[-500:]}")
    else:
        raise InvalidInput("只支持 SQLite 与 PostgreSQL")
    return row_counts(url)
