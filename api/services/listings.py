"""What users read of the latest run: one side's ranked list, views with the records, the export."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Row, and_, bindparam, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from api.errors import NotFound
from api.services.runs import LATEST_DONE_RUN, latest_run
from models import Demand, MatchRun, Organization, Pairing, Recommendation


@dataclass
class RecommendationView:
    recommendation: Recommendation
    demand: Demand
    organization: Organization


def recommendations_for_demand(session: Session, demand: Demand, *, top: int | None = None,
                               run: MatchRun | None = None) -> list[RecommendationView]:
    run = run or latest_run(session)
    if run is None:
        return []
    query = (
        select(Recommendation, Organization)
        .join(Organization, col(Organization.id) == Recommendation.organization_id)
        .where(Recommendation.run_id == run.id, Recommendation.demand_id == demand.id,
               col(Recommendation.demand_rank).is_not(None))
        .order_by(col(Recommendation.demand_rank))
    )
    if top:
        query = query.limit(top)
    return [RecommendationView(r, demand, o) for r, o in session.exec(query).all()]


def recommendations_for_organization(session: Session, org: Organization, *, top: int | None = None,
                                     run: MatchRun | None = None) -> list[RecommendationView]:
    run = run or latest_run(session)
    if run is None:
        return []
    query = (
        select(Recommendation, Demand)
        .join(Demand, col(Demand.id) == Recommendation.demand_id)
        .where(Recommendation.run_id == run.id, Recommendation.organization_id == org.id,
               col(Recommendation.organization_rank).is_not(None))
        .order_by(col(Recommendation.organization_rank))
    )
    if top:
        query = query.limit(top)
    return [RecommendationView(r, d, org) for r, d in session.exec(query).all()]


# The API's two list endpoints are its busiest reads. Each reads its list in one statement built
# once here: the latest done run's rows for the subject, the other side's columns and the pair's
# pairing status. Through the ORM (run, list and statuses, objects built for all of them) a list
# took 2.5 times as long: 1.5 ms of the ~7 ms a request cost the web process (BENCHMARKS.md).
_REC, _PAIR = Recommendation.__table__.c, Pairing.__table__.c  # type: ignore[attr-defined]


def _listing(rank: Any, subject: Any, other_table: Any, other_key: Any) -> Any:
    return (
        select_columns(_REC.run_id, rank.label("rank"), _REC.score, _REC.signals, _REC.reasons,
                       _PAIR.status.label("pairing_status"), *other_table.c)
        .join_from(Recommendation.__table__, other_table, other_table.c.id == other_key)  # type: ignore[attr-defined]
        .outerjoin(Pairing.__table__, and_(_PAIR.demand_id == _REC.demand_id,  # type: ignore[attr-defined]
                                           _PAIR.organization_id == _REC.organization_id))
        .where(_REC.run_id == LATEST_DONE_RUN, subject == bindparam("subject"), rank.is_not(None))
        .order_by(rank)
        .limit(bindparam("top"))
    )


_ORG_LISTING = _listing(_REC.organization_rank, _REC.organization_id, Demand.__table__, _REC.demand_id)  # type: ignore[attr-defined]
_DEMAND_LISTING = _listing(_REC.demand_rank, _REC.demand_id, Organization.__table__, _REC.organization_id)  # type: ignore[attr-defined]


@dataclass
class Listing:
    """One side's list of the latest done run. Each row has ``rank``, ``score``, ``signals``,
    ``reasons``, ``pairing_status`` (None where no pairing exists) and every column of the other
    side's record, named as on its model (``id``, ``ref``, ``credit_code``, ``status``, ...)."""

    run_id: int | None
    rows: list[Row[Any]]


def listing_for_organization(session: Session, org_id: int, *, top: int) -> Listing:
    return _read_listing(session, _ORG_LISTING, org_id, top)


def listing_for_demand(session: Session, demand_id: int, *, top: int) -> Listing:
    return _read_listing(session, _DEMAND_LISTING, demand_id, top)


def _read_listing(session: Session, statement: Any, subject: int, top: int) -> Listing:
    rows = list(session.connection().execute(statement, {"subject": subject, "top": top}).all())
    if rows:
        return Listing(rows[0].run_id, rows)
    run = latest_run(session)
    return Listing(run.id if run else None, [])


def export_recommendations(session: Session, out: Path, *, side: str, top: int | None = None) -> int:
    """One JSON object a line: demand_ref, credit_code, rank, score, signals, reasons."""
    run = latest_run(session)
    if run is None:
        raise NotFound("还没有完成的匹配：请先运行 duijie rematch")
    rank_col = Recommendation.demand_rank if side == "demands" else Recommendation.organization_rank
    order = (Recommendation.demand_id, rank_col) if side == "demands" else (
        Recommendation.organization_id, rank_col)
    query = (
        select(Recommendation, Demand.ref, Demand.county_code, Organization.credit_code)
        .join(Demand, col(Demand.id) == Recommendation.demand_id)
        .join(Organization, col(Organization.id) == Recommendation.organization_id)
        .where(Recommendation.run_id == run.id, col(rank_col).is_not(None))
        .order_by(*order)
    )
    if top:
        query = query.where(rank_col <= top)
    n = 0
    with out.open("w", encoding="utf-8") as f:
        for rec, ref, county_code, code in session.exec(query):
            line = {
                "demand_ref": ref, "county_code": county_code, "credit_code": code,
                "rank": rec.demand_rank if side == "demands" else rec.organization_rank,
                "score": rec.score, "signals": rec.signals, "reasons": rec.reasons,
                "run_id": run.id,
            }
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
    return n


def counts(session: Session) -> dict[str, int]:
    return {
        "organizations": session.exec(select(func.count()).select_from(Organization)).one(),
        "demands": session.exec(select(func.count()).select_from(Demand)).one(),
        "open_demands": session.exec(
            select(func.count()).select_from(Demand).where(Demand.status == "open")).one(),
    }
