"""Pairings: organizations' interest and dismissals, the staff review queue and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from api.errors import Conflict, Forbidden, InvalidInput
from api.services import projects
from api.services.auth import Clock, Scope
from api.services.runs import latest_run
from models import Demand, Organization, Pairing, PairingDecision, Recommendation, User
from models.base import utcnow
from models.pairing import APPROVE_REASONS, CLOSED_STATUSES, REJECT_REASONS

QUEUE_TOP = 3  # suggestions per demand shown to staff; more would drown the queue
OPEN_STATUSES = ("suggested", "requested")


@dataclass
class QueueItem:
    demand: Demand
    organization: Organization
    status: str  # suggested | requested
    score: float | None
    rank: int | None
    reasons: list[str]
    waiting_since: datetime
    pairing_id: int | None = None
    history: list[str] = field(default_factory=list)


@dataclass
class QueueFilter:
    city_code: str | None = None
    county_code: str | None = None
    action: str | None = None
    min_score: float | None = None
    status: str | None = None  # suggested | requested
    sort: str = "score"  # score | waiting


def _pair(session: Session, demand_id: int, organization_id: int) -> Pairing | None:
    return session.exec(select(Pairing).where(Pairing.demand_id == demand_id,
                                              Pairing.organization_id == organization_id)).first()


def _recommendation(session: Session, demand_id: int, organization_id: int) -> Recommendation | None:
    run = latest_run(session)
    if run is None:
        return None
    return session.exec(select(Recommendation).where(
        Recommendation.run_id == run.id, Recommendation.demand_id == demand_id,
        Recommendation.organization_id == organization_id)).first()


def _log(session: Session, pairing: Pairing, decision: str, user: User | None, *, reason_code: str | None = None,
         note: str = "", now: datetime) -> None:
    session.flush()
    session.add(PairingDecision(pairing_id=pairing.id, decision=decision, reason_code=reason_code, note=note,
                                user_id=user.id if user else None, at=now))


def _ensure(session: Session, demand: Demand, org: Organization, *, source: str, now: datetime) -> Pairing:
    pairing = _pair(session, demand.id, org.id)  # type: ignore[arg-type]
    if pairing is None:
        rec = _recommendation(session, demand.id, org.id)  # type: ignore[arg-type]
        pairing = Pairing(demand_id=demand.id, organization_id=org.id, status="suggested",  # type: ignore[arg-type]
                          source=source, score=rec.score if rec else None,
                          reasons=list(rec.reasons) if rec else [], created_at=now, updated_at=now)
        session.add(pairing)
        session.flush()
    return pairing


def express_interest(session: Session, *, scope: Scope, user: User | None, org: Organization, demand: Demand,
                     note: str = "", clock: Clock = utcnow) -> Pairing:
    """An organization asks to help with a demand (意向); staff then decide."""
    if scope.role != "org" or scope.organization_id != org.id:
        raise Forbidden("只有社会组织本身可以表达帮扶意向")
    if demand.status != "open":
        raise Conflict("该需求已关闭")
    now = clock()
    pairing = _ensure(session, demand, org, source="interest", now=now)
    if pairing.status == "approved":
        raise Conflict("该对接已通过审核")
    if pairing.status == "rejected":
        raise Conflict("该对接已被驳回，不能再次申请")
    pairing.status, pairing.note, pairing.updated_at = "requested", note[:1000], now
    if pairing.source != "interest":
        pairing.source = "interest"
    session.add(pairing)
    _log(session, pairing, "requested", user, note=note[:1000], now=now)
    return pairing


def dismiss(session: Session, *, scope: Scope, user: User | None, org: Organization, demand: Demand,
            clock: Clock = utcnow) -> Pairing:
    """不感兴趣: the engine will not suggest this demand to the organization again."""
    if scope.role != "org" or scope.organization_id != org.id:
        raise Forbidden("只有社会组织本身可以标记不感兴趣")
    now = clock()
    pairing = _ensure(session, demand, org, source="engine", now=now)
    if pairing.status == "approved":
        raise Conflict("该对接已通过审核，如需退出请联系民政工作人员")
    pairing.status, pairing.updated_at = "dismissed", now
    session.add(pairing)
    _log(session, pairing, "dismissed", user, now=now)
    return pairing


def decide(session: Session, *, scope: Scope, user: User, demand: Demand, org: Organization, decision: str,
           reason_code: str | None = None, note: str = "", clock: Clock = utcnow) -> Pairing:
    """Staff approve or reject a suggested or requested pairing in their region."""
    scope.require_staff()
    scope.require_demand(demand)
    if decision not in ("approve", "reject"):
        raise InvalidInput("决定应为 approve（通过）或 reject（驳回）")
    reasons = REJECT_REASONS if decision == "reject" else APPROVE_REASONS
    if decision == "reject" and not reason_code:
        raise InvalidInput("驳回须选择原因")
    if reason_code is not None and reason_code not in reasons:
        raise InvalidInput(f"原因代码应为：{'、'.join(f'{k}（{v}）' for k, v in reasons.items())}")
    now = clock()
    pairing = _ensure(session, demand, org, source="engine", now=now)
    if pairing.status == "dismissed" and decision == "approve":
        raise Conflict("该组织已表示不感兴趣，不能通过")
    if decision == "reject" and pairing.status == "approved" and projects.project_of_pairing(session, pairing.id):  # type: ignore[arg-type]
        raise Conflict("该对接已立项，不能驳回；如项目无法继续，请在项目中更正为“已终止”")
    pairing.status = "approved" if decision == "approve" else "rejected"
    pairing.reason_code, pairing.note = reason_code, note[:1000]
    pairing.decided_by_id, pairing.decided_at, pairing.updated_at = user.id, now, now
    session.add(pairing)
    _log(session, pairing, pairing.status, user, reason_code=reason_code, note=note[:1000], now=now)
    if pairing.status == "approved":  # an approved pairing opens its assistance project
        projects.open_project(session, pairing, demand, today=projects.local_today(clock), now=now)
    return pairing


@dataclass(frozen=True)
class QueueKey:
    """One entry of the review queue, light: what sorting and counting need. ``source_id`` is the
    recommendation's id (suggested by the engine) or the pairing's (requested)."""

    demand_id: int
    organization_id: int
    status: str  # suggested | requested
    score: float | None
    rank: int | None
    waiting_since: datetime
    source_id: int

    @property
    def pairing_id(self) -> int | None:
        return self.source_id if self.status == "requested" else None


def queue_keys(session: Session, scope: Scope, filters: QueueFilter | None = None) -> list[QueueKey]:
    """Pairings waiting for a decision in the staff member's region, best or oldest first, as light
    keys: a province's queue holds ~60,000 suggestions, of which a page shows 50 (``queue_items``)."""
    scope.require_staff()
    f = filters or QueueFilter()
    demand_where = [scope.demand_clause(), Demand.status == "open"]
    if f.city_code:
        demand_where.append(Demand.city_code == f.city_code)
    if f.county_code:
        demand_where.append(Demand.county_code == f.county_code)
    if f.action:
        demand_where.append(Demand.category == f.action)
    keys: dict[tuple[int, int], QueueKey] = {}
    run = latest_run(session)
    if run is not None and f.status in (None, "suggested"):
        since = run.finished_at or run.started_at
        query = (
            select(Recommendation.id, Recommendation.demand_id, Recommendation.organization_id, Recommendation.score,
                   Recommendation.demand_rank)
            .join(Demand, col(Demand.id) == Recommendation.demand_id)
            .join(Organization, col(Organization.id) == Recommendation.organization_id)
            .outerjoin(Pairing, and_(col(Pairing.demand_id) == Recommendation.demand_id,
                                     col(Pairing.organization_id) == Recommendation.organization_id))
            # "demand_id > 0" (true of every row) steers SQLite to the index that holds the rank: it
            # would otherwise walk the organizations' index and read every one of the run's rows to test
            # the rank (0.6 s at Jilin scale, 0.17 s this way).
            .where(Recommendation.run_id == run.id, col(Recommendation.demand_id) > 0,
                   col(Recommendation.demand_rank) <= QUEUE_TOP,
                   Organization.status == "active", or_(col(Pairing.id).is_(None), Pairing.status == "suggested"),
                   *demand_where)
        )
        if f.min_score is not None:
            query = query.where(Recommendation.score >= f.min_score)
        for rec_id, demand_id, org_id, score, rank in session.exec(query).all():
            keys[(demand_id, org_id)] = QueueKey(demand_id, org_id, "suggested", score, rank, since, rec_id)
    if f.status in (None, "requested"):
        query = (
            select(Pairing.id, Pairing.demand_id, Pairing.organization_id, Pairing.score, Pairing.updated_at)
            .join(Demand, col(Demand.id) == Pairing.demand_id)
            .where(Pairing.status == "requested", *demand_where)
        )
        if f.min_score is not None:
            query = query.where(or_(col(Pairing.score).is_(None), col(Pairing.score) >= f.min_score))
        for pairing_id, demand_id, org_id, score, updated_at in session.exec(query).all():
            keys[(demand_id, org_id)] = QueueKey(demand_id, org_id, "requested", score, None, updated_at, pairing_id)
    result = list(keys.values())
    # The pair's ids last: equal scores and times keep one order whatever order the database returns.
    if f.sort == "waiting":
        result.sort(key=lambda k: (k.waiting_since, -(k.score or 0), k.demand_id, k.organization_id))
    else:
        result.sort(key=lambda k: (-(k.score or 0), k.waiting_since, k.demand_id, k.organization_id))
    return result


