"""Digest mails: collect (typed queries) → render (pure Jinja2) → outbox → send (the only SMTP code).

Every message is written to the outbox, together with the recommendations it announces, before
anything is sent; it is marked sent, one by one, once the server accepts it. A restart sends what
is still pending and never writes a second digest for the same recipient and day.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import InvalidInput, NotFound
from api.services.auth import Clock, Scope
from api.services.listings import RecommendationView, recommendations_for_organization
from api.services.pairings import QueueFilter, QueueItem, queue_items, queue_keys
from api.services.privacy import mask_text
from api.services.projects import days_since_report, overdue_projects
from api.services.runs import latest_run
from api.settings import Settings
from matcher.regions import RegionIndex
from models import (
    Demand,
    MailedRecommendation,
    MailPreference,
    Organization,
    OutboxMessage,
    Pairing,
    Project,
    Recommendation,
    User,
)
from models.base import utcnow
from models.mail import FREQUENCIES

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates" / "mail"
MAX_ATTEMPTS = 10
SENDER_NAME = "乡村振兴供需对接平台"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   keep_trailing_newline=True)
_env.filters["masked"] = mask_text  # a mail may be forwarded: its free text is masked for everyone


@dataclass
class Rendered:
    subject: str
    html: str
    text: str


# -- preferences and unsubscribe ----------------------------------------------------------

def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="duijie-unsubscribe")


def unsubscribe_token(secret: str, *, organization_id: int | None = None, user_id: int | None = None) -> str:
    return _serializer(secret).dumps({"o": organization_id} if organization_id else {"u": user_id})


def _preference(session: Session, organization_id: int | None, user_id: int | None) -> MailPreference | None:
    """An organization's preference, or a staff account's."""
    return session.exec(select(MailPreference).where(
        MailPreference.organization_id == organization_id if organization_id else MailPreference.user_id == user_id
    )).first()


def frequency(session: Session, *, organization_id: int | None = None, user_id: int | None = None) -> str:
    pref = _preference(session, organization_id, user_id)
    return pref.frequency if pref else "daily"


def set_frequency(session: Session, value: str, *, organization_id: int | None = None,
                  user_id: int | None = None) -> MailPreference:
    if value not in FREQUENCIES:
        raise InvalidInput("邮件频率应为 daily（每天）、weekly（每周）或 off（不接收）")
    pref = _preference(session, organization_id, user_id) or MailPreference(organization_id=organization_id,
                                                                           user_id=user_id)
    pref.frequency, pref.updated_at = value, utcnow()
    session.add(pref)
    session.flush()
    return pref


def unsubscribe(session: Session, secret: str, token: str) -> str:
    """Apply a one-click unsubscribe; returns who was unsubscribed (for the page)."""
    try:
        data = _serializer(secret).loads(token)
    except BadSignature:
        raise NotFound("退订链接无效") from None
    if data.get("o"):
        org = session.get(Organization, data["o"])
        if org is None:
            raise NotFound("退订链接无效")
        set_frequency(session, "off", organization_id=org.id)
        return org.name
    user = session.get(User, data.get("u"))
    if user is None:
        raise NotFound("退订链接无效")
    set_frequency(session, "off", user_id=user.id)
    return user.display_name


def due(freq: str, local_day: date) -> bool:
    """Daily every day, weekly on Mondays."""
    return freq == "daily" or (freq == "weekly" and local_day.weekday() == 0)


# -- collect -----------------------------------------------------------------------------

def new_for_organization(session: Session, org: Organization, *, top_n: int) -> list[RecommendationView]:
    """Recommendations not yet mailed, minus every demand the organization already acted on
    (dismissed, requested) or staff decided (rejected, approved)."""
    views = recommendations_for_organization(session, org, top=None)
    mailed = set(session.exec(select(MailedRecommendation.demand_id).where(
        MailedRecommendation.organization_id == org.id)).all())
    paired = set(session.exec(select(Pairing.demand_id).where(Pairing.organization_id == org.id)).all())
    return [v for v in views if v.demand.id not in mailed and v.demand.id not in paired][:top_n]


def demands_without_candidates(session: Session, scope: Scope, *, limit: int = 20) -> list[Demand]:
    run = latest_run(session)
    if run is None:
        return []
    has = select(Recommendation.demand_id).where(Recommendation.run_id == run.id,
                                                 col(Recommendation.demand_rank).is_not(None))
    return list(session.exec(select(Demand).where(Demand.status == "open", scope.demand_clause(),
                                                  col(Demand.id).not_in(has)).order_by(col(Demand.id))
                             .limit(limit)).all())


# -- render ------------------------------------------------------------------------------

def render_org_digest(org: Organization, items: list[RecommendationView], *, settings: Settings,
                      regions: RegionIndex, unsubscribe_url: str) -> Rendered:
    subject = f"【乡村振兴供需对接】今日为您推荐{len(items)}个村屯需求"
    ctx: dict[str, Any] = {"org": org, "items": items, "base_url": settings.base_url.rstrip("/"),
                           "place": regions.place_name, "unsubscribe_url": unsubscribe_url, "subject": subject}
    return Rendered(subject, _env.get_template("org_digest.html").render(ctx),
                    _env.get_template("org_digest.txt").render(ctx))


def render_staff_digest(user: User, waiting: list[QueueItem], total_waiting: int, orphans: list[Demand], *,
                        settings: Settings, regions: RegionIndex, unsubscribe_url: str,
                        overdue: list[tuple[Project, Organization, int]] | None = None) -> Rendered:
    region = (regions.city_name(user.region_code) or regions.county_name(user.region_code)) if user.region_code \
        else "全省"
    overdue = overdue or []
    subject = f"【乡村振兴供需对接】{region}：{total_waiting}条对接待审核，{len(orphans)}个需求无候选"
    if overdue:
        subject += f"，{len(overdue)}个项目逾期未报告"
    ctx: dict[str, Any] = {"user": user, "waiting": waiting, "total_waiting": total_waiting, "orphans": orphans,
                           "overdue": overdue,
                           "region": region, "base_url": settings.base_url.rstrip("/"), "place": regions.place_name,
                           "unsubscribe_url": unsubscribe_url, "subject": subject}
    return Rendered(subject, _env.get_template("staff_digest.html").render(ctx),
                    _env.get_template("staff_digest.txt").render(ctx))


def preview_org_digest(session: Session, org: Organization, *, settings: Settings, regions: RegionIndex,
                       secret: str) -> Rendered | None:
    items = new_for_organization(session, org, top_n=settings.digest_top_n)
    if not items:
        return None
    url = f"{settings.base_url.rstrip('/')}/unsubscribe/{unsubscribe_token(secret, organization_id=org.id)}"
    return render_org_digest(org, items, settings=settings, regions=regions, unsubscribe_url=url)


# -- outbox ------------------------------------------------------------------------------

def _enqueue(session: Session, *, key: str, kind: str, to_addr: str, rendered: Rendered, now: datetime,
             domain: str, unsubscribe_url: str) -> OutboxMessage | None:
    """Write one message, or nothing if this recipient already has one for this day."""
    if session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first() is not None:
        return None
    msg = OutboxMessage(dedupe_key=key, kind=kind, to_addr=to_addr, subject=rendered.subject, html=rendered.html,
                        text=rendered.text, message_id=make_msgid(domain=domain), created_at=now,
                        next_attempt_at=now, unsubscribe_url=unsubscribe_url)
    session.add(msg)
    session.flush()
    return msg


@dataclass
class DigestCounts:
    org_mails: int = 0
    staff_mails: int = 0
    nothing_new: int = 0
    not_due: int = 0


def enqueue_digests(session_factory: Callable[[], Session], *, settings: Settings, regions: RegionIndex,
                    secret: str, clock: Clock = utcnow) -> DigestCounts:
    """Write today's digests to the outbox, one transaction per recipient (idempotent per day)."""
    now = clock()
    local_day = now.astimezone(ZoneInfo(settings.timezone)).date()
    base = settings.base_url.rstrip("/")
    domain = settings.mail_from.rpartition("@")[2] or "localhost"
    counts = DigestCounts()
    with session_factory() as session:
        org_ids = list(session.exec(select(Organization.id).where(
            Organization.status == "active", col(Organization.email).is_not(None)).order_by(Organization.id)).all())
        staff_ids = list(session.exec(select(User.id).where(
            col(User.role).in_(("province", "city", "county")), User.is_active,
            col(User.email).is_not(None)).order_by(User.id)).all())
    for org_id in org_ids:
        with session_factory() as session:
            org = session.get(Organization, org_id)
            assert org is not None and org.email
            if not due(frequency(session, organization_id=org.id), local_day):
                counts.not_due += 1
                continue
            items = new_for_organization(session, org, top_n=settings.digest_top_n)
            if not items:
                counts.nothing_new += 1
                continue
            url = f"{base}/unsubscribe/{unsubscribe_token(secret, organization_id=org.id)}"
            rendered = render_org_digest(org, items, settings=settings, regions=regions, unsubscribe_url=url)
            msg = _enqueue(session, key=f"org:{org.id}:{local_day.isoformat()}", kind="org_digest",
                           to_addr=org.email, rendered=rendered, now=now, domain=domain, unsubscribe_url=url)
            if msg is not None:
                for v in items:
                    session.add(MailedRecommendation(organization_id=org.id, demand_id=v.demand.id,  # type: ignore[arg-type]
                                                     message_id=msg.id, at=now))  # type: ignore[arg-type]
                counts.org_mails += 1
            _commit(session)
    for user_id in staff_ids:
        with session_factory() as session:
            user = session.get(User, user_id)
            assert user is not None and user.email
            if not due(frequency(session, user_id=user.id), local_day):
                counts.not_due += 1
                continue
            scope = Scope.of(user)
            waiting = queue_keys(session, scope, QueueFilter(sort="waiting"))
            orphans = demands_without_candidates(session, scope)
            overdue = [(p, o, days_since_report(p, local_day)) for p, o in overdue_projects(session, scope, local_day)]
            if not waiting and not orphans and not overdue:
                counts.nothing_new += 1
                continue
            url = f"{base}/unsubscribe/{unsubscribe_token(secret, user_id=user.id)}"
            rendered = render_staff_digest(user, queue_items(session, waiting[:20]), len(waiting), orphans,
                                           settings=settings, regions=regions, unsubscribe_url=url, overdue=overdue)
            if _enqueue(session, key=f"staff:{user.id}:{local_day.isoformat()}", kind="staff_digest",
                        to_addr=user.email, rendered=rendered, now=now, domain=domain, unsubscribe_url=url):
                counts.staff_mails += 1
            _commit(session)
    return counts


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:  # another process wrote this recipient's digest first: theirs stands
        session.rollback()


