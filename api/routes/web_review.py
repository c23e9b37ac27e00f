"""Staff pages for a second look: 需复核 (duplicates, doubtful requests, names of people in hardship,
decided in one click) and why a pair is, or is not, recommended."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import OptionalUser, SessionDep
from api.errors import AppError
from api.routes.web import CsrfChecked, _ip, _login_redirect, _staff, render
from api.services import audit, auth, catalog, entries, review
from api.services.explain import explain_pair
from api.services.lookup import find_organization
from api.services.projects import local_today
from models.review import ENTRY_CHANNELS, FLAG_ACTIONS, FLAG_KINDS

router = APIRouter(include_in_schema=False)


@router.get("/staff/review", response_class=HTMLResponse, name="staff_review")
def staff_review(request: Request, session: SessionDep, user: OptionalUser, kind: str = "",
                 status: str = "open") -> Response:
    if user is None:
        return _login_redirect(request)
    staff = _staff(user)
    kind = kind if kind in FLAG_KINDS else ""
    status = status if status in ("open", "decided") else "open"
    flags = review.list_flags(session, auth.Scope.of(staff), kind=kind or None, status=status)
    # Organizations registered twice are the province's to review.
    kinds = {k: v for k, v in FLAG_KINDS.items() if staff.role == "province" or k != "duplicate_organization"}
    return render(request, "staff_review.html", staff, flags=flags.items, counts=flags.counts,
                  entries=flags.entries, kinds=kinds, actions=FLAG_ACTIONS, channels=ENTRY_CHANNELS,
                  filters={"kind": kind, "status": status})


@router.post("/staff/review/{flag_id}", response_class=HTMLResponse, name="staff_review_decide",
             dependencies=[CsrfChecked])
def staff_review_decide(request: Request, session: SessionDep, user: OptionalUser, flag_id: int,
                        action: Annotated[str, Form(max_length=10)],
                        note: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
    staff = _staff(user)
    scope = auth.Scope.of(staff)
    flag = review.get_flag(session, scope, min(flag_id, 2**31 - 1))
    who = entries.entered_by(session, [flag.demand_id] if flag.demand_id else [])
    error = ""
    try:
        review.decide(session, scope=scope, user=staff, flag=flag, action=action, note=note,
                      clock=request.app.state.clock)
        audit.record(session, "review_decision", actor=staff, ip=_ip(request), target=flag.subject,
                     detail={"flag": flag.id, "kind": flag.kind, "action": action, "other": flag.other},
                     clock=request.app.state.clock)
    except AppError as err:
        session.rollback()
        flag = review.get_flag(session, scope, flag.id)  # type: ignore[arg-type]
        error = err.message
    return render(request, "_review_row.html", staff, f=flag, entries=who, kinds=FLAG_KINDS,
                  actions=FLAG_ACTIONS, channels=ENTRY_CHANNELS, error=error)


@router.get("/staff/explain", response_class=HTMLResponse, name="staff_explain")
def staff_explain(request: Request, session: SessionDep, user: OptionalUser, ref: str = "", county: str = "",
                  org: str = "") -> Response:
    if user is None:
        return _login_redirect(request)
    staff = _staff(user)
    explanation, error = None, ""
    if ref and org:
        regions = request.app.state.regions
        found = regions.resolve_county(county) if county else None
        try:
            demand = catalog.get_demand(session, ref.strip()[:64], found.code if found else None)
            auth.Scope.of(staff).require_demand(demand)
            explanation = explain_pair(session, request.app.state.matcher(), demand=demand,
                                       organization=find_organization(session, org.strip()[:18]),
                                       today=local_today(request.app.state.clock, request.app.state.settings.timezone))
        except AppError as err:
            error = err.message
    return render(request, "staff_explain.html", staff, explanation=explanation, error=error,
                  filters={"ref": ref, "county": county, "org": org})