def queue_items(session: Session, keys: list[QueueKey]) -> list[QueueItem]:
    """The queue entries of these keys, in their order, with demand, organization, reasons and the
    demands' earlier decisions."""
    if not keys:
        return []
    demands = {d.id: d for d in session.exec(select(Demand).where(col(Demand.id).in_({k.demand_id for k in keys})))}
    orgs = {o.id: o for o in session.exec(
        select(Organization).where(col(Organization.id).in_({k.organization_id for k in keys})))}
    rec_ids = [k.source_id for k in keys if k.status == "suggested"]
    reasons = dict(session.exec(select(Recommendation.id, Recommendation.reasons)
                                .where(col(Recommendation.id).in_(rec_ids))).all()) if rec_ids else {}
    pair_ids = [k.source_id for k in keys if k.status == "requested"]
    pairs = {p.id: p for p in session.exec(select(Pairing).where(col(Pairing.id).in_(pair_ids)))} if pair_ids else {}
    items = []
    for k in keys:
        demand, org = demands.get(k.demand_id), orgs.get(k.organization_id)
        pairing = pairs.get(k.source_id) if k.pairing_id is not None else None
        if demand is None or org is None or (k.pairing_id is not None and pairing is None):
            continue  # deleted between the two reads
        if pairing is None:
            why = list(reasons.get(k.source_id, []))
        else:
            why = list(pairing.reasons) + ([f"组织留言：{pairing.note}"] if pairing.note else [])
        items.append(QueueItem(demand, org, k.status, k.score, k.rank, why, k.waiting_since, k.pairing_id))
    _attach_history(session, items)
    return items


