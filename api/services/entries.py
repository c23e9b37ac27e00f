"""Who wrote each demand into the platform on the village's behalf, and how (upload, API, CLI)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, col, select

from models import DemandEntry, User


def record_entries(session: Session, written: list[tuple[int, bool]], *, user_id: int | None, channel: str,
                   source: str = "", now: datetime) -> None:
    """Who wrote these demands in (``written``: id and whether it was created); no account: the CLI."""
    user = session.get(User, user_id) if user_id else None
    username = user.username if user else "命令行"
    rows = [{"demand_id": demand_id, "username": username[:64], "channel": channel, "source": source[:200],
             "created": created, "at": now} for demand_id, created in written]
    if rows:  # one statement: an upload writes a province's demands at once
        session.execute(insert(DemandEntry), rows)


def entered_by(session: Session, demand_ids: list[int]) -> dict[int, DemandEntry]:
    """The entry that created each demand (or, for one entered before entries were kept, none)."""
    rows = session.exec(select(DemandEntry).where(col(DemandEntry.demand_id).in_(demand_ids or [-1]),
                                                  DemandEntry.created == True)  # noqa: E712
                        .order_by(col(DemandEntry.id))).all()
    first: dict[int, DemandEntry] = {}
    for e in rows:
        first.setdefault(e.demand_id, e)
    return first
