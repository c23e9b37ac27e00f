"""Merging a duplicate record into the one it repeats, keeping everything that happened to it.

Pairings (with their decision history), projects, mail records and accounts move to the record
kept; the duplicate's number (需求编号 or 信用代码) becomes an alias of it, so a re-upload finds it;
its recommendations go, and the kept record is matched again. Where both records were paired with
the same counterpart, the further-advanced pairing is kept and the other's history joins it; two
projects with the same counterpart cannot be one, and the merge is refused before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from api.errors import Conflict
from api.services.pending import enqueue
from models import (
    Demand,
    DemandAlias,
    DemandEntry,
    MailedRecommendation,
    MailPreference,
    Organization,
    OrganizationAlias,
    Pairing,
    PairingDecision,
    PendingMatch,
    Project,
    Recommendation,
    ReviewFlag,
    User,
)

# Which of two pairings of the same pair to keep: the one further along.
_STAGE = {"approved": 4, "requested": 3, "rejected": 2, "dismissed": 1}


def _has_project(session: Session, pairing: Pairing) -> bool:
    return session.exec(select(Project.id).where(Project.pairing_id == pairing.id)).first() is not None


def _move_pairings(session: Session, moving: list[Pairing], kept_by_counterpart: dict[int, Pairing], *,
                   counterpart: str, target: str, target_id: int) -> None:
    """Re-point ``moving`` pairings at the kept record; a clash with a pairing it already has with
    the same counterpart keeps the further-advanced one and both histories."""
    for p in moving:
        other = kept_by_counterpart.get(getattr(p, counterpart))
        if other is not None and _has_project(session, p) and _has_project(session, other):
            raise Conflict("两条记录都已与同一对象立项，不能合并；请关闭其中一条")
    for p in moving:
        other = kept_by_counterpart.get(getattr(p, counterpart))
        if other is not None:
            p_wins = _has_project(session, p) or (
                not _has_project(session, other) and _STAGE.get(p.status, 0) > _STAGE.get(other.status, 0))
            winner, loser = (p, other) if p_wins else (other, p)
            session.execute(update(PairingDecision).where(col(PairingDecision.pairing_id) == loser.id)
                         .values(pairing_id=winner.id))
            session.delete(loser)
            session.flush()
            if winner is other:
                continue
        setattr(p, target, target_id)
        session.add(p)
    session.flush()


def _move_mailed(session: Session, *, column: str, duplicate_id: int, into_id: int, counterpart: str) -> None:
    """Mail records: the kept record's own one wins where both were mailed to (or about) the same."""
    kept = set(session.exec(select(getattr(MailedRecommendation, counterpart))
                            .where(getattr(MailedRecommendation, column) == into_id)).all())
    for m in session.exec(select(MailedRecommendation).where(getattr(MailedRecommendation, column) == duplicate_id)):
        if getattr(m, counterpart) in kept:
            session.delete(m)
        else:
            setattr(m, column, into_id)
            session.add(m)
    session.flush()


def _settle_flags(session: Session, *, kind_side: str, other_side: str, duplicate_id: int, into_id: int,
                  now: datetime) -> None:
    """Open flags about the duplicate close with the merge; a flag pointing at it points at the kept one."""
    for f in session.exec(select(ReviewFlag).where(ReviewFlag.status == "open",
                                                   getattr(ReviewFlag, kind_side) == duplicate_id)).all():
        f.status, f.decision, f.decided_at, f.note = "decided", "merge", now, "随合并处理"
        session.add(f)
    session.execute(update(ReviewFlag).where(col(getattr(ReviewFlag, other_side)) == duplicate_id)
                    .values({other_side: into_id}))
    session.flush()


@dataclass(frozen=True)
class _Side:
    column: str  # the merged records' column in the tables that point at them
    counterpart: str  # the other side's column in pairings and mail records
    kind: str  # as the queue of records to match again names it


_DEMANDS = _Side("demand_id", "organization_id", "demand")
_ORGANIZATIONS = _Side("organization_id", "demand_id", "organization")


def _move_history(session: Session, side: _Side, duplicate_id: int, into_id: int, now: datetime) -> None:
    """What both kinds of record carry: pairings and their decisions, projects, mail records, flags;
    the duplicate's recommendations and queue entry go (the kept record is matched again)."""
    own, other = getattr(Pairing, side.column), side.counterpart
    kept = {getattr(p, other): p for p in session.exec(select(Pairing).where(own == into_id)).all()}
    moving = list(session.exec(select(Pairing).where(own == duplicate_id)).all())
    _move_pairings(session, moving, kept, counterpart=other, target=side.column, target_id=into_id)
    session.execute(update(Project).where(col(getattr(Project, side.column)) == duplicate_id)
                    .values({side.column: into_id}))
    _move_mailed(session, column=side.column, duplicate_id=duplicate_id, into_id=into_id, counterpart=other)
    _settle_flags(session, kind_side=side.column, other_side=f"other_{side.column}", duplicate_id=duplicate_id,
                  into_id=into_id, now=now)
    session.execute(delete(Recommendation).where(col(getattr(Recommendation, side.column)) == duplicate_id))
    session.execute(delete(PendingMatch).where(PendingMatch.kind == side.kind, PendingMatch.record_id == duplicate_id))


def _ids(duplicate: Demand | Organization, into: Demand | Organization) -> tuple[int, int]:
    if duplicate.id == into.id:
        raise Conflict("不能与自身合并")
    assert duplicate.id is not None and into.id is not None
    return duplicate.id, into.id


def merge_demands(session: Session, *, duplicate: Demand, into: Demand, now: datetime) -> None:
    dup_id, into_id = _ids(duplicate, into)
    _move_history(session, _DEMANDS, dup_id, into_id, now)
    session.execute(update(DemandEntry).where(col(DemandEntry.demand_id) == dup_id).values(demand_id=into_id))
    session.execute(update(DemandAlias).where(col(DemandAlias.demand_id) == dup_id).values(demand_id=into_id))
    session.add(DemandAlias(demand_id=into_id, county_code=duplicate.county_code, ref=duplicate.ref, created_at=now))
    session.delete(duplicate)
    session.flush()
    enqueue(session, "demand", into_id)


def merge_organizations(session: Session, *, duplicate: Organization, into: Organization, now: datetime) -> None:
    dup_id, into_id = _ids(duplicate, into)
    _move_history(session, _ORGANIZATIONS, dup_id, into_id, now)
    if session.exec(select(MailPreference.id).where(MailPreference.organization_id == into_id)).first() is None:
        session.execute(update(MailPreference).where(col(MailPreference.organization_id) == dup_id)
                        .values(organization_id=into_id))
    session.execute(update(User).where(col(User.organization_id) == dup_id).values(organization_id=into_id))
    session.execute(update(OrganizationAlias).where(col(OrganizationAlias.organization_id) == dup_id)
                    .values(organization_id=into_id))
    session.add(OrganizationAlias(organization_id=into_id, credit_code=duplicate.credit_code, name=duplicate.name,
                                  created_at=now))
    into.actions = list(dict.fromkeys([*into.actions, *duplicate.actions]))  # what either declared
    into.updated_at = now
    session.add(into)
    session.delete(duplicate)
    session.flush()
    enqueue(session, "organization", into_id)
