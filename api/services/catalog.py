"""Organizations and demands: lists with filters, one record, create, update, close.

Creating and updating go through the importer's own row validation, so the API,
the web forms and the uploads share one set of rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from api.errors import Conflict, Forbidden, InvalidInput
from api.services import entries, privacy, review
from api.services.auth import Clock, Scope
from api.services.contract import DEMAND_FORM, ORG_FORM, FormSpec
from api.services.importer import ImportRejected, Table, validate_table
from api.services.lookup import find_demand, find_organization
from api.services.pending import enqueue
from matcher import Matcher
from matcher.regions import RegionIndex
from models import Demand, Organization, ReviewFlag
from models.base import utcnow


@dataclass
class Written:
    """A record just created or changed, and what it raised for staff to review."""

    record: Any
    flags: list[ReviewFlag]


def _demand_written(session: Session, scope: Scope, matcher: Matcher, demand: Demand, *, created: bool, channel: str,
                    now: datetime) -> Written:
    assert demand.id is not None
    entries.record_entries(session, [(demand.id, created)], user_id=scope.user_id, channel=channel, now=now)
    return Written(demand, review.check_demands(session, matcher, ids=[demand.id], now=now))


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    size: int


def _validate_one(form: FormSpec, data: dict[str, Any], matcher: Matcher) -> dict[str, Any]:
    """Validate one record given by contract keys (name, credit_code, …)."""
    unknown = sorted(set(data) - {c.key for c in form.columns})
    if unknown:
        raise InvalidInput(f"未知字段：{'、'.join(unknown)}")
    headers = [c.header for c in form.columns]
    values = [data.get(c.key) for c in form.columns]
    values = ["" if v is None else ("、".join(v) if isinstance(v, list) else v) for v in values]
    table = Table(headers, 1, [(2, values)])
    index = {c.key: i for i, c in enumerate(form.columns)}
    good, errors = validate_table(table, form, index, matcher, [])
    if errors:
        raise ImportRejected(errors)
    return good[0][1]


def org_as_form(org: Organization, regions: RegionIndex) -> dict[str, Any]:
    return {
        "name": org.name, "credit_code": org.credit_code, "org_type": org.org_type, "registrar": org.registrar,
        "city": regions.city_name(org.city_code), "county": regions.county_name(org.county_code),
        "actions": list(org.actions), "scope": org.scope, "capability": org.capability,
        "service_area": org.service_area, "funds": org.funds, "staff": org.staff,
        "contact_name": org.contact_name, "contact_phone": org.contact_phone, "email": org.email,
    }


def demand_as_form(d: Demand, regions: RegionIndex) -> dict[str, Any]:
    return {
        "ref": "" if d.ref_generated else d.ref, "city": regions.city_name(d.city_code),
        "county": regions.county_name(d.county_code), "township": d.township, "village": d.village,
        "category": "" if d.category_inferred else d.category, "title": d.title, "description": d.description,
        "beneficiaries": d.beneficiaries, "funding_needed": d.funding_needed,
        "due_date": d.due_date.isoformat() if d.due_date else "", "contact_name": d.contact_name,
        "contact_phone": d.contact_phone,
    }


# -- organizations ---------------------------------------------------------------------

def list_organizations(session: Session, scope: Scope, *, city_code: str | None = None,
                       county_code: str | None = None, action: str | None = None, status: str | None = None,
                       keyword: str | None = None, page: int = 1, size: int = 20) -> Page:
    if not scope.is_staff and scope.role != "org":
        raise Forbidden("请先登录")
    where = [scope.organization_clause()]
    if city_code:
        where.append(Organization.city_code == city_code)
    if county_code:
        where.append(Organization.county_code == county_code)
    if status:
        where.append(Organization.status == status)
    if keyword:
        like = f"%{keyword}%"
        where.append(or_(col(Organization.name).like(like), col(Organization.capability).like(like)))
    start = (page - 1) * size
    if not action:  # the page alone is read: a province has ~20,000 organizations
        total = session.exec(select(func.count()).select_from(Organization).where(*where)).one()
        rows = session.exec(select(Organization).where(*where).order_by(col(Organization.id))
                            .offset(start).limit(size)).all()
        return Page(list(rows), total, page, size)
    # actions is a JSON list: filtered in Python, portable across databases, on (id, actions) pairs,
    # and only the page's organizations read whole.
    pairs = session.execute(select_columns(Organization.id, Organization.actions).where(*where)
                            .order_by(col(Organization.id))).all()
    ids = [i for i, actions in pairs if action in actions]
    wanted = ids[start:start + size]
    rows = session.exec(select(Organization).where(col(Organization.id).in_(wanted))
                        .order_by(col(Organization.id))).all() if wanted else []
    return Page(list(rows), len(ids), page, size)


def get_organization(session: Session, scope: Scope, credit_code: str) -> Organization:
    org = find_organization(session, credit_code)
    scope.require_organization(org)
    return org


def create_organization(session: Session, scope: Scope, data: dict[str, Any], matcher: Matcher, *,
                        clock: Clock = utcnow) -> Written:
    scope.require_staff()
    rec = _validate_one(ORG_FORM, data, matcher)
    if not scope.covers(rec["city_code"], rec["county_code"]):
        raise Forbidden("只能登记本地区的社会组织")
    if session.exec(select(Organization).where(Organization.credit_code == rec["credit_code"])).first():
        raise Conflict(f"统一社会信用代码{rec['credit_code']}已登记")
    org = Organization(**rec)
    session.add(org)
    session.flush()
    enqueue(session, "organization", org.id)
    assert org.id is not None
    return Written(org, review.check_organizations(session, matcher, ids=[org.id], now=clock()))


def update_organization(session: Session, scope: Scope, org: Organization, changes: dict[str, Any],
                        matcher: Matcher, *, clock: Clock = utcnow) -> Written:
    scope.require_organization(org)
    if "credit_code" in changes and changes["credit_code"] != org.credit_code:
        raise InvalidInput("统一社会信用代码不可修改")
    rec = _validate_one(ORG_FORM, {**org_as_form(org, matcher.regions), **changes}, matcher)
    for key, value in rec.items():
        setattr(org, key, value)
    org.updated_at = utcnow()
    session.add(org)
    session.flush()
    enqueue(session, "organization", org.id)
    assert org.id is not None
    return Written(org, review.check_organizations(session, matcher, ids=[org.id], now=clock()))


def set_organization_status(session: Session, scope: Scope, org: Organization, status: str) -> Organization:
    scope.require_organization(org)
    org.status, org.updated_at = status, utcnow()
    session.add(org)
    session.flush()
    enqueue(session, "organization", org.id)
    return org


# -- demands ---------------------------------------------------------------------------

def list_demands(session: Session, scope: Scope, *, city_code: str | None = None, county_code: str | None = None,
                 action: str | None = None, status: str | None = "open", keyword: str | None = None,
                 page: int = 1, size: int = 20) -> Page:
    """Staff see their region; organizations and the public see open demands everywhere."""
    where = []
    if scope.is_staff:
        where.append(scope.demand_clause())
    else:
        status = "open"
    if status:
        where.append(Demand.status == status)
    if city_code:
        where.append(Demand.city_code == city_code)
    if county_code:
        where.append(Demand.county_code == county_code)
    if action:
        where.append(Demand.category == action)
    masked_search = bool(keyword) and not scope.is_staff and privacy.may_touch_masked(keyword)
    if keyword:
        # Those who see masked text search it: the database finds a superset, masking decides.
        like = f"%{keyword.replace('*', '%') if masked_search else keyword}%"
        where.append(or_(col(Demand.title).like(like), col(Demand.description).like(like),
                         col(Demand.village).like(like), col(Demand.township).like(like)))
    if masked_search:
        assert keyword is not None
        hits = session.execute(select_columns(Demand.id, Demand.title, Demand.description, Demand.village,
                                              Demand.township).where(*where).order_by(col(Demand.id).desc())).all()
        ids = [h.id for h in hits if any(keyword in privacy.mask_text(t) for t in h[1:])]
        wanted = ids[(page - 1) * size: page * size]
        rows = session.exec(select(Demand).where(col(Demand.id).in_(wanted or [-1]))
                            .order_by(col(Demand.id).desc())).all()
        return Page(list(rows), len(ids), page, size)
    total = session.exec(select(func.count()).select_from(Demand).where(*where)).one()
    rows = session.exec(select(Demand).where(*where).order_by(col(Demand.id).desc())
                        .offset((page - 1) * size).limit(size)).all()
    return Page(list(rows), total, page, size)


def open_by_county(session: Session, *, action: str | None = None) -> dict[str, float]:
    """Open demands per county: what the public board's map shows (anyone may see these counts)."""
    where = [Demand.status == "open"] + ([Demand.category == action] if action else [])
    return {county: float(n) for county, n in session.exec(
        select(Demand.county_code, func.count()).where(*where).group_by(Demand.county_code)).all() if county}


