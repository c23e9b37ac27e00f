"""`duijie doctor`: is this installation healthy? Each check says what it found and, for a problem,
what to do, in Chinese: the database, the secret key, the mail server, the scheduler, disk space."""

from __future__ import annotations

import shutil
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col, select

from api import schema
from api.db import make_engine
from api.services import mail
from api.settings import Settings
from models import JobRun
from models.base import utcnow
from models.job import JOB_LABELS

DAILY_JOBS = ("nightly_rematch", "morning_digest")
STALE_AFTER = timedelta(hours=26)  # a daily job not run for longer has missed a day


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    found: str
    advice: str = ""

    def line(self) -> str:
        mark = "正常" if self.ok else "问题"
        return f"[{mark}] {self.name}：{self.found}" + ("" if self.ok else f"\n        处理：{self.advice}")


def check_database(settings: Settings) -> Check:
    try:
        engine = make_engine(settings.database_url)
        with engine.connect() as conn:
            have = set(inspect(conn).get_table_names())
        now = schema.current(engine)
        engine.dispose()
    except (SQLAlchemyError, OSError) as exc:
        return Check("数据库", False, f"无法连接（{type(exc).__name__}）",
                     "检查 DUIJIE_DATABASE_URL 与数据库服务是否运行（如 systemctl status postgresql）")
    missing = sorted(set(SQLModel.metadata.tables) - have)
    if now != schema.head() or missing:
        found = f"结构版本为{now or '（无版本记录）'}，程序需要{schema.head()}"
        return Check("数据库", False, found + (f"；缺少{len(missing)}张表" if missing else ""),
                     "停止网页与定时任务服务，备份后运行 duijie db upgrade（原地升级，保留全部数据）")
    return Check("数据库", True, f"可以连接，结构版本{now}（最新）")


def check_secret(settings: Settings, workers: int) -> Check:
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            return Check("密钥", False, "DUIJIE_SECRET_KEY 少于32个字符",
                         "换成更长的随机字符串（见 docs/operations.md）")
        return Check("密钥", True, "已设置 DUIJIE_SECRET_KEY")
    if workers > 1:
        return Check("密钥", False, f"未设置 DUIJIE_SECRET_KEY，而网页服务有{workers}个工作进程",
                     "在环境文件中设置 DUIJIE_SECRET_KEY（各进程须用同一密钥，否则登录会话互不认可）")
    return Check("密钥", True, f"未设置 DUIJIE_SECRET_KEY：单进程使用 {settings.secret_file} 中的密钥")


def check_smtp(settings: Settings) -> Check:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with mail.connect(settings) as smtp:
            smtp.noop()
    except smtplib.SMTPAuthenticationError:
        return Check("邮件服务器", False, f"{where} 拒绝登录（{settings.smtp_user}）",
                     "核对 DUIJIE_SMTP_USER 与 DUIJIE_SMTP_PASSWORD")
    except (OSError, smtplib.SMTPException) as exc:
        return Check("邮件服务器", False, f"无法连接 {where}（{type(exc).__name__}）",
                     "核对 DUIJIE_SMTP_HOST、DUIJIE_SMTP_PORT、DUIJIE_SMTP_SECURITY，以及防火墙是否放行")
    login = f"，以 {settings.smtp_user} 登录成功" if settings.smtp_user else ""
    return Check("邮件服务器", True, f"{where} 可以连接{login}")


def check_scheduler(settings: Settings, now: datetime) -> Check:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            last = {job: session.exec(select(JobRun).where(JobRun.job == job)
                                      .order_by(col(JobRun.started_at).desc())).first() for job in DAILY_JOBS}
    except SQLAlchemyError:
        return Check("定时任务", False, "无法读取运行记录", "先解决数据库问题")
    finally:
        engine.dispose()
    problems, seen = [], []
    for job, run in last.items():
        label = JOB_LABELS[job]
        if run is None:
            problems.append(f"{label}从未运行")
        elif now - run.started_at > STALE_AFTER:
            problems.append(f"{label}最近一次在{run.started_at:%Y-%m-%d %H:%M}（UTC），已超过一天")
        elif run.status == "failed":
            problems.append(f"{label}最近一次失败：{run.error or ''}")
        else:
            seen.append(f"{label}{run.started_at:%m-%d %H:%M}")
    if problems:
        return Check("定时任务", False, "；".join(problems),
                     "确认 duijie-scheduler 在运行（systemctl status duijie-scheduler），"
                     "用 duijie jobs 查看运行记录，失败原因见 journalctl -u duijie-scheduler")
    return Check("定时任务", True, "最近运行：" + "、".join(seen))


def check_disk(folder: Path, min_free_gb: float) -> Check:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 2**30
    if free < min_free_gb:
        return Check("磁盘空间", False, f"{folder} 所在磁盘只剩{free:.1f} GB（少于{min_free_gb:g} GB）",
                     "清理旧备份（find … -mtime +30 -delete）或把备份放到更大的磁盘")
    return Check("磁盘空间", True, f"{folder} 所在磁盘剩余{free:.1f} GB")


def run_checks(settings: Settings, *, workers: int, backup_dir: Path, min_free_gb: float,
               clock: Callable[[], datetime] = utcnow) -> list[Check]:
    database = check_database(settings)
    checks = [database, check_secret(settings, workers), check_smtp(settings)]
    if database.ok:
        checks.append(check_scheduler(settings, clock()))
    checks.append(check_disk(backup_dir, min_free_gb))
    return checks
