"""Leases in the database (the ``job_lock`` table): who is doing a piece of work, and until when.

A lease names its holder as ``host:pid``; on the same host a holder whose process is gone has
lost it at once, elsewhere it runs out when it expires. The scheduled jobs hold one while they
run (on SQLite; PostgreSQL's advisory locks serve there), and so does every full re-match, so that
one killed midway never keeps the next from starting.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from models import JobLock


def holder() -> str:
    """This process (computed again: a forked or spawned child is not its parent)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def take(engine: Engine, name: str, *, now: datetime, holder: str, duration: timedelta) -> bool:
    """Hold ``name`` until ``now + duration``; False if a live holder has it."""
    with Session(engine) as session:
        session.add(JobLock(name=name, holder=holder, expires_at=now + duration))
        try:
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
        # Taken: steal it only if the lease ran out or its holder (on this host) is gone.
        lock = session.get(JobLock, name)
        if lock is None:
            return take(engine, name, now=now, holder=holder, duration=duration)
        if lock.expires_at > now and alive(lock.holder):
            return False
        result = session.execute(text(
            "UPDATE job_lock SET holder = :h, expires_at = :e WHERE name = :n AND holder = :old"),
            {"h": holder, "e": now + duration, "n": name, "old": lock.holder})
        session.commit()
        return result.rowcount == 1  # type: ignore[attr-defined]


def release(engine: Engine, name: str, holder: str) -> None:
    with Session(engine) as session:
        session.execute(delete(JobLock).where(col(JobLock.name) == name, col(JobLock.holder) == holder))
        session.commit()


def forget(session: Session, *, prefix: str) -> None:
    """Drop every lease whose name starts with ``prefix`` (in the caller's transaction)."""
    session.execute(delete(JobLock).where(col(JobLock.name).startswith(prefix)))


def held(session: Session, name: str, now: datetime) -> bool | None:
    """Is ``name`` held by a live holder? None when nobody ever took it."""
    lock = session.get(JobLock, name)
    if lock is None:
        return None
    return lock.expires_at > now and alive(lock.holder)


def alive(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # cannot tell: trust the lease
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
