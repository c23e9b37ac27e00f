"""Scheduled jobs: the nightly re-match, the morning digests, incremental matching, outbox retries.

Each run holds a lock in the database (an advisory lock on PostgreSQL, a lease row on SQLite) and
is recorded per (job, slot), where the slot is the scheduled time it stands for: however many
scheduler processes fire, a slot runs once; a run that died midway is resumed by the next one,
and every job body is idempotent.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.services import leases, mail, review
from api.services.auth import Clock
from api.services.runs import own_process_config, run_in_own_process, run_rematch, start_run
from api.settings import Settings
from matcher import Matcher
from models import JobRun, MatchRun
from models.base import utcnow

LEASE = timedelta(hours=2)
HOLDER = leases.holder()


# -- locks -------------------------------------------------------------------------------

@contextmanager
def job_lock(engine: Engine, name: str, *, clock: Clock = utcnow, holder: str = HOLDER) -> Iterator[bool]:
    """Yields True if this process holds the job's lock, False if another one does."""
    if engine.dialect.name == "postgresql":
        key = zlib.crc32(f"duijie:{name}".encode())
        with engine.connect() as conn:  # the lock lives as long as this connection
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    got = leases.take(engine, name, now=clock(), holder=holder, duration=LEASE)
    try:
        yield got
    finally:
        if got:
            leases.release(engine, name, holder)


# -- running a job once per slot ---------------------------------------------------------

def run_job(engine: Engine, job: str, slot: str, body: Callable[[], dict[str, Any]], *,
            clock: Clock = utcnow) -> JobRun | None:
    """Run ``body`` for (job, slot) unless that slot is done or another process is on it.

    Returns the finished JobRun, or None when skipped.
    """
    with job_lock(engine, job, clock=clock) as held:
        if not held:
            return None
        with Session(engine, expire_on_commit=False) as session:
            run = session.exec(select(JobRun).where(JobRun.job == job, JobRun.slot == slot)).first()
            if run is not None and run.status == "done":
                return None
            if run is None:
                run = JobRun(job=job, slot=slot, started_at=clock())
                session.add(run)
                try:
                    session.commit()
                except IntegrityError:  # the slot was just taken and finished elsewhere
                    return None
            run_id = run.id
        try:
            counts = body()
        except Exception as exc:
            with Session(engine) as session:
                failed = session.get(JobRun, run_id)
                assert failed is not None
                failed.status, failed.error, failed.finished_at = "failed", str(exc)[:1000], clock()
                session.add(failed)
                session.commit()
            raise
        with Session(engine, expire_on_commit=False) as session:
            done = session.get(JobRun, run_id)
            assert done is not None
            done.status, done.counts, done.finished_at, done.error = "done", counts, clock(), None
            session.add(done)
            session.commit()
            return done


def slot_of(now: datetime, hhmm: str, tz: str) -> str:
    """The daily slot a run at ``now`` stands for, e.g. '2026-11-30T07:30+08:00'."""
    local = now.astimezone(ZoneInfo(tz))
    hour, minute = (int(x) for x in hhmm.split(":"))
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if local < at:
        at -= timedelta(days=1)  # a late or manual run still belongs to the last scheduled time
    return at.isoformat(timespec="minutes")


# -- the jobs ----------------------------------------------------------------------------

