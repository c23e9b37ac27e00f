"""帮扶项目: opened by an approved pairing, reported on by the organization, corrected by
staff (every change kept), confirmed and rated by the village, flagged when reports stop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, false, true
from sqlmodel import Session, col, select

from api.errors import Conflict, Forbidden, InvalidInput, NotFound
from api.services.auth import Clock, Scope
from models import Demand, Organization, Pairing, ProgressReport, Project, ProjectChange, User
from models.base import utcnow
from models.project import LIVE_STATUSES, OVERDUE_DAYS, PROJECT_STATUS_LABELS, PROJECT_STATUSES

MAX_FUNDS = 100_000.0  # 万元: ten billion yuan is a typo, not a village project
MAX_PEOPLE = 10_000_000
DEFAULT_LENGTH = timedelta(days=180)
PLAN_FIELDS = {"planned_funds": "计划投入（万元）", "planned_beneficiaries": "计划受益人数", "start_date": "开始日期",
               "planned_end": "计划完成日期", "title": "项目名称"}
REPORT_FIELDS = {"report_date": "报告日期", "status": "状态", "funds_in": "本次投入（万元）",
                 "beneficiaries": "受益人数（累计）", "note": "进展说明"}


def local_today(clock: Clock, tz: str = "Asia/Shanghai") -> date:
    return clock().astimezone(ZoneInfo(tz)).date()


# -- opening and finding -----------------------------------------------------------------

def open_project(session: Session, pairing: Pairing, demand: Demand, *, today: date, now: datetime) -> Project:
    """The project of an approved pairing; opening it twice returns the first."""
    existing = session.exec(select(Project).where(Project.pairing_id == pairing.id)).first()
    if existing is not None:
        return existing
    end = demand.due_date if demand.due_date and demand.due_date > today else today + DEFAULT_LENGTH
    project = Project(pairing_id=pairing.id, organization_id=pairing.organization_id,  # type: ignore[arg-type]
                      demand_id=demand.id, city_code=demand.city_code,  # type: ignore[arg-type]
                      county_code=demand.county_code, village=demand.village or demand.township,
                      action=demand.category, title=demand.title[:200], planned_funds=demand.funding_needed,
                      planned_beneficiaries=demand.beneficiaries, start_date=today, planned_end=end,
                      created_at=now, updated_at=now)
    session.add(project)
    session.flush()
    return project


def project_of_pairing(session: Session, pairing_id: int) -> Project | None:
    return session.exec(select(Project).where(Project.pairing_id == pairing_id)).first()


def project_clause(scope: Scope) -> ColumnElement[bool]:
    if scope.role == "province":
        return true()
    if scope.role == "city":
        return col(Project.city_code) == scope.region_code
    if scope.role == "county":
        return col(Project.county_code) == scope.region_code
    if scope.role == "org":
        return col(Project.organization_id) == scope.organization_id
    return false()


def may_see(scope: Scope, project: Project) -> bool:
    if scope.role == "org":
        return project.organization_id == scope.organization_id
    return scope.covers(project.city_code, project.county_code)


def get_project(session: Session, scope: Scope, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("项目不存在")
    if not may_see(scope, project):
        raise Forbidden("无权查看该项目")
    return project


@dataclass
class ProjectFilter:
    city_code: str | None = None
    county_code: str | None = None
    action: str | None = None
    status: str | None = None
    overdue: bool = False
    case: bool = False


def list_projects(session: Session, scope: Scope, today: date, f: ProjectFilter | None = None
                  ) -> list[tuple[Project, Organization]]:
    f = f or ProjectFilter()
    query = (select(Project, Organization).join(Organization, col(Organization.id) == Project.organization_id)
             .where(project_clause(scope)))
    if f.city_code:
        query = query.where(Project.city_code == f.city_code)
    if f.county_code:
        query = query.where(Project.county_code == f.county_code)
    if f.action:
        query = query.where(Project.action == f.action)
    if f.status:
        query = query.where(Project.status == f.status)
    if f.case:
        query = query.where(Project.is_case)
    rows = list(session.exec(query.order_by(col(Project.id))).all())
    if f.overdue:
        rows = [(p, o) for p, o in rows if is_overdue(p, today)]
    return rows


# -- overdue -------------------------------------------------------------------------------

def days_since_report(project: Project, today: date) -> int:
    return (today - (project.last_report_date or project.start_date)).days


def is_overdue(project: Project, today: date) -> bool:
    """No progress report for more than 90 days (counted from the start until the first one)."""
    return project.status in LIVE_STATUSES and days_since_report(project, today) > OVERDUE_DAYS


def overdue_projects(session: Session, scope: Scope, today: date) -> list[tuple[Project, Organization]]:
    cutoff = today - timedelta(days=OVERDUE_DAYS)
    rows = session.exec(
        select(Project, Organization).join(Organization, col(Organization.id) == Project.organization_id)
        .where(project_clause(scope), col(Project.status).in_(LIVE_STATUSES),
               col(Project.start_date) < cutoff)
        .order_by(col(Project.last_report_date), col(Project.start_date))
    ).all()
    return [(p, o) for p, o in rows if is_overdue(p, today)]


# -- parsing what people type ----------------------------------------------------------------

def parse_status(value: str) -> str:
    value = (value or "").strip()
    if value in PROJECT_STATUSES:
        return value
    for code, label in PROJECT_STATUS_LABELS.items():
        if value == label:
            return code
    raise InvalidInput(f"项目状态应为：{'、'.join(PROJECT_STATUS_LABELS.values())}")


def parse_funds(value: Any, label: str = "投入") -> float:
    try:
        number = float(str(value).strip().removesuffix("万元").replace(",", "")) if value not in (None, "") else 0.0
    except ValueError as err:
        raise InvalidInput(f"{label}应为数字（单位：万元）") from err
    if not 0 <= number <= MAX_FUNDS:
        raise InvalidInput(f"{label}应在0到{MAX_FUNDS:.0f}万元之间")
    return round(number, 4)


def parse_people(value: Any, label: str = "受益人数") -> int:
    try:
        number = int(str(value).strip().removesuffix("人")) if value not in (None, "") else 0
    except ValueError as err:
        raise InvalidInput(f"{label}应为整数") from err
    if not 0 <= number <= MAX_PEOPLE:
        raise InvalidInput(f"{label}应在0到{MAX_PEOPLE}之间")
    return number


def parse_date(value: Any, label: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as err:
        raise InvalidInput(f"{label}应为日期，如2025-03-31") from err


# -- progress ------------------------------------------------------------------------------

def recompute(session: Session, project: Project, now: datetime) -> None:
    """The project's figures follow from its reports, so a correction flows through."""
    session.flush()
    reports = list(session.exec(select(ProgressReport).where(ProgressReport.project_id == project.id)
                                .order_by(col(ProgressReport.report_date), col(ProgressReport.id))).all())
    project.funds_in = round(sum(r.funds_in for r in reports), 4)
    project.reports_count = len(reports)
    if reports:
        last = reports[-1]
        project.beneficiaries, project.status, project.last_report_date = last.beneficiaries, last.status, \
            last.report_date
    else:
        project.beneficiaries, project.status, project.last_report_date = 0, "not_started", None
    project.updated_at = now
    session.add(project)


