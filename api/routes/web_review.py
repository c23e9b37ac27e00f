"""The staff page 需复核: duplicates, doubtful requests and names of people in hardship, decided in one click."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import OptionalUser, SessionDep
from api.errors import AppError
from api.routes.web import CsrfChecked, _ip, _login_redirect, _staff, render
from api.services import audit, auth, entries, review
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
