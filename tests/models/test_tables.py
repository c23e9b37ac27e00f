"""Tables round-trip on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.services import partitions
from models import Demand, MatchRun, Organization, Recommendation


def make_org(**kw: object) -> Organization:
    base: dict[str, object] = {
        "name": "汪清县爱心协会", "credit_code": "51222424MJ00000019", "org_type": "社会团体",
        "registrar": "汪清县民政局", "registrar_level": "county", "city_code": "222400",
        "county_code": "222424", "actions": ["扶弱济困"], "capability": "探访老人",
        "contact_name": "王", "contact_phone": "13904330001"}
    base.update(kw)
    return Organization(**base)  # type: ignore[arg-type]


def make_demand(**kw: object) -> Demand:
    base: dict[str, object] = {
        "ref": "WQ-1", "city_code": "222400", "county_code": "222424", "category": "医护康养",
        "title": "义诊", "description": "老人义诊", "contact_name": "李", "contact_phone": "13904330002",
        "due_date": date(2027, 6, 30)}
    base.update(kw)
    return Demand(**base)  # type: ignore[arg-type]


def test_round_trip_with_json_and_utc(engine: Engine) -> None:
    with Session(engine) as s:
        org, demand, run = make_org(), make_demand(), MatchRun(config_hash="x", config={"top_k": 10})
        s.add_all([org, demand, run])
        s.flush()
        partitions.ensure(s.connection(), run.id)  # type: ignore[arg-type]  (PostgreSQL: the run's table)
        s.add(Recommendation(run_id=run.id, demand_id=demand.id, organization_id=org.id, demand_rank=1,
                             score=0.5, signals={"text": 0.2, "keywords": ["义诊"]}, reasons=["类别一致：医护康养"]))
        s.commit()
    with Session(engine) as s:
        rec = s.exec(select(Recommendation)).one()
        org = s.exec(select(Organization)).one()
        demand = s.exec(select(Demand)).one()
        assert rec.signals == {"text": 0.2, "keywords": ["义诊"]}
        assert rec.reasons == ["类别一致：医护康养"]
        assert org.actions == ["扶弱济困"]
        assert org.created_at.tzinfo is not None
        assert demand.due_date == date(2027, 6, 30)


def test_credit_code_is_unique(engine: Engine) -> None:
    with Session(engine) as s:
        s.add_all([make_org(), make_org(name="另一个")])
        with pytest.raises(IntegrityError):
            s.commit()


def test_demand_ref_is_unique_within_a_county_only(engine: Engine) -> None:
    with Session(engine) as s:
        s.add_all([make_demand(), make_demand(county_code="222401")])
        s.commit()
        s.add(make_demand())
        with pytest.raises(IntegrityError):
            s.commit()