def _attach_history(session: Session, items: list[QueueItem]) -> None:
    """Earlier decisions on the same demands, so the next reviewer sees why."""
    demand_ids = list({i.demand.id for i in items})
    if not demand_ids:
        return
    rows = session.exec(
        select(Pairing, Organization.name)
        .join(Organization, col(Organization.id) == Pairing.organization_id)
        .where(col(Pairing.demand_id).in_(demand_ids), col(Pairing.status).in_(CLOSED_STATUSES))
        .order_by(col(Pairing.decided_at))
    ).all()
    by_demand: dict[int, list[str]] = {}
    for pairing, name in rows:
        if pairing.status == "rejected":
            text = f"已驳回 {name}：{REJECT_REASONS.get(pairing.reason_code or '', '')}"
        elif pairing.status == "approved":
            text = f"已通过 {name}"
        else:
            text = f"{name} 表示不感兴趣"
        if pairing.note and pairing.status != "dismissed":
            text += f"（{pairing.note}）"
        by_demand.setdefault(pairing.demand_id, []).append(text)
    for item in items:
        item.history = by_demand.get(item.demand.id, [])  # type: ignore[arg-type]


def pairings_of_organization(session: Session, org: Organization) -> list[tuple[Pairing, Demand]]:
    return list(session.exec(
        select(Pairing, Demand).join(Demand, col(Demand.id) == Pairing.demand_id)
        .where(Pairing.organization_id == org.id, col(Pairing.status).in_(("requested", "approved", "rejected")))
        .order_by(col(Pairing.updated_at).desc())
    ).all())
