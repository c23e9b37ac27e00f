"""Server-rendered pages in Chinese (Jinja2 + htmx). Forms carry a CSRF token."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.deps import OptionalUser, SessionDep
from api.errors import AppError, Forbidden, InvalidInput
from api.services import audit, auth, catalog, entries, maps, pairings, privacy
from api.services.importer import ImportRejected
from api.services.listings import recommendations_for_organization
from api.services.records import org_record
from api.services.runs import latest_run
from api.services.uploads import import_for_scope
from matcher.categories import ACTIONS
from matcher.config import MatchConfig
from matcher.reach import build_reach
from models import Demand, Organization, Pairing, User
from models.audit import ACTION_LABELS
from models.job import JOB_LABELS
from models.mail import FREQUENCY_LABELS
from models.pairing import REJECT_REASONS, STATUS_LABELS
from models.project import PROJECT_STATUS_LABELS
from models.review import ENTRY_CHANNELS
from models.user import ROLE_LABELS

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "web" / "templates")
# Free text is masked for whoever is not entitled to it: `masked` where nobody viewing is,
# `shown(entitled)` on pages staff of the region share with others.
TEMPLATES.env.filters["masked"] = privacy.mask_text
TEMPLATES.env.filters["shown"] = privacy.shown
router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Form(ge=1, le=2**31 - 1)]  # inside every database's INTEGER


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Every state-changing page request carries the session's token (form field or htmx header)."""
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        sent = form.get("csrf_token")  # type: ignore[assignment]
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(expected, sent):
        raise Forbidden("页面已过期，请刷新后重试")


CsrfChecked = Depends(check_csrf)


def render(request: Request, template: str, user: User | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    regions = request.app.state.regions
    return TEMPLATES.TemplateResponse(request, template, {
        "user": user, "role_label": ROLE_LABELS.get(user.role, "") if user else "", "csrf": csrf_token(request),
        "regions": regions, "actions": ACTIONS, "place": regions.place_name, "mask": privacy.mask_phone,
        "status_labels": STATUS_LABELS, "reject_reasons": REJECT_REASONS,
        "flash": request.session.pop("flash", None), **context,
    }, status_code=status_code)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", None, status_code=status, message=message)


def _staff(user: User | None) -> User:
    if user is None:
        raise AppError("请先登录")
    auth.Scope.of(user).require_staff()
    return user


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("login_page").include_query_params(next=request.url.path), 303)


