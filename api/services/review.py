"""需复核: flag what staff should look at — the same need filed twice, the same organization
registered twice, requests that are no public need of a village, names of people in hardship —
list the flags for a region, and carry out staff's decisions.

A demand flagged as a duplicate or as doubtful is *held* (status ``held``) until decided: it is not
on the public board, not matched and not mailed, so an organization is never recommended the same
need twice. Checks run when records are written (upload, API) and nightly before the re-match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, true
from sqlmodel import Session, col, select

from api.errors import Conflict, Forbidden, InvalidInput, NotFound
from api.services import doubtful, duplicates, entries, merge, privacy
from api.services.auth import Scope
from api.services.pending import enqueue
from matcher import Matcher
from matcher.resources import data_dir
from models import Demand, DemandEntry, Organization, ReviewFlag, User
from models.review import FLAG_ACTIONS, FLAG_KINDS

HOLDING = ("duplicate_demand", "doubtful_demand")  # kinds that keep a demand off the board and the engine


@lru_cache(maxsize=1)
def products() -> frozenset[str]:
    """The product names of ``data/products.txt``: two needs naming different ones are two needs."""
    lines = (data_dir() / "products.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.startswith("#") for w in line.split())


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def demand_label(d: Demand) -> str:
    return f"{d.ref}「{d.title}」"[:300]


def org_label(o: Organization) -> str:
    return f"{o.credit_code}「{o.name}」"[:300]


def _add(session: Session, *, key: str, kind: str, reason: str, now: datetime, demand: Demand | None = None,
         other_demand: Demand | None = None, org: Organization | None = None,
         other_org: Organization | None = None, score: float | None = None) -> ReviewFlag | None:
    """A new flag, or None when the same finding was flagged before (whatever was decided then)."""
    if session.exec(select(ReviewFlag.id).where(ReviewFlag.key == key)).first() is not None:
        return None
    subject = demand or org
    assert subject is not None
    flag = ReviewFlag(
        key=key, kind=kind, reason=reason[:500], score=score, created_at=now,
        demand_id=demand.id if demand else None, other_demand_id=other_demand.id if other_demand else None,
        organization_id=org.id if org else None, other_organization_id=other_org.id if other_org else None,
        subject=demand_label(demand) if demand else org_label(org),  # type: ignore[arg-type]
        other=demand_label(other_demand) if other_demand else (org_label(other_org) if other_org else ""),
        # Demand flags are for staff of the demand's region; organizations' for the province's.
        city_code=demand.city_code if demand else None, county_code=demand.county_code if demand else None)
    session.add(flag)
    return flag


def _set_status(session: Session, demand: Demand, status: str, now: datetime) -> None:
    """Held, released or closed: its recommendations follow with the next incremental pass."""
    demand.status, demand.updated_at = status, now
    session.add(demand)
    session.flush()
    enqueue(session, "demand", demand.id)


def _hold(session: Session, demand: Demand, now: datetime) -> None:
    if demand.status == "open":
        _set_status(session, demand, "held", now)


def _release(session: Session, demand: Demand, now: datetime) -> None:
    """Back on the board and into matching, unless another open flag still holds it."""
    if demand.status != "held":
        return
    still = session.exec(select(ReviewFlag.id).where(
        ReviewFlag.status == "open", col(ReviewFlag.kind).in_(HOLDING), ReviewFlag.demand_id == demand.id)).first()
    if still is None:
        _set_status(session, demand, "open", now)


# -- checks ------------------------------------------------------------------------------

def check_demands(session: Session, matcher: Matcher, *, ids: list[int] | None, now: datetime) -> list[ReviewFlag]:
    """Flag these demands (None: every open one) where they are doubtful, name a person in hardship,
    or repeat an open or held demand of the same village; hold the doubtful and the newer duplicate."""
    if ids is not None and not ids:
        return []
    query = select(Demand).where(col(Demand.status).in_(("open", "held")))
    targets = list(session.exec(query.where(col(Demand.id).in_(ids)) if ids is not None else query).all())
    flags: list[ReviewFlag | None] = []
    for d in targets:
        found = privacy.scan(f"{d.title}\n{d.description}")
        reasons = doubtful.reasons(d.title, d.description, found)
        if reasons:
            reason = "；".join(reasons)
            flags.append(_add(session, key=f"doubtful_demand:{d.id}:{_digest(reason)}", kind="doubtful_demand",
                              reason=reason, demand=d, now=now))
        names = list(dict.fromkeys(f.text for f in found if f.kind == "name"))
        if names:
            flags.append(_add(session, key=f"household_name:{d.id}:{_digest('、'.join(names))}",
                              kind="household_name", demand=d, now=now,
                              reason=f"需求中写有困难群众姓名「{'、'.join(names)}」，请核实是否确需公开"))
    counties = {d.county_code for d in targets}
    pool_query = select(Demand.id, Demand.county_code, Demand.township, Demand.village, Demand.title,
                        Demand.description).where(col(Demand.status).in_(("open", "held")))
    if ids is not None:
        pool_query = pool_query.where(col(Demand.county_code).in_(counties))
    pool = [duplicates.DemandRow(*row) for row in session.exec(pool_query).all()]
    for pair in duplicates.similar_demands(pool, matcher.tokenizer.tokens, subjects=products(), focus=ids):
        newer, older = session.get(Demand, pair.newer), session.get(Demand, pair.older)
        assert newer is not None and older is not None
        flags.append(_add(session, key=f"duplicate_demand:{pair.newer}:{pair.older}",
                          kind="duplicate_demand", reason=pair.reason, score=pair.score, demand=newer,
                          other_demand=older, now=now))
    made = [f for f in flags if f is not None]
    session.flush()
    for flag in made:
        if flag.kind in HOLDING:
            demand = session.get(Demand, flag.demand_id)
            assert demand is not None
            _hold(session, demand, now)
    return made


def check_organizations(session: Session, matcher: Matcher, *, ids: list[int] | None,
                        now: datetime) -> list[ReviewFlag]:
    """Flag organizations that may be one registered twice (None: compare all of them)."""
    if ids is not None and not ids:
        return []
    rows = [duplicates.OrganizationRow(*r) for r in session.exec(
        select(Organization.id, Organization.name, Organization.credit_code, Organization.city_code,
               Organization.contact_phone, Organization.email).where(Organization.status == "active")).all()]
    made = []
    for pair in duplicates.similar_organizations(rows, matcher.regions, focus=ids):
        newer, older = session.get(Organization, pair.newer), session.get(Organization, pair.older)
        assert newer is not None and older is not None
        flag = _add(session, key=f"duplicate_organization:{pair.newer}:{pair.older}", kind="duplicate_organization",
                    reason=pair.reason, score=pair.score, org=newer, other_org=older, now=now)
        if flag is not None:
            made.append(flag)
    session.flush()
    return made


def scan(session: Session, matcher: Matcher, *, now: datetime) -> dict[str, int]:
    """The nightly pass over every open record (before the re-match, so held demands sit it out)."""
    demands = check_demands(session, matcher, ids=None, now=now)
    orgs = check_organizations(session, matcher, ids=None, now=now)
    return {"review_demand_flags": len(demands), "review_org_flags": len(orgs)}


def warnings_of(flags: list[ReviewFlag]) -> list[str]:
    """What the uploader is told about the flags an upload raised, in Chinese."""
    out = []
    for f in flags:
        if f.kind == "duplicate_demand":
            out.append(f"需求{f.subject}与{f.other}疑似重复（{f.reason}），已暂停匹配，待本地区工作人员复核")
        elif f.kind == "doubtful_demand":
            out.append(f"需求{f.subject}疑似非公共需求（{f.reason}），暂不在需求大厅公开，待本地区工作人员复核")
        elif f.kind == "duplicate_organization":
            out.append(f"社会组织{f.subject}与{f.other}疑似重复登记（{f.reason}），待省级工作人员复核")
    return out


# -- listing and deciding ----------------------------------------------------------------

def _visible(scope: Scope) -> Any:
    scope.require_staff()
    if scope.role == "province":
        return true()
    region = ReviewFlag.city_code == scope.region_code if scope.role == "city" \
        else ReviewFlag.county_code == scope.region_code
    return region  # organizations' flags have no region: the province's alone


@dataclass
class FlagList:
    items: list[ReviewFlag]
    counts: dict[str, int]  # open flags per kind, in the region
    entries: dict[int, DemandEntry]  # who entered each flagged demand


def list_flags(session: Session, scope: Scope, *, kind: str | None = None, status: str | None = "open",
               limit: int = 200) -> FlagList:
    where = [_visible(scope)]
    counts = dict(session.exec(select(ReviewFlag.kind, func.count()).where(*where, ReviewFlag.status == "open")
                               .group_by(ReviewFlag.kind)).all())
    if kind:
        where.append(ReviewFlag.kind == kind)
    if status:
        where.append(ReviewFlag.status == status)
    items = list(session.exec(select(ReviewFlag).where(*where).order_by(col(ReviewFlag.id).desc())
                              .limit(limit)).all())
    ids = [i for f in items for i in (f.demand_id, f.other_demand_id) if i is not None]
    return FlagList(items, {k: counts.get(k, 0) for k in FLAG_KINDS}, entries.entered_by(session, ids))


def get_flag(session: Session, scope: Scope, flag_id: int) -> ReviewFlag:
    flag = session.get(ReviewFlag, flag_id)
    if flag is None:
        raise NotFound("复核事项不存在")
    if scope.role != "province" and not (flag.city_code and scope.covers(flag.city_code, flag.county_code)):
        raise Forbidden("该复核事项不在您负责的地区" if flag.city_code else "社会组织疑似重复由省级工作人员复核")
    return flag


def decide(session: Session, *, scope: Scope, user: User, flag: ReviewFlag, action: str, note: str = "",
           clock: Callable[[], datetime]) -> ReviewFlag:
    """Carry out one decision; every one is also written to the audit trail by the caller."""
    allowed = FLAG_ACTIONS[flag.kind]
    if action not in allowed:
        raise InvalidInput(f"操作应为：{'、'.join(f'{k}（{v}）' for k, v in allowed.items())}")
    if flag.status != "open":
        raise Conflict("该事项已处理")
    now = clock()
    if flag.kind in ("duplicate_demand", "doubtful_demand", "household_name"):
        demand = session.get(Demand, flag.demand_id) if flag.demand_id else None
        if demand is None:
            raise Conflict("该需求已不存在（可能已合并）")
        if action == "merge":
            other = session.get(Demand, flag.other_demand_id) if flag.other_demand_id else None
            if other is None:
                raise Conflict("另一条需求已不存在")
            merge.merge_demands(session, duplicate=demand, into=other, now=now)
        elif action == "close":
            _set_status(session, demand, "closed", now)
    elif action == "merge":
        org = session.get(Organization, flag.organization_id) if flag.organization_id else None
        other_org = session.get(Organization, flag.other_organization_id) if flag.other_organization_id else None
        if org is None or other_org is None:
            raise Conflict("该社会组织已不存在（可能已合并）")
        merge.merge_organizations(session, duplicate=org, into=other_org, now=now)
    flag.status, flag.decision, flag.note = "decided", action, note[:500]
    flag.decided_by, flag.decided_at = user.username, now
    session.add(flag)
    session.flush()
    if flag.kind in HOLDING and action in ("keep", "confirm"):
        demand = session.get(Demand, flag.demand_id)
        assert demand is not None
        _release(session, demand, now)
    return flag