class Jobs:
    """The job bodies, bound to one database, settings, matcher and clock."""

    def __init__(self, engine: Engine, settings: Settings, matcher_factory: Callable[[], Matcher], *,
                 secret: str, clock: Clock = utcnow,
                 after_send: Callable[[int], None] | None = None, full_runs_in_own_process: bool = False) -> None:
        self.engine, self.settings, self.matcher_factory = engine, settings, matcher_factory
        self.secret, self.clock, self.after_send = secret, clock, after_send
        self.full_runs_in_own_process = full_runs_in_own_process
        self.processes: list[BaseProcess] = []  # the full runs' own processes, in order

    def _full_rematch(self, session: Session, *, review_first: bool = False) -> MatchRun:
        """A full re-match, committed. In the web's own scheduler it runs in a niced process of its
        own, as a run started from the web does: the engine's ~10 s of Python would otherwise hold
        the interpreter lock the requests being served need (the nightly run, and a full run after
        a bulk upload, in office hours). ``review_first``: the 需复核 checks over every open record
        first, in the same process, so what they hold sits the run out (the nightly job)."""
        today, keep = self.clock().date(), self.settings.keep_runs
        if not self.full_runs_in_own_process:
            if review_first:
                review.scan(session, self.matcher_factory(), now=self.clock())
                session.commit()
            run = run_rematch(session, self.matcher_factory(), today=today, keep_runs=keep)
            session.commit()
            return run
        run = start_run(session, own_process_config())  # no matcher built here: the run's process has its own
        session.commit()
        run_in_own_process(self.engine, self.settings.database_url, run.id,  # type: ignore[arg-type]
                           today=today, keep_runs=keep, nice=self.settings.rematch_nice,
                           idle=self.settings.rematch_idle, started=self.processes.append,
                           review_first=review_first)
        session.refresh(run)
        if run.status != "done":
            raise RuntimeError(run.error or f"第{run.id}次匹配未完成")
        return run

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def nightly_rematch(self, slot: str | None = None) -> JobRun | None:
        slot = slot or slot_of(self.clock(), self.settings.rematch_time, self.settings.timezone)

        def body() -> dict[str, Any]:
            with self.session() as session:
                run = self._full_rematch(session, review_first=True)
                return {"match_run": run.id, "recommendations": run.n_recommendations, "coverage": run.coverage,
                        "seconds": run.duration_s}

        return run_job(self.engine, "nightly_rematch", slot, body, clock=self.clock)

    def morning_digest(self, slot: str | None = None) -> JobRun | None:
        slot = slot or slot_of(self.clock(), self.settings.digest_time, self.settings.timezone)

        def body() -> dict[str, Any]:
            written = mail.enqueue_digests(self.session, settings=self.settings,
                                           regions=self.matcher_factory().regions, secret=self.secret,
                                           clock=self.clock)
            sent = mail.flush_outbox(self.session, settings=self.settings, clock=self.clock,
                                     after_send=self.after_send)
            return {**asdict(written), **asdict(sent)}

        return run_job(self.engine, "morning_digest", slot, body, clock=self.clock)

    def outbox_flush(self) -> dict[str, int]:
        """Retries: pending messages whose backoff has passed (no slot: it may run any time)."""
        with job_lock(self.engine, "outbox_flush", clock=self.clock) as held:
            if not held:
                return {}
            return asdict(mail.flush_outbox(self.session, settings=self.settings, clock=self.clock,
                                            after_send=self.after_send))

    def encode_texts(self) -> dict[str, int]:
        """Meaning vectors for texts that have none yet (a first import of a province: thousands),
        a committed batch at a time; re-matches use what is there meanwhile."""
        from api.services.records import load_demands, load_organizations
        from api.services.vectors import default_encoder, encode_missing

        if not self.settings.semantic:
            return {}
        with job_lock(self.engine, "encode_texts", clock=self.clock) as held:
            if not held:
                return {}
            with self.session() as session:
                orgs, dems = load_organizations(session), load_demands(session)[0]
                report = encode_missing(session, orgs, dems, encoder=default_encoder())
                return {"encoded": report.encoded, "texts": report.total}

    def incremental_match(self) -> dict[str, int]:
        from api.services.incremental import FULL_RUN_THRESHOLD, match_pending
        from api.services.pending import pending_count

        with job_lock(self.engine, "incremental_match", clock=self.clock) as held:
            if not held:
                return {}
            with self.session() as session:
                if pending_count(session) > FULL_RUN_THRESHOLD:  # e.g. after a bulk upload
                    return {"full_run": self._full_rematch(session).id or 0}
                counts = match_pending(session, self.matcher_factory(), today=self.clock().date())
                session.commit()
                return counts


def build_scheduler(jobs: Jobs, *, blocking: bool = False):  # type: ignore[no-untyped-def]
    """APScheduler 3.x with defaults that survive downtime: coalesce missed runs into one, one
    instance at a time, and an hour's grace for a run missed while the process was down."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    settings = jobs.settings
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(job_defaults=defaults, timezone=ZoneInfo(settings.timezone))
    rh, rm = settings.rematch_time.split(":")
    dh, dm = settings.digest_time.split(":")
    scheduler.add_job(jobs.nightly_rematch, CronTrigger(hour=int(rh), minute=int(rm), timezone=settings.timezone),
                      id="nightly_rematch", replace_existing=True)
    scheduler.add_job(jobs.morning_digest, CronTrigger(hour=int(dh), minute=int(dm), timezone=settings.timezone),
                      id="morning_digest", replace_existing=True)
    scheduler.add_job(jobs.incremental_match, IntervalTrigger(seconds=settings.incremental_seconds),
                      id="incremental_match", replace_existing=True, misfire_grace_time=60)
    scheduler.add_job(jobs.outbox_flush, IntervalTrigger(minutes=1), id="outbox_flush", replace_existing=True,
                      misfire_grace_time=60)
    scheduler.add_job(jobs.encode_texts, IntervalTrigger(minutes=settings.encode_minutes), id="encode_texts",
                      replace_existing=True, misfire_grace_time=600)
    return scheduler


def recent_runs(session: Session, *, limit: int = 30) -> list[JobRun]:
    return list(session.exec(select(JobRun).order_by(col(JobRun.id).desc()).limit(limit)).all())