def get_demand(session: Session, ref: str, county_code: str | None = None) -> Demand:
    """A demand by its ref (and county, where a ref repeats across counties): anyone may look one up."""
    return find_demand(session, ref, county_code)


def create_demand(session: Session, scope: Scope, data: dict[str, Any], matcher: Matcher, *, channel: str = "api",
                  clock: Clock = utcnow) -> Written:
    scope.require_staff()
    rec = _validate_one(DEMAND_FORM, data, matcher)
    if not scope.covers(rec["city_code"], rec["county_code"]):
        raise Forbidden("只能发布本地区的需求")
    exists = session.exec(select(Demand).where(Demand.county_code == rec["county_code"],
                                               Demand.ref == rec["ref"])).first()
    if exists is not None:
        raise Conflict(f"需求编号{rec['ref']}在该县（市、区）已存在")
    demand = Demand(**rec)
    session.add(demand)
    session.flush()
    enqueue(session, "demand", demand.id)
    return _demand_written(session, scope, matcher, demand, created=True, channel=channel, now=clock())


def update_demand(session: Session, scope: Scope, demand: Demand, changes: dict[str, Any],
                  matcher: Matcher, *, channel: str = "api", clock: Clock = utcnow) -> Written:
    scope.require_staff()
    scope.require_demand(demand)
    if "ref" in changes and changes["ref"] != demand.ref:
        raise InvalidInput("需求编号不可修改")
    base = demand_as_form(demand, matcher.regions)
    base["ref"] = demand.ref
    rec = _validate_one(DEMAND_FORM, {**base, **changes}, matcher)
    if not scope.covers(rec["city_code"], rec["county_code"]):
        raise Forbidden("只能把需求改到本地区")
    rec["ref_generated"] = demand.ref_generated
    for key, value in rec.items():
        setattr(demand, key, value)
    demand.updated_at = utcnow()
    session.add(demand)
    session.flush()
    enqueue(session, "demand", demand.id)
    return _demand_written(session, scope, matcher, demand, created=False, channel=channel, now=clock())


def set_demand_status(session: Session, scope: Scope, demand: Demand, status: str) -> Demand:
    scope.require_staff()
    scope.require_demand(demand)
    demand.status, demand.updated_at = status, utcnow()
    session.add(demand)
    session.flush()
    enqueue(session, "demand", demand.id)
    return demand
