"""A crash never blocks: a re-match killed midway (kill -9) leaves nothing half-written, shows as
failed, and the next one starts at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, func, select

from api.services import leases
from api.services.runs import run_lease, run_rematch, start_run
from matcher import Matcher
from models import MatchRun, Recommendation
from models.base import utcnow
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]


def test_a_rematch_killed_midway_shows_failed_and_the_next_one_runs(world: World, db_url: str,
                                                                   shared_matcher: Matcher) -> None:
    with Session(world.engine) as session:
        before = session.exec(select(func.count()).select_from(Recommendation)).one()
    proc = subprocess.Popen([sys.executable, "-m", "tests.api.rematch_worker", db_url, "ranking"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "at ranking"  # blocks until the run is that far
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    with Session(world.engine) as session:
        killed = session.exec(select(MatchRun).order_by(col(MatchRun.id).desc())).first()
        assert killed is not None and killed.status == "running"  # as the dead process left it
        killed_id = killed.id
    with Session(world.engine) as session:
        run = run_rematch(session, shared_matcher)  # no hour to wait: its holder is gone
        session.commit()
        assert run.status == "done"
        old = session.get(MatchRun, killed_id)
        assert old is not None and (old.status, old.error) == ("failed", "运行中断：运行它的进程已退出")
        assert session.exec(select(func.count()).select_from(Recommendation).where(
            Recommendation.run_id == killed_id)).one() == 0  # nothing of it was written
        assert session.exec(select(func.count()).select_from(Recommendation).where(
            Recommendation.run_id == run.id)).one() == run.n_recommendations > 0
    assert before > 0


def test_the_cli_says_a_run_is_in_progress_in_one_line(world: World, db_url: str,
                                                         shared_matcher: Matcher) -> None:
    with Session(world.engine) as session:
        running = start_run(session, shared_matcher.config)
        session.commit()
        assert running.id is not None
    # This test's process holds the run, alive, as a re-match in another process would.
    leases.take(world.engine, run_lease(running.id), now=utcnow(), holder=leases.holder(),
                duration=timedelta(hours=1))
    duijie = Path(sys.executable).parent / "duijie"
    for args, said in ((["rematch"], f"第{running.id}次匹配正在进行，请稍后再试"),
                       (["jobs"], None)):
        done = subprocess.run([str(duijie), *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "DUIJIE_DATABASE_URL": db_url})
        if said is None:
            assert done.returncode == 0, done.stderr
            continue
        assert done.returncode == 1
        assert done.stderr.strip().splitlines()[-1] == said
        assert "Traceback" not in done.stderr + done.stdout
    unreachable = subprocess.run([str(duijie), "rematch"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                                 env={**os.environ, "DUIJIE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    assert unreachable.stderr.strip().splitlines()[-1] == "无法连接数据库：请检查 DUIJIE_DATABASE_URL 以及数据库服务是否在运行"
