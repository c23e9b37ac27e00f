"""Uploads by staff: the importer, limited to the uploader's region, and organization accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from api.services import auth, entries, review
from api.services.importer import ImportReport, import_file
from matcher import Matcher
from models import Organization, User
from models.base import utcnow


def import_for_scope(session: Session, path: Path, kind: str, *, scope: auth.Scope, matcher: Matcher,
                     skip_invalid: bool = False, create_accounts: bool = False, error_file: Path | None = None,
                     channel: str = "cli", source: str | None = None,
                     clock: auth.Clock = utcnow) -> tuple[ImportReport, list[dict[str, str]]]:
    """Import one form for a staff member; who wrote each demand in is recorded, and what needs a
    second look (duplicates, doubtful requests) is flagged, held and named in the report."""
    scope.require_staff()

    def in_region(rec: dict[str, Any]) -> str | None:
        if scope.covers(rec.get("city_code"), rec.get("county_code")):
            return None
        return "不在您负责的地区，不能导入"

    report = import_file(session, path, kind, matcher=matcher, skip_invalid=skip_invalid, error_file=error_file,
                         row_check=None if scope.role == "province" else in_region)
    accounts = create_org_accounts(session, report.keys, matcher) if create_accounts and kind == "orgs" else []
    now, ids = clock(), [i for i, _created in report.written]
    if kind == "demands":
        entries.record_entries(session, report.written, user_id=scope.user_id,
                              channel=channel, source=source if source is not None else path.name, now=now)
        flags = review.check_demands(session, matcher, ids=ids, now=now)
    else:
        flags = review.check_organizations(session, matcher, ids=ids, now=now)
    report.warnings.extend(review.warnings_of(flags))
    return report, accounts


def create_org_accounts(session: Session, credit_codes: list[str], matcher: Matcher) -> list[dict[str, str]]:
    """An account per newly seen organization (username = credit code), with an initial password
    that staff hand over and the organization must change."""
    orgs = session.exec(select(Organization).where(col(Organization.credit_code).in_(credit_codes))).all()
    have = {u.organization_id for u in session.exec(select(User).where(col(User.organization_id).is_not(None))).all()}
    created = []
    for org in orgs:
        if org.id in have:
            continue
        password = auth.new_password()
        auth.create_user(session, username=org.credit_code, password=password, role="org", organization=org,
                         email=org.email, regions=matcher.regions, must_change_password=True)
        created.append({"username": org.credit_code, "name": org.name, "initial_password": password})
    return created