def report_progress(session: Session, *, scope: Scope, user: User | None, project: Project, report_date: Any,
                    status: str, funds_in: Any, beneficiaries: Any, note: str = "", clock: Clock = utcnow,
                    tz: str = "Asia/Shanghai") -> ProgressReport:
    """The organization reports what it has done since the last report."""
    if scope.role != "org" or scope.organization_id != project.organization_id:
        raise Forbidden("只有承担项目的社会组织可以报告进展")
    if project.status not in LIVE_STATUSES:
        label = PROJECT_STATUS_LABELS[project.status]
        raise Conflict(f"项目状态为“{label}”，不能再报告进展；如需更正请联系民政工作人员")
    report = ProgressReport(project_id=project.id, reported_by_id=user.id if user else None,  # type: ignore[arg-type]
                            created_at=clock(), **_report_values(project, report_date, status, funds_in,
                                                                 beneficiaries, note, local_today(clock, tz)))
    session.add(report)
    recompute(session, project, clock())
    return report


def _report_values(project: Project, report_date: Any, status: str, funds_in: Any, beneficiaries: Any, note: str,
                   today: date) -> dict[str, Any]:
    day = parse_date(report_date, "报告日期")
    if day > today:
        raise InvalidInput("报告日期不能晚于今天")
    if day < project.start_date:
        raise InvalidInput(f"报告日期不能早于项目开始日期{project.start_date.isoformat()}")
    if len(note or "") > 2000:
        raise InvalidInput("进展说明不能超过2000字")
    return {"report_date": day, "status": parse_status(status), "funds_in": parse_funds(funds_in, "本次投入"),
            "beneficiaries": parse_people(beneficiaries), "note": (note or "").strip()}


