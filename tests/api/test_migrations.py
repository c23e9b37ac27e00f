"""Schema migrations: a database made by the release before migrations (commit 67b569e's
create_tables, which revision 0001 reproduces) is recognised, stamped and upgraded in place by
`duijie db upgrade`, keeps every row, re-matches and serves; a second upgrade changes nothing; the
result is what the models say; the programs refuse a database that is behind."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, func, select
from typer.testing import CliRunner

from api import schema
from api.app import create_app
from api.cli import app
from api.db import create_tables, make_engine
from api.services import pairings
from api.services.auth import Scope, create_user
from api.services.runs import run_rematch
from api.settings import Settings, get_settings
from matcher import Matcher
from models import Demand, MatchRun, Organization, Pairing, Project, Recommendation
from tests.factories import credit_code

ROOT = Path(__file__).resolve().parents[2]
COUNTED = (Organization, Demand, MatchRun, Recommendation, Pairing, Project)


@contextmanager
def words_alone() -> Iterator[None]:
    before = os.environ.get("DUIJIE_SEMANTIC")
    os.environ["DUIJIE_SEMANTIC"] = "false"
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DUIJIE_SEMANTIC")
        else:
            os.environ["DUIJIE_SEMANTIC"] = before
        get_settings.cache_clear()


def release_before(db_url: str, matcher: Matcher) -> Engine:
    """A database as 67b569e left it: its tables, no version, demo-like rows, a re-match, a decision, a project."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), schema.BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
    with Session(engine) as session:
        for n in range(1, 4):
            session.add(Organization(name=f"汪清县第{n}志愿者协会", credit_code=credit_code(n), org_type="社会团体",
                                     registrar="汪清县民政局", registrar_level="county", city_code="222400",
                                     county_code="222424", actions=["医护康养"], capability="医生下乡义诊，为老年人体检",
                                     contact_name="王丽", contact_phone=f"1390433000{n}"))
            session.add(Demand(ref=f"WQ-{n}", city_code="222400", county_code="222424", township="汪清镇",
                               village=f"第{n}村", category="医护康养", title="空巢老人义诊",
                               description=f"为第{n}村空巢老人测血压、送常用药", contact_name="李书记",
                               contact_phone="0433-8888888"))
        session.commit()
        with words_alone():  # that release had no meaning vectors (nor their table)
            run_rematch(session, matcher, today=date(2026, 11, 29))
        session.commit()
        staff = create_user(session, username="wangqing", password="long-enough-1", role="county",
                            region_code="222424", regions=matcher.regions)
        demand = session.exec(select(Demand).where(Demand.ref == "WQ-1")).one()
        org = session.exec(select(Organization).where(Organization.credit_code == credit_code(1))).one()
        pairings.decide(session, scope=Scope("county", "222424"), user=staff, demand=demand, org=org,
                        decision="approve", reason_code="fit", note="")
        session.commit()
    return engine


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {m.__name__: session.exec(select(func.count()).select_from(m)).one() for m in COUNTED}


def differences(engine: Engine) -> list[object]:
    """What Alembic's autogenerate finds between the database and the models (a partitioned
    recommendation table, which the models cannot describe, aside)."""
    with engine.connect() as conn:
        partitioned = conn.dialect.name == "postgresql" and "recommendation" in (
            inspect(conn).get_table_names()) and conn.exec_driver_sql(
            "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = 'recommendation' AND pg_table_is_visible(c.oid)").scalar()

        def include(obj, name, kind, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
            table = obj.name if kind == "table" else getattr(getattr(obj, "table", None), "name", None)
            if name == "alembic_version" or (table or "").startswith("recommendation_run_"):
                return False  # the version's own table; each run's partition, made and dropped by the runs
            return not (partitioned and table == "recommendation")

        return compare_metadata(MigrationContext.configure(conn, opts={"include_object": include}),
                                SQLModel.metadata)


def test_a_database_of_the_release_before_is_upgraded_in_place(db_url: str, shared_matcher: Matcher,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engine = release_before(db_url, shared_matcher)
    before = counts(engine)
    assert before["Recommendation"] > 0 and before["Project"] == 1
    # The programs refuse it, in Chinese, naming the command.
    with pytest.raises(schema.SchemaBehind) as refused:
        create_tables(engine)
    assert refused.value.message == "数据库结构版本为（升级前的版本），程序需要0003：请先运行 duijie db upgrade"
    duijie = Path(sys.executable).parent / "duijie"
    served = subprocess.run([str(duijie), "serve", "--port", "1"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "DUIJIE_DATABASE_URL": db_url})
    assert served.returncode == 1 and "Traceback" not in served.stderr
    assert served.stderr.strip().splitlines()[-1] == refused.value.message

    monkeypatch.setenv("DUIJIE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    out = CliRunner().invoke(app, ["db", "upgrade"], catch_exceptions=False).output
    assert out.strip() == "数据库结构已从版本 0001 升级到 0003"  # recognised as 0001 and stamped, not made again
    assert schema.current(engine) == schema.head()
    assert counts(engine) == before
    assert differences(engine) == []
    again = CliRunner().invoke(app, ["db", "upgrade"], catch_exceptions=False).output
    assert again.strip() == "数据库结构已是最新：版本 0003" and counts(engine) == before
    assert "本程序需要：0003" in CliRunner().invoke(app, ["db", "current"]).output
    get_settings.cache_clear()

    create_tables(engine)  # now at the head: nothing to say
    with Session(engine) as session:
        run = run_rematch(session, shared_matcher, today=date(2026, 11, 29))
        session.commit()
        assert run.status == "done" and run.n_demands == 3
    client = TestClient(create_app(Settings(_env_file=None, database_url=db_url, secret_key="k" * 40),
                                   matcher=shared_matcher))
    assert client.get("/api/v1/demands").json()["total"] == 3


def test_a_new_database_is_made_at_the_newest_revision(engine: Engine) -> None:
    assert schema.current(engine) == schema.head()
    assert differences(engine) == []


def test_a_database_made_by_this_release_before_migrations_is_stamped_where_it_stands(db_url: str) -> None:
    """One made by create_tables with the 需复核 tables already there (this release before its
    migrations) stands at 0002: stamped so, nothing made twice, and brought to the head."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), "0002")
        conn.execute(text("DROP TABLE alembic_version"))
    assert schema.upgrade(engine) == ("0002", schema.head())
    assert differences(engine) == []


def test_the_migrations_alone_make_what_the_models_say(db_url: str) -> None:
    """Every change to models/ comes with its revision: run from nothing, the revisions give the models' tables."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), "head")
    assert schema.current(engine) == schema.head()
    assert differences(engine) == []
