"""Records read for a run are those of the objects; recommendation rows carry the same JSON that
json.dumps would write, however they are built."""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from api.services.matching import demand_record, load_demands, load_organizations, org_record, recommendation_rows
from matcher import Recommendation
from models import Demand, Organization
from tests.world import World


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_rows_hold_exactly_the_json_of_signals_and_reasons() -> None:
    recs = [
        Recommendation("7", "9", 0.8123, {"text": 0.1, "category": 1e-05, "reach": 1.0, "distance_km": 12.5,
                                          "scale": 0.6, "feedback": 1}, ("类别一致：医护康养", '带"引号"\\与换行\n'),
                       demand_rank=1, organization_rank=None, keywords=("义诊", "老年人")),
        Recommendation("8", "9", 0.5, {"text": float("nan"), "reach": 2.0}, (), keywords=()),
    ]
    rows = recommendation_rows(3, recs)
    assert [r[:6] for r in rows] == [(3, 7, 9, 1, None, 0.8123), (3, 8, 9, None, None, 0.5)]
    for row, rec in zip(rows, recs, strict=True):
        assert row[6] == _dumps({**rec.signals, "keywords": list(rec.keywords)})
        assert row[7] == _dumps(list(rec.reasons))
    assert json.loads(rows[0][7])[1] == '带"引号"\\与换行\n'


def test_records_read_as_rows_are_the_records_of_the_objects(world: World) -> None:
    with Session(world.engine) as session:
        orgs = session.exec(select(Organization).order_by(col(Organization.id))).all()
        demands = session.exec(select(Demand).order_by(col(Demand.id))).all()
        orgs[0].status = "withdrawn"
        demands[0].status = "closed"
        demands[1].category_inferred = True
        session.add_all([orgs[0], demands[0], demands[1]])
        session.commit()
        records = load_organizations(session)
        assert records == [org_record(o) for o in orgs if o.status == "active"]
        assert [r.key for r in records] == sorted((r.key for r in records), key=int)
        dems, guessed = load_demands(session)
        assert dems == [demand_record(d) for d in demands if d.status == "open"]
        assert demands[0].id not in {int(d.key) for d in dems}
        assert guessed == {d.id: d.category for d in demands if d.category_inferred and d.status == "open"}
        assert dems[0].category is None  # a guessed category is the engine's to infer again
        assert load_organizations(session, col(Organization.id) == orgs[0].id) == [org_record(orgs[0])]
