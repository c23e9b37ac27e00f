"""需复核 through the API: what staff of a region should look at, and their decisions; and why a
pair is (not) recommended."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request

from api.deps import CurrentUser, ScopeDep, SessionDep
from api.routes.api_v1 import ERRORS, _region_codes, client_ip
from api.schemas import ExplanationOut, FlagList, FlagOut, ReviewDecisionIn
from api.services import audit, catalog, entries, review
from api.services.explain import explain_pair
from api.services.lookup import find_organization
from api.services.projects import local_today

router = APIRouter(prefix="/api/v1", responses=ERRORS)  # type: ignore[arg-type]
FlagId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Kind = Literal["duplicate_demand", "duplicate_organization", "doubtful_demand", "household_name"]


@router.get("/reviews", response_model=FlagList, tags=["reviews"], summary="需复核事项（本地区）")
def list_reviews(session: SessionDep, scope: ScopeDep, user: CurrentUser, kind: Kind | None = None,
                 status: Literal["open", "decided"] | None = "open") -> FlagList:
    flags = review.list_flags(session, scope, kind=kind, status=status)
    return FlagList(counts=flags.counts, items=[FlagOut.of(f, flags.entries.get(f.demand_id or -1))
                                                for f in flags.items])


@router.post("/reviews/{flag_id}/decision", response_model=FlagOut, tags=["reviews"],
             summary="复核决定：保留、合并、关闭、核实发布")
def decide_review(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, flag_id: FlagId,
                  body: ReviewDecisionIn) -> FlagOut:
    flag = review.get_flag(session, scope, flag_id)
    entry = entries.entered_by(session, [flag.demand_id]).get(flag.demand_id) if flag.demand_id else None
    flag = review.decide(session, scope=scope, user=user, flag=flag, action=body.action, note=body.note,
                         clock=request.app.state.clock)
    audit.record(session, "review_decision", actor=user, ip=client_ip(request), target=flag.subject,
                 detail={"flag": flag.id, "kind": flag.kind, "action": body.action, "other": flag.other},
                 clock=request.app.state.clock)
    return FlagOut.of(flag, entry)


@router.get("/demands/{ref}/explain", response_model=ExplanationOut, tags=["recommendations"],
            summary="某社会组织为什么（没有）被推荐给该需求（本地区工作人员）")
def explain_demand_pair(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, ref: str,
                        org: str, county: str | None = None) -> ExplanationOut:
    demand = catalog.get_demand(session, ref, _region_codes(request, None, county)[1])
    scope.require_staff()
    scope.require_demand(demand)
    explanation = explain_pair(session, request.app.state.matcher(), demand=demand,
                               organization=find_organization(session, org),
                               today=local_today(request.app.state.clock, request.app.state.settings.timezone))
    return ExplanationOut.of(explanation)