def reports_of(session: Session, project: Project) -> list[ProgressReport]:
    return list(session.exec(select(ProgressReport).where(ProgressReport.project_id == project.id)
                             .order_by(col(ProgressReport.report_date).desc(), col(ProgressReport.id).desc())).all())


def changes_of(session: Session, project: Project) -> list[ProjectChange]:
    return list(session.exec(select(ProjectChange).where(ProjectChange.project_id == project.id)
                             .order_by(col(ProjectChange.id))).all())


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value in PROJECT_STATUS_LABELS:
        return PROJECT_STATUS_LABELS[value]
    return str(value)


def _require_staff_of(scope: Scope, project: Project) -> None:
    scope.require_staff()
    if not scope.covers(project.city_code, project.county_code):
        raise Forbidden("该项目不在您负责的地区")


def correct_report(session: Session, *, scope: Scope, user: User, report: ProgressReport,
                   changes: dict[str, Any], reason: str, clock: Clock = utcnow,
                   tz: str = "Asia/Shanghai") -> list[ProjectChange]:
    """Staff correct a report; each changed field is kept with its old value, who and why."""
    project = session.get(Project, report.project_id)
    assert project is not None
    _require_staff_of(scope, project)
    if not reason.strip():
        raise InvalidInput("更正须说明原因")
    unknown = set(changes) - set(REPORT_FIELDS)
    if unknown:
        raise InvalidInput(f"不能更正的字段：{'、'.join(sorted(unknown))}")
    current = {k: getattr(report, k) for k in REPORT_FIELDS}
    merged = {**current, **{k: v for k, v in changes.items() if v is not None}}
    values = _report_values(project, merged["report_date"], merged["status"], merged["funds_in"],
                            merged["beneficiaries"], merged["note"], local_today(clock, tz))
    now = clock()
    made: list[ProjectChange] = []
    for key, new in values.items():
        if new != current[key]:
            made.append(ProjectChange(project_id=project.id, report_id=report.id, field=REPORT_FIELDS[key],  # type: ignore[arg-type]
                                      old=_shown(current[key])[:2000], new=_shown(new)[:2000], reason=reason[:500],
                                      user_id=user.id, who=user.display_name or user.username, at=now))
            setattr(report, key, new)
    if not made:
        raise InvalidInput("没有任何改动")
    report.corrected = True
    session.add(report)
    session.add_all(made)
    recompute(session, project, now)
    return made


def update_plan(session: Session, *, scope: Scope, user: User, project: Project, changes: dict[str, Any],
                reason: str = "", clock: Clock = utcnow) -> Project:
    """The plan (money, beneficiaries, dates, title): the organization sets it, staff may correct it."""
    is_org = scope.role == "org" and scope.organization_id == project.organization_id
    if not is_org:
        _require_staff_of(scope, project)
        if not reason.strip():
            raise InvalidInput("更正须说明原因")
    unknown = set(changes) - set(PLAN_FIELDS)
    if unknown:
        raise InvalidInput(f"不能修改的字段：{'、'.join(sorted(unknown))}")
    parsed: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "planned_funds":
            parsed[key] = None if value in (None, "") else parse_funds(value, "计划投入")
        elif key == "planned_beneficiaries":
            parsed[key] = None if value in (None, "") else parse_people(value, "计划受益人数")
        elif key in ("start_date", "planned_end"):
            parsed[key] = None if value in (None, "") and key == "planned_end" else parse_date(value, PLAN_FIELDS[key])
        else:
            text = str(value or "").strip()
            if not text or len(text) > 200:
                raise InvalidInput("项目名称不能为空，且不超过200字")
            parsed[key] = text
    start = parsed.get("start_date", project.start_date)
    end = parsed.get("planned_end", project.planned_end)
    if end is not None and end < start:
        raise InvalidInput("计划完成日期不能早于开始日期")
    if "start_date" in parsed and project.last_report_date and parsed["start_date"] > project.last_report_date:
        raise InvalidInput("开始日期不能晚于已有的进展报告")
    now = clock()
    for key, new in parsed.items():
        old = getattr(project, key)
        if new != old:
            session.add(ProjectChange(project_id=project.id, field=PLAN_FIELDS[key], old=_shown(old)[:2000],  # type: ignore[arg-type]
                                      new=_shown(new)[:2000], reason=reason[:500], user_id=user.id,
                                      who=user.display_name or user.username, at=now))
            setattr(project, key, new)
    project.updated_at = now
    session.add(project)
    return project