# -- public ----------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse, name="board")
def board(request: Request, session: SessionDep, user: OptionalUser, city: str = "", county: str = "",
          action: str = "", q: str = "", page: int = 1) -> HTMLResponse:
    regions = request.app.state.regions
    city_code = regions.resolve_city(city).code if city and regions.resolve_city(city) else None
    # the map links by code; people type names
    county_obj = regions.counties.get(county) or (regions.resolve_county(county, city_code) if county else None)
    action = action if action in ACTIONS else ""
    result = catalog.list_demands(session, auth.Scope("public"), city_code=city_code,
                                  county_code=county_obj.code if county_obj else None,
                                  action=action or None, keyword=q or None, page=max(1, page), size=20)
    pages = max(1, -(-result.total // result.size))
    base = request.url_for("board")
    county_map = maps.render(
        regions, catalog.open_by_county(session, action=action or None), label="在办需求", unit="条",
        region=regions.counties_of.get(city_code) if city_code else None,
        selected=county_obj.code if county_obj else None, caption=f"{action or '全部'}在办需求",
        link=lambda code: str(base.include_query_params(city=city, county=code, action=action, q=q)))
    return render(request, "board.html", user, result=result, pages=pages, county_map=county_map,
                  filters={"city": city, "county": county_obj.name if county_obj else county, "action": action,
                           "q": q},
                  cities=list(regions.cities.values()))


@router.get("/login", response_class=HTMLResponse, name="login_page")
def login_page(request: Request, user: OptionalUser, next: str = "") -> HTMLResponse:
    expired = request.session.pop("expired", False)
    return render(request, "login.html", user, next=next, error="登录已超时，请重新登录" if expired else "")


@router.post("/login", name="login", dependencies=[CsrfChecked])
def login(request: Request, session: SessionDep, username: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "") -> Response:
    try:
        user = auth.authenticate(session, username.strip(), password, clock=request.app.state.clock,
                                 policy=auth.AccountPolicy.of(request.app.state.settings))
    except AppError as err:
        audit.record(session, "login_failure", username=username.strip(), ip=_ip(request), target="web",
                     detail={"reason": err.message}, clock=request.app.state.clock)
        session.commit()  # the failure count and the audit record must survive the error response
        return render(request, "login.html", None, status_code=err.status_code, next=next, error=err.message,
                      username=username)
    audit.record(session, "login_success", actor=user, ip=_ip(request), target="web", clock=request.app.state.clock)
    request.session.clear()
    request.session["uid"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(24)
    request.session["seen"] = request.app.state.clock().timestamp()
    home = "/account/password" if user.must_change_password else {"org": "/org"}.get(user.role, "/staff/queue")
    target = next if next.startswith("/") and not next.startswith("//") else home
    return RedirectResponse(target, 303)


@router.post("/logout", name="logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", 303)


@router.get("/account/password", response_class=HTMLResponse, name="password_page")
def password_page(request: Request, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    return render(request, "password.html", user, error="")


@router.post("/account/password", response_class=HTMLResponse, name="password_change", dependencies=[CsrfChecked])
def password_change(request: Request, session: SessionDep, user: OptionalUser,
                    old_password: Annotated[str, Form(max_length=128)],
                    new_password: Annotated[str, Form(max_length=128)],
                    confirm: Annotated[str, Form(max_length=128)]) -> Response:
    if user is None:
        return _login_redirect(request)
    try:
        if new_password != confirm:
            raise InvalidInput("两次输入的新密码不一致")
        auth.change_password(session, user, old_password, new_password,
                             policy=auth.AccountPolicy.of(request.app.state.settings))
    except AppError as err:
        session.rollback()
        return render(request, "password.html", user, error=err.message, status_code=err.status_code)
    audit.record(session, "password_change", actor=user, ip=_ip(request), target=user.username,
                 clock=request.app.state.clock)
    request.session["flash"] = "密码已修改"
    return RedirectResponse({"org": "/org"}.get(user.role, "/staff/queue"), 303)


@router.get("/demand/{county_code}/{ref}", response_class=HTMLResponse, name="demand_page")
def demand_page(request: Request, session: SessionDep, user: OptionalUser, county_code: str, ref: str) -> HTMLResponse:
    demand = catalog.get_demand(session, ref, county_code[:6])
    own_region = auth.Scope.of(user).covers(demand.city_code, demand.county_code)
    if demand.status != "open" and not own_region:
        raise AppError("该需求正在复核，暂不公开" if demand.status == "held" else "该需求已关闭")
    entry = entries.entered_by(session, [demand.id]).get(demand.id) if own_region and demand.id else None  # type: ignore[list-item]
    return render(request, "demand.html", user, d=demand, text_entitled=own_region, entry=entry,
                  channels=ENTRY_CHANNELS)


@router.api_route("/unsubscribe/{token}", methods=["GET", "POST"], response_class=HTMLResponse, name="unsubscribe")
def unsubscribe(request: Request, session: SessionDep, token: str) -> HTMLResponse:
    """One click from the mail (GET), or the mail client's List-Unsubscribe-Post: the signed token is the proof."""
    from api.services import mail

    who = mail.unsubscribe(session, request.app.state.secret, token[:400])
    return render(request, "unsubscribed.html", None, who=who)


# -- organization portal ---------------------------------------------------------------

@router.get("/org", response_class=HTMLResponse, name="org_portal")
def org_portal(request: Request, session: SessionDep, user: OptionalUser, county: str = "") -> Response:
    if user is None:
        return _login_redirect(request)
    if user.role != "org":
        raise Forbidden("该页面供社会组织使用")
    org = session.get(Organization, user.organization_id)
    assert org is not None
    views = recommendations_for_organization(session, org, top=20)
    status = {p.demand_id: p.status for p in session.exec(select(Pairing).where(
        Pairing.organization_id == org.id)).all()}
    cards = [v for v in views if status.get(v.demand.id) != "dismissed"]
    county_map = _org_map(request, org, cards, county)
    if county in request.app.state.regions.counties:
        cards = [v for v in cards if v.demand.county_code == county]
    from api.services.mail import frequency
    from api.services.projects import days_since_report, is_overdue, list_projects, local_today

    today = local_today(request.app.state.clock, request.app.state.settings.timezone)
    return render(request, "org_portal.html", user, org=org, cards=cards, status=status, county_map=county_map,
                  chosen=request.app.state.regions.counties.get(county),
                  projects=list_projects(session, auth.Scope.of(user), today), today=today, is_overdue=is_overdue,
                  days_since=days_since_report, project_status_labels=PROJECT_STATUS_LABELS,
                  pairings=pairings.pairings_of_organization(session, org), run=latest_run(session),
                  mail_frequency=frequency(session, organization_id=org.id), frequency_labels=FREQUENCY_LABELS)


def _org_map(request: Request, org: Organization, cards: list[Any], county: str) -> str:
    """The organization's own county (outlined), its reach (in colour; the rest pale) and how many of
    its recommended demands lie in each county."""
    regions = request.app.state.regions
    # The default reach settings: building the shared matcher (its dictionary) for a page costs ~1 s.
    table = build_reach([org_record(org)], regions, MatchConfig())
    reach = {code for code, w in zip(regions.county_codes, table.weight[0], strict=True) if w > 0}
    counts: dict[str, float] = {}
    for v in cards:
        counts[v.demand.county_code] = counts.get(v.demand.county_code, 0) + 1
    base = request.url_for("org_portal")
    return maps.render(regions, counts, label="推荐需求", unit="条", region=reach | set(counts) | {
                           org.county_code} - {None}, selected=county or None,
                       marks=[org.county_code] if org.county_code else [], mark_label="本组织所在地",
                       caption="推荐需求（彩色为可帮扶范围）",
                       link=lambda code: str(base.include_query_params(county=code)))


@router.post("/settings/mail", name="mail_settings", dependencies=[CsrfChecked])
def mail_settings(request: Request, session: SessionDep, user: OptionalUser,
                  frequency: Annotated[str, Form(max_length=10)]) -> Response:
    from api.services.mail import set_frequency

    if user is None:
        return _login_redirect(request)
    if user.role == "org":
        set_frequency(session, frequency, organization_id=user.organization_id)
        target = "org_portal"
    else:
        set_frequency(session, frequency, user_id=user.id)
        target = "staff_overview"
    audit.record(session, "mail_setting", actor=user, ip=_ip(request), detail={"frequency": frequency},
                 clock=request.app.state.clock)
    request.session["flash"] = f"邮件设置已保存：{FREQUENCY_LABELS[frequency]}"
    return RedirectResponse(request.url_for(target), 303)


@router.post("/org/{action}", response_class=HTMLResponse, name="org_action", dependencies=[CsrfChecked])
def org_action(request: Request, session: SessionDep, user: OptionalUser, action: str,
               demand_id: DbId, note: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
    if user is None or user.role != "org":
        raise Forbidden("请以社会组织账号登录")
    org = session.get(Organization, user.organization_id)
    demand = session.get(Demand, demand_id)
    if org is None or demand is None:
        raise InvalidInput("需求不存在")
    scope = auth.Scope.of(user)
    clock = request.app.state.clock
    if action == "interest":
        pairing = pairings.express_interest(session, scope=scope, user=user, org=org, demand=demand, note=note,
                                            clock=clock)
    elif action == "dismiss":
        pairing = pairings.dismiss(session, scope=scope, user=user, org=org, demand=demand, clock=clock)
    else:
        raise InvalidInput("未知操作")
    audit.record(session, action, actor=user, ip=_ip(request), target=f"{demand.ref} ← {org.credit_code}", clock=clock)
    return render(request, "_org_card_done.html", user, demand=demand, pairing=pairing)


# -- staff -----------------------------------------------------------------------------

def _queue_filter(request: Request, params: dict[str, str]) -> pairings.QueueFilter:
    regions = request.app.state.regions
    city = regions.resolve_city(params.get("city", "")) if params.get("city") else None
    county = regions.resolve_county(params.get("county", ""), city.code if city else None) \
        if params.get("county") else None
    try:
        min_score = float(params["min_score"]) if params.get("min_score") else None
    except ValueError:
        min_score = None
    return pairings.QueueFilter(
        city_code=city.code if city else None, county_code=county.code if county else None,
        action=params.get("action") if params.get("action") in ACTIONS else None, min_score=min_score,
        status=params.get("status") if params.get("status") in ("suggested", "requested") else None,
        sort="waiting" if params.get("sort") == "waiting" else "score")


@router.get("/staff/queue", response_class=HTMLResponse, name="staff_queue")
def staff_queue(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    _staff(user)
    params = dict(request.query_params)
    keys = pairings.queue_keys(session, auth.Scope.of(user), _queue_filter(request, params))
    page = max(1, int(params.get("page", "1") or 1)) if params.get("page", "1").isdigit() else 1
    size = 50
    template = "_queue_rows.html" if request.headers.get("hx-request") else "staff_queue.html"
    items = pairings.queue_items(session, keys[(page - 1) * size: page * size])  # the page alone, whole
    return render(request, template, user, items=items, total=len(keys),
                  page=page, pages=max(1, -(-len(keys) // size)), filters=params,
                  cities=list(request.app.state.regions.cities.values()))


@router.post("/staff/decide", response_class=HTMLResponse, name="staff_decide", dependencies=[CsrfChecked])
def staff_decide(request: Request, session: SessionDep, user: OptionalUser, demand_id: DbId,
                 organization_id: DbId, decision: Annotated[str, Form(max_length=10)],
                 reason_code: Annotated[str, Form(max_length=20)] = "",
                 note: Annotated[str, Form(max_length=1000)] = "") -> HTMLResponse:
    staff = _staff(user)
    demand, org = session.get(Demand, demand_id), session.get(Organization, organization_id)
    if demand is None or org is None:
        raise InvalidInput("对接不存在")
    pairing = pairings.decide(session, scope=auth.Scope.of(staff), user=staff, demand=demand, org=org,
                              decision=decision, reason_code=reason_code or None, note=note,
                              clock=request.app.state.clock)
    audit.record(session, "pairing_decision", actor=staff, ip=_ip(request), target=f"{demand.ref} ← {org.credit_code}",
                 detail={"decision": pairing.status, "reason_code": reason_code or None}, clock=request.app.state.clock)
    return render(request, "_queue_done.html", staff, demand=demand, org=org, pairing=pairing)


@router.post("/staff/bulk-approve", name="staff_bulk_approve", dependencies=[CsrfChecked])
async def staff_bulk_approve(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    staff = _staff(user)
    form = await request.form()
    scope = auth.Scope.of(staff)
    n = 0
    for value in form.getlist("pair"):
        demand_id, _, org_id = str(value).partition(":")
        if not (demand_id.isdigit() and org_id.isdigit()) or max(int(demand_id), int(org_id)) >= 2**31:
            raise InvalidInput("所选对接不合法")
        demand, org = session.get(Demand, int(demand_id)), session.get(Organization, int(org_id))
        if demand is not None and org is not None:
            pairings.decide(session, scope=scope, user=staff, demand=demand, org=org, decision="approve",
                            reason_code="fit", clock=request.app.state.clock)
            audit.record(session, "pairing_decision", actor=staff, ip=_ip(request),
                         target=f"{demand.ref} ← {org.credit_code}", detail={"decision": "approved", "bulk": True},
                         clock=request.app.state.clock)
            n += 1
    request.session["flash"] = f"已批量通过{n}条对接"
    return RedirectResponse(request.url_for("staff_queue"), 303)


@router.get("/staff/upload", response_class=HTMLResponse, name="staff_upload")
def staff_upload_page(request: Request, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    _staff(user)
    return render(request, "upload.html", user, report=None, rejected=None)


@router.post("/staff/upload", response_class=HTMLResponse, name="staff_upload_post", dependencies=[CsrfChecked])
async def staff_upload(request: Request, user: OptionalUser, kind: Annotated[str, Form()],
                       file: Annotated[UploadFile, File()], skip_invalid: Annotated[bool, Form()] = False,
                       create_accounts: Annotated[bool, Form()] = False) -> HTMLResponse:
    staff = _staff(user)
    limit = request.app.state.settings.max_upload_mb * 2**20
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"文件过大：不能超过{request.app.state.settings.max_upload_mb} MB")
    app = request.app
    suffix = Path(file.filename or "").suffix.lower()
    ip = _ip(request)

    def work() -> tuple[Any, Any, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            with Session(app.state.engine, expire_on_commit=False) as session:
                try:
                    report, accounts = import_for_scope(
                        session, path, "orgs" if kind == "orgs" else "demands", scope=auth.Scope.of(staff),
                        matcher=app.state.matcher(), skip_invalid=skip_invalid, create_accounts=create_accounts,
                        channel="web", source=file.filename or "", clock=app.state.clock)
                    audit.record(session, "upload", actor=staff, ip=ip, target=file.filename or "",
                                 clock=app.state.clock,
                                 detail={"kind": kind, "created": report.created, "updated": report.updated,
                                         "rejected_rows": report.rejected, "accounts": len(accounts)})
                    session.commit()
                    return report, accounts, None
                except ImportRejected as err:
                    session.rollback()
                    audit.record(session, "upload", actor=staff, ip=ip, target=file.filename or "",
                                 clock=app.state.clock,
                                 detail={"kind": kind, "refused": True, "bad_rows": len({e.row for e in err.errors})})
                    session.commit()
                    return None, [], err

    import anyio

    report, accounts, rejected = await anyio.to_thread.run_sync(work)
    return render(request, "upload.html", staff, report=report, accounts=accounts, rejected=rejected,
                  filename=file.filename, status_code=422 if rejected else 200)


@router.get("/staff/overview", response_class=HTMLResponse, name="staff_overview")
def staff_overview(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    staff = _staff(user)
    scope = auth.Scope.of(staff)
    open_by = session.exec(select(Demand.city_code, Demand.category, func.count()).where(
        Demand.status == "open", scope.demand_clause()).group_by(Demand.city_code, Demand.category)).all()
    pair_by = session.exec(select(Demand.city_code, Demand.category, Pairing.status, func.count())
                           .join(Pairing, col(Pairing.demand_id) == Demand.id)
                           .where(scope.demand_clause()).group_by(Demand.city_code, Demand.category,
                                                                   Pairing.status)).all()
    waiting = len(pairings.queue_keys(session, scope))
    table: dict[str, dict[str, dict[str, int]]] = {}
    for city, action, n in open_by:
        table.setdefault(city, {}).setdefault(action, {"open": 0, "approved": 0, "requested": 0})["open"] = n
    for city, action, status, n in pair_by:
        cell = table.setdefault(city, {}).setdefault(action, {"open": 0, "approved": 0, "requested": 0})
        if status in cell:
            cell[status] += n
    from api.services.jobs import recent_runs
    from api.services.mail import frequency, outbox_problems

    run = latest_run(session)
    return render(request, "overview.html", staff, table=table, waiting=waiting, run=run,
                  job_runs=recent_runs(session, limit=10), job_labels=JOB_LABELS,
                  mail_problems=outbox_problems(session), mail_frequency=frequency(session, user_id=staff.id),
                  frequency_labels=FREQUENCY_LABELS)


@router.get("/staff/audit", name="staff_audit")
def staff_audit(request: Request, session: SessionDep, user: OptionalUser, action: str = "", username: str = "",
                format: str = "") -> Response:
    """The audit trail for 省级管理员: filter by action and account, or download it as CSV."""
    if user is None:
        return _login_redirect(request)
    rows = audit.events(session, auth.Scope.of(user), action=action or None, username=username or None,
                        limit=5000 if format == "csv" else 200)
    if format == "csv":
        audit.record(session, "export", actor=user, ip=_ip(request), target="审计记录", detail={"rows": len(rows)},
                     clock=request.app.state.clock)
        return Response(audit.as_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": "attachment; filename=audit.csv"})
    return render(request, "audit.html", user, events=rows, labels=ACTION_LABELS,
                  filters={"action": action, "username": username})
