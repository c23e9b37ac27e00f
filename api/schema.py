"""The database's schema version: Alembic's migrations in api/migrations, applied by
`duijie db upgrade`. A database made by ``create_tables`` of the release before migrations (it has
the tables and no version) is recognised and stamped, not made again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from api.errors import AppError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
# What each revision adds, to tell which revision a database made without versions stands at.
TABLES_ADDED = {"0002": ("review_flag", "demand_alias", "organization_alias", "demand_entry")}


class SchemaBehind(AppError):
    code = "schema_behind"
    status_code = 503


def config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    found = script.get_current_head()
    assert found is not None
    return found


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_new(conn: Connection) -> bool:
    """Has no table of ours been made yet?"""
    return "organization" not in inspect(conn).get_table_names()


def _standing(conn: Connection) -> str | None:
    """The revision a database without versions stands at: None when it is empty."""
    if is_new(conn):
        return None
    tables = set(inspect(conn).get_table_names())
    standing = BASELINE
    for revision, added in TABLES_ADDED.items():
        if all(t in tables for t in added):
            standing = revision
    return standing


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision: (where it stood, where it is now)."""
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        if before is None and (standing := _standing(conn)) is not None:
            command.stamp(config(conn), standing)  # made by create_tables: recognised, not made again
            before = standing
        command.upgrade(config(conn), "head")
    return before, head()


def stamp_head(conn: Connection) -> None:
    command.stamp(config(conn), "head")


def require_current(engine: Engine) -> None:
    now = current(engine)
    if now != head():
        raise SchemaBehind(f"数据库结构版本为{now or '（升级前的版本）'}，程序需要{head()}：请先运行 duijie db upgrade")
