"""Incremental matching: a created, changed or closed record is matched alone, without a full run.

Its pairs in the latest run are replaced by fresh ones against everything on the other side, and
the lists they touch are re-ranked. The per-organization cap of a full run is not re-applied
here; the next nightly run restores it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, delete, func, insert
from sqlmodel import Session, col, select

from api.services.matching import demand_record, insert_recommendations, latest_run, org_record
from api.services.pairings import learning_inputs
from matcher import Matcher
from models import Demand, Organization, PendingMatch, Recommendation
from models.base import utcnow

FULL_RUN_THRESHOLD = 200  # more pending records than this: a full re-match is cheaper


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


def match_pending(session: Session, matcher: Matcher, *, today: date | None = None) -> dict[str, int]:
    pending = list(session.exec(select(PendingMatch).order_by(col(PendingMatch.id))).all())
    if not pending:
        return {"demands": 0, "organizations": 0}
    run = latest_run(session)
    ids = [p.id for p in pending]
    if run is None:  # nothing to update yet: the first full run will cover these
        session.execute(delete(PendingMatch).where(col(PendingMatch.id).in_(ids)))
        return {"demands": 0, "organizations": 0}
    demand_ids = sorted({p.record_id for p in pending if p.kind == "demand"})
    org_ids = sorted({p.record_id for p in pending if p.kind == "organization"})
    learned = learning_inputs(session).keyed()
    touched_demands: set[int] = set(demand_ids)
    touched_orgs: set[int] = set(org_ids)

    if demand_ids:
        orgs = [org_record(o) for o in session.exec(select(Organization).where(Organization.status == "active")).all()]
        for demand_id in demand_ids:
            session.execute(delete(Recommendation).where(Recommendation.run_id == run.id,
                                                         Recommendation.demand_id == demand_id))
            demand = session.get(Demand, demand_id)
            if demand is None or demand.status != "open":
                continue
            result = matcher.match(orgs, [demand_record(demand)], **learned, today=today)
            touched_orgs |= _insert(session, run.id, result.recommendations)  # type: ignore[arg-type]
    if org_ids:
        demands = [demand_record(d) for d in session.exec(select(Demand).where(Demand.status == "open")).all()]
        for org_id in org_ids:
            session.execute(delete(Recommendation).where(Recommendation.run_id == run.id,
                                                         Recommendation.organization_id == org_id))
            org = session.get(Organization, org_id)
            if org is None or org.status != "active":
                continue
            result = matcher.match([org_record(org)], demands, **learned, today=today)
            touched_demands |= {int(r.demand_key) for r in result.recommendations}
            _insert(session, run.id, result.recommendations)  # type: ignore[arg-type]
    session.flush()
    _rerank(session, run.id, matcher.config.top_k, demand_ids=touched_demands, org_ids=touched_orgs)  # type: ignore[arg-type]
    session.execute(delete(PendingMatch).where(col(PendingMatch.id).in_(ids)))
    return {"demands": len(demand_ids), "organizations": len(org_ids)}


def _insert(session: Session, run_id: int, recs: list) -> set[int]:  # type: ignore[type-arg]
    rows = [{"run_id": run_id, "demand_id": int(r.demand_key), "organization_id": int(r.organization_key),
             "demand_rank": None, "organization_rank": None, "score": r.score,
             "signals": {**r.signals, "keywords": list(r.keywords)}, "reasons": list(r.reasons)} for r in recs]
    insert_recommendations(session, rows)
    return {row["organization_id"] for row in rows}


def _rerank(session: Session, run_id: int, k: int, *, demand_ids: set[int], org_ids: set[int]) -> None:
    """Ranks 1..k by score within each touched list; rows in no list are dropped."""
    for demand_id in demand_ids:
        rows = session.exec(select(Recommendation).where(Recommendation.run_id == run_id,
                                                         Recommendation.demand_id == demand_id)
                            .order_by(col(Recommendation.score).desc(), col(Recommendation.id))).all()
        for i, row in enumerate(rows):
            row.demand_rank = i + 1 if i < k else None
            session.add(row)
    for org_id in org_ids:
        rows = session.exec(select(Recommendation).where(Recommendation.run_id == run_id,
                                                         Recommendation.organization_id == org_id)
                            .order_by(col(Recommendation.score).desc(), col(Recommendation.id))).all()
        for i, row in enumerate(rows):
            row.organization_rank = i + 1 if i < k else None
            session.add(row)
    session.flush()
    session.execute(delete(Recommendation).where(
        Recommendation.run_id == run_id, and_(col(Recommendation.demand_rank).is_(None),
                                              col(Recommendation.organization_rank).is_(None))))