# -- the village's confirmation ----------------------------------------------------------------

def _village_serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="duijie-village-confirm")


def village_token(secret: str, project: Project) -> str:
    """The link staff pass to the village contact (by SMS or WeChat): villages have no accounts."""
    return _village_serializer(secret).dumps({"p": project.id})


def project_from_village_token(session: Session, secret: str, token: str) -> Project:
    try:
        data = _village_serializer(secret).loads(token)
    except BadSignature as err:
        raise NotFound("确认链接无效") from err
    project = session.get(Project, data.get("p")) if isinstance(data, dict) else None
    if project is None:
        raise NotFound("确认链接无效")
    return project


def confirm_delivery(session: Session, project: Project, *, rating: Any, comment: str = "", by: str,
                     user: User | None = None, clock: Clock = utcnow) -> Project:
    """The village confirms what was delivered and rates it 1–5; a later confirmation replaces
    the earlier one, which stays in the change history."""
    if project.status not in ("in_progress", "done"):
        raise Conflict("项目尚未实施，暂不能确认")
    try:
        stars = int(str(rating).strip())
    except ValueError as err:
        raise InvalidInput("评价应为1到5分") from err
    if not 1 <= stars <= 5:
        raise InvalidInput("评价应为1到5分")
    if len(comment or "") > 500:
        raise InvalidInput("意见不能超过500字")
    now = clock()
    who = "村级（确认链接）" if by == "village" else f"{user.display_name if user else ''}（代村级录入）"
    old = f"{project.village_rating}分" if project.village_rating else "未确认"
    session.add(ProjectChange(project_id=project.id, field="村级确认与评价", old=old,  # type: ignore[arg-type]
                              new=f"{stars}分 {comment}".strip()[:2000], user_id=user.id if user else None,
                              who=who[:100], at=now))
    project.village_rating, project.village_comment = stars, (comment or "").strip()
    project.village_confirmed_at, project.village_confirmed_by, project.updated_at = now, by, now
    session.add(project)
    return project


# -- 典型案例 --------------------------------------------------------------------------------

def mark_case(session: Session, *, scope: Scope, user: User, project: Project, story: str,
              clock: Clock = utcnow) -> Project:
    _require_staff_of(scope, project)
    if project.status != "done":
        raise Conflict("只有已完成的项目可以作为典型案例")
    story = (story or "").strip()
    if not 20 <= len(story) <= 5000:
        raise InvalidInput("案例介绍应在20到5000字之间")
    now = clock()
    session.add(ProjectChange(project_id=project.id, field="典型案例", old="是" if project.is_case else "否",  # type: ignore[arg-type]
                              new="是", reason=story[:500], user_id=user.id, who=user.display_name, at=now))
    project.is_case, project.case_story, project.case_marked_at, project.updated_at = True, story, now, now
    session.add(project)
    return project


def unmark_case(session: Session, *, scope: Scope, user: User, project: Project, clock: Clock = utcnow) -> Project:
    _require_staff_of(scope, project)
    now = clock()
    session.add(ProjectChange(project_id=project.id, field="典型案例", old="是", new="否",  # type: ignore[arg-type]
                              user_id=user.id, who=user.display_name, at=now))
    project.is_case, project.updated_at = False, now
    session.add(project)
    return project


def public_cases(session: Session) -> list[tuple[Project, Organization]]:
    return list(session.exec(
        select(Project, Organization).join(Organization, col(Organization.id) == Project.organization_id)
        .where(Project.is_case).order_by(col(Project.case_marked_at).desc())).all())


# -- what the engine learns ------------------------------------------------------------------

def village_ratings(session: Session) -> dict[int, tuple[float, int]]:
    """Per organization: (mean village rating, number of rated projects)."""
    sums: dict[int, list[int]] = {}
    for org_id, rating in session.exec(select(Project.organization_id, Project.village_rating)
                                       .where(col(Project.village_rating).is_not(None))).all():
        acc = sums.setdefault(org_id, [0, 0])
        acc[0] += int(rating)
        acc[1] += 1
    return {k: (s / n, n) for k, (s, n) in sums.items()}
