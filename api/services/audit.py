"""Recording and reading the audit trail. There is deliberately no update or delete here."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from api.errors import Forbidden
from api.services.auth import Clock, Scope
from models import AuditEvent, User
from models.audit import ACTION_LABELS
from models.base import utcnow


def record(session: Session, action: str, *, actor: User | None = None, username: str | None = None,
           ip: str = "", target: str = "", detail: dict[str, Any] | None = None, clock: Clock = utcnow) -> None:
    """Add one event to the caller's transaction (committed with the action it records)."""
    session.add(AuditEvent(at=clock(), user_id=actor.id if actor else None,
                           username=(actor.username if actor else username or "")[:64],
                           role=actor.role if actor else "", ip=ip[:64], action=action, target=target[:200],
                           detail=detail or {}))


def events(session: Session, scope: Scope, *, action: str | None = None, username: str | None = None,
           since: datetime | None = None, until: datetime | None = None, limit: int = 200) -> list[AuditEvent]:
    if scope.role != "province":
        raise Forbidden("审计记录仅限省级管理员查看")
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if username:
        query = query.where(AuditEvent.username == username)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return list(session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)).all())


def as_csv(rows: list[AuditEvent]) -> str:
    """The trail as CSV for Excel; formula-like text from users stays inert."""
    from api.services.importer import csv_safe

    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["时间（UTC）", "账号", "角色", "来源IP", "操作", "对象", "详情"])
    for e in rows:
        writer.writerow([csv_safe(x) for x in (e.at.isoformat(timespec="seconds"), e.username, e.role, e.ip,
                                            ACTION_LABELS.get(e.action, e.action), e.target, str(e.detail))])
    return out.getvalue()
