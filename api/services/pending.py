"""The queue of records to match again: created, changed, closed or held since the last pass."""

from __future__ import annotations

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from models import PendingMatch
from models.base import utcnow


def enqueue(session: Session, kind: str, record_id: int | None) -> None:
    """Mark a demand or organization for the incremental job (once, however often it changes)."""
    if record_id is not None:
        enqueue_many(session, kind, [record_id])


def enqueue_many(session: Session, kind: str, record_ids: list[int]) -> None:
    wanted = set(record_ids)
    if not wanted:
        return
    have = set(session.exec(select(PendingMatch.record_id).where(
        PendingMatch.kind == kind, col(PendingMatch.record_id).in_(wanted))).all())
    rows = [{"kind": kind, "record_id": rid, "queued_at": utcnow()} for rid in sorted(wanted - have)]
    if rows:
        session.execute(insert(PendingMatch), rows)


def pending_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(PendingMatch)).one()
