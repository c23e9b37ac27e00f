"""Records by their natural keys (需求编号 within a county, 统一社会信用代码), the numbers of merged
records included: a number staff merged away still finds the record it became."""

from __future__ import annotations

from sqlmodel import Session, col, select

from api.errors import Conflict, NotFound
from models import Demand, DemandAlias, Organization, OrganizationAlias


def find_demand(session: Session, ref: str, county_code: str | None = None) -> Demand:
    query = select(Demand).where(Demand.ref == ref)
    if county_code:
        query = query.where(Demand.county_code == county_code)
    found = list(session.exec(query).all())
    if not found:
        merged = select(Demand).join(DemandAlias, col(DemandAlias.demand_id) == Demand.id).where(DemandAlias.ref == ref)
        if county_code:
            merged = merged.where(DemandAlias.county_code == county_code)
        found = list(session.exec(merged).all())
    if not found:
        raise NotFound(f"未找到需求编号为{ref}的需求")
    if len(found) > 1:
        raise Conflict(f"需求编号{ref}在{len(found)}个县（市、区）中都有，请同时指定县（市、区）")
    return found[0]


def find_organization(session: Session, credit_code: str) -> Organization:
    code = credit_code.upper()
    org = session.exec(select(Organization).where(Organization.credit_code == code)).first()
    if org is None:
        org = session.exec(select(Organization).join(
            OrganizationAlias, col(OrganizationAlias.organization_id) == Organization.id)
            .where(OrganizationAlias.credit_code == code)).first()
    if org is None:
        raise NotFound(f"未找到统一社会信用代码为{credit_code}的社会组织")
    return org