def build_mime(msg: OutboxMessage, settings: Settings, unsubscribe_url: str | None = None) -> EmailMessage:
    mime = EmailMessage()
    mime["Subject"] = msg.subject
    mime["From"] = formataddr((SENDER_NAME, settings.mail_from))
    mime["To"] = msg.to_addr
    mime["Message-ID"] = msg.message_id
    if unsubscribe_url:
        mime["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime.set_content(msg.text, subtype="plain", charset="utf-8")
    mime.add_alternative(msg.html, subtype="html", charset="utf-8")
    return mime


def connect(settings: Settings) -> smtplib.SMTP:
    """The only place that opens an SMTP connection."""
    if settings.smtp_security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=30,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30)
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        smtp.login(settings.smtp_user, settings.smtp_password or "")
    return smtp


@dataclass
class FlushCounts:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, … minutes, at most six hours."""
    return timedelta(minutes=min(2 ** max(0, attempts - 1), 360))


def flush_outbox(session_factory: Callable[[], Session], *, settings: Settings, clock: Clock = utcnow,
                 after_send: Callable[[int], None] | None = None) -> FlushCounts:
    """Send every due pending message; mark each sent as soon as the server accepts it."""
    now = clock()
    counts = FlushCounts()
    with session_factory() as session:
        due_ids = list(session.exec(select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now).order_by(OutboxMessage.id)).all())
    if not due_ids:
        return counts
    try:
        smtp = connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        _defer(session_factory, due_ids, f"无法连接邮件服务器：{exc}", now, counts)
        return counts
    try:
        for msg_id in due_ids:
            with session_factory() as session:
                msg = session.get(OutboxMessage, msg_id)
                if msg is None or msg.status != "pending":
                    continue  # another process sent it meanwhile
                try:
                    smtp.send_message(build_mime(msg, settings, msg.unsubscribe_url))
                except (OSError, smtplib.SMTPException) as exc:
                    _mark_failure(msg, str(exc), now, counts)
                    session.add(msg)
                    session.commit()
                    continue
                msg.status, msg.sent_at, msg.attempts = "sent", now, msg.attempts + 1
                session.add(msg)
                session.commit()
                counts.sent += 1
            if after_send is not None:
                after_send(counts.sent)  # a test's crash injection point
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.quit()
    return counts


def _mark_failure(msg: OutboxMessage, error: str, now: datetime, counts: FlushCounts) -> None:
    msg.attempts += 1
    msg.last_error = error[:500]
    if msg.attempts >= MAX_ATTEMPTS:
        msg.status = "failed"
        counts.failed += 1
    else:
        msg.next_attempt_at = now + backoff(msg.attempts)
        counts.deferred += 1


def _defer(session_factory: Callable[[], Session], ids: list[int], error: str, now: datetime,
           counts: FlushCounts) -> None:
    with session_factory() as session:
        for msg in session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))).all():
            _mark_failure(msg, error, now, counts)
            session.add(msg)
        session.commit()


def outbox_problems(session: Session, *, limit: int = 20) -> list[OutboxMessage]:
    """Messages that failed at least once, for staff to see."""
    return list(session.exec(select(OutboxMessage).where(col(OutboxMessage.last_error).is_not(None),
                                                         OutboxMessage.status != "sent")
                             .order_by(col(OutboxMessage.id).desc()).limit(limit)).all())
