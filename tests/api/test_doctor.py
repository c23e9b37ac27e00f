"""`duijie doctor` against a healthy installation and one with each problem: a real database, a
real SMTP server (with a login to check), the scheduler's run records, the disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app
from api.services.doctor import run_checks
from api.settings import Settings
from models import JobRun
from tests.inbox import Inbox, free_port
from tests.world import World

SECRET = "a-secret-key-long-enough-for-every-worker-0123456789"


def accept(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"duijie", b"right")
    return AuthResult(success=ok, handled=False)  # the server answers 535 to a wrong password


@pytest.fixture
def smtp_with_login():  # type: ignore[no-untyped-def]
    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port, authenticator=accept,
                            auth_require_tls=False)
    controller.start()
    yield port
    controller.stop()


def healthy(world: World, smtp_port: int, **changes: object) -> Settings:
    with Session(world.engine) as session:  # the scheduler ran both daily jobs last night
        for job in ("nightly_rematch", "morning_digest"):
            session.add(JobRun(job=job, slot=f"{job}-slot", status="done",
                               started_at=world.clock() - timedelta(hours=6)))
        session.commit()
    base = {"database_url": world.app.state.settings.database_url, "secret_key": SECRET,  # type: ignore[attr-defined]
            "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_user": "duijie", "smtp_password": "right"}
    return Settings(_env_file=None, **{**base, **changes})


def problems(settings: Settings, tmp_path: Path, world: World, *, workers: int = 2,
             min_free_gb: float = 0.001) -> dict[str, str]:
    checks = run_checks(settings, workers=workers, backup_dir=tmp_path / "backups", min_free_gb=min_free_gb,
                        clock=world.clock)
    every = ["数据库", "密钥", "邮件服务器", "定时任务", "磁盘空间"]
    # The scheduler's records are read only from a database that answers.
    assert [c.name for c in checks] == (every if checks[0].ok else [n for n in every if n != "定时任务"])
    return {c.name: f"{c.found}｜{c.advice}" for c in checks if not c.ok}


def test_a_healthy_installation_passes_every_check(world: World, smtp_with_login: int, tmp_path: Path) -> None:
    assert problems(healthy(world, smtp_with_login), tmp_path, world) == {}


def test_each_problem_is_found_and_explained(world: World, smtp_with_login: int, tmp_path: Path) -> None:
    settings = healthy(world, smtp_with_login)
    assert problems(settings.model_copy(update={"secret_key": None}), tmp_path, world) == {
        "密钥": "未设置 DUIJIE_SECRET_KEY，而网页服务有2个工作进程｜"
              "在环境文件中设置 DUIJIE_SECRET_KEY（各进程须用同一密钥，否则登录会话互不认可）"}
    wrong = problems(settings.model_copy(update={"smtp_password": "wrong"}), tmp_path, world)
    assert wrong == {"邮件服务器": f"127.0.0.1:{smtp_with_login} 拒绝登录（duijie）｜核对 DUIJIE_SMTP_USER 与 DUIJIE_SMTP_PASSWORD"}
    down = problems(settings.model_copy(update={"smtp_port": free_port()}), tmp_path, world)
    assert list(down) == ["邮件服务器"] and down["邮件服务器"].startswith("无法连接 127.0.0.1:")
    world.clock.advance(days=2)  # no run for two days
    stale = problems(settings, tmp_path, world)
    assert list(stale) == ["定时任务"] and "夜间全量匹配最近一次在" in stale["定时任务"]
    assert "systemctl status duijie-scheduler" in stale["定时任务"]
    full = problems(settings, tmp_path, world, min_free_gb=10**9)
    assert "磁盘空间" in full and "少于1e+09 GB" in full["磁盘空间"]
    gone = problems(settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"}),
                    tmp_path, world)
    assert gone["数据库"].startswith("无法连接") and "定时任务" not in gone


def test_the_command_prints_each_check_and_fails_on_a_problem(world: World, cli_env: str, smtp_port: int,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    from api.settings import get_settings

    monkeypatch.setenv("DUIJIE_SMTP_PORT", str(smtp_port))  # nobody listens: a problem
    monkeypatch.setenv("DUIJIE_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["doctor", "--backup-dir", str(tmp_path), "--min-free-gb", "0.001"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == "[正常] 数据库：可以连接，结构版本0003（最新）"
    assert any(line.startswith("[问题] 邮件服务器：无法连接") for line in lines)
    assert lines[-1] == "共5项检查，2项有问题"  # the mail server, and the scheduler that never ran


def test_a_database_behind_the_release_is_a_problem_with_the_command_to_run(world: World, smtp_with_login: int,
                                                                            tmp_path: Path) -> None:
    from sqlalchemy import text

    settings = healthy(world, smtp_with_login)
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    found = problems(settings, tmp_path, world)
    assert found == {"数据库": "结构版本为0001，程序需要0003｜停止网页与定时任务服务，备份后运行 duijie db upgrade（原地升级，保留全部数据）"}
