"""Backups taken while the application writes restore to a consistent database, and the
restored application serves the same recommendations (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import delete, func, text
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app as cli
from models import AuditEvent, Recommendation
from tests.world import World

runner = CliRunner()


def recommendations(world: World) -> tuple[object, object]:
    c = world.client()
    by_demand = c.get("/api/v1/demands/WQ-1/recommendations", headers=world.token("admin")).json()
    by_org = c.get(f"/api/v1/organizations/{world.codes['C']}/recommendations", headers=world.token("admin")).json()
    return by_demand, by_org


def pairs_written(world: World) -> tuple[list[int], list[int]]:
    """The writer's transactions each add an 'a' and a 'b' event with the same number."""
    with Session(world.engine) as session:
        rows = session.exec(select(AuditEvent.target, AuditEvent.detail).where(AuditEvent.username == "writer")).all()
    return (sorted(d["i"] for t, d in rows if t == "a"), sorted(d["i"] for t, d in rows if t == "b"))


def test_backup_while_writing_then_restore(world: World, cli_env: str, tmp_path: Path) -> None:
    before = recommendations(world)
    assert before[0]["items"] and before[1]["items"]
    stop, warmed_up = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        i = 0
        try:
            while not stop.is_set():
                with Session(world.engine) as session:
                    session.add(AuditEvent(username="writer", action="upload", target="a", detail={"i": i}))
                    session.flush()
                    session.add(AuditEvent(username="writer", action="upload", target="b", detail={"i": i}))
                    session.commit()
                i += 1
                if i == 30:
                    warmed_up.set()
        except BaseException as exc:  # surfaced by the assertion below
            failures.append(exc)
            warmed_up.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert warmed_up.wait(timeout=120)  # a readiness signal, not a sleep
        out = tmp_path / "snap" / "duijie.backup"
        result = runner.invoke(cli, ["backup", "--out", str(out)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "已备份到" in result.output and "社会组织4个" in result.output
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not failures
    written = pairs_written(world)
    assert len(written[0]) >= 30

    # Lose data after the backup: the recommendations are gone, more writes happened.
    with Session(world.engine) as session:
        session.execute(delete(Recommendation))
        session.commit()
    world.engine.dispose()
    refused = runner.invoke(cli, ["restore", str(tmp_path / "nope.backup"), "--yes"])
    assert refused.exit_code == 1 and "备份文件不存在" in refused.output
    result = runner.invoke(cli, ["restore", str(out), "--yes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "已从" in result.output and "社会组织4个" in result.output

    a, b = pairs_written(world)
    assert a == b  # every transaction whole or absent: nothing half-written
    assert a == list(range(len(a)))  # a prefix of the writes, no gaps
    assert 30 <= len(a) <= len(written[0])
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(Recommendation)).one() > 0
        if world.engine.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    assert recommendations(world) == before  # the restored app serves the same recommendations


def test_a_wrong_file_is_refused_and_changes_nothing(world: World, cli_env: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"this is not a backup at all")
    result = runner.invoke(cli, ["restore", str(junk), "--yes"])
    assert result.exit_code == 1
    assert "这不是" in result.output
    assert recommendations(world)[0]["items"]
