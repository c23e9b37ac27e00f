"""Records read for a run are those of the objects; recommendation rows carry the same JSON that
json.dumps would write, however they are built."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlmodel import Session, col, select

from api.services.bulk import _REC_COLUMNS, batch_rows, recommendation_rows
from api.services.learning import learning_inputs
from api.services.records import demand_record, load_demands, load_organizations, org_record
from api.services.runs import latest_run, run_rematch
from matcher import DemandRecord, Matcher, OrganizationRecord, Recommendation
from matcher import engine as engine_module
from matcher.categories import ACTIONS
from matcher.explanations import RecommendationBatch
from models import Demand, MatchRun, Organization
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


def test_rows_of_a_batch_are_the_rows_of_its_recommendations(shared_matcher: Matcher) -> None:
    regions = shared_matcher.regions
    counties = list(regions.counties.values())[:6]
    orgs = [OrganizationRecord(
        f"{i}", f"协会{i}", "county", c.city_code, c.code, (ACTIONS[i % 6],),
        ["义诊 老人 体检 送药", '带"引号"的\\反斜杠 木耳 直播', "调解 纠纷 普法 老人"][i % 3],
        funds=[None, 2.0, 50.0][i % 3]) for i, c in enumerate(counties * 3)]
    demands = [DemandRecord(
        f"{100 + j}", c.city_code, c.code, ["老人义诊", '木耳直播 带"引号"的\\反斜杠', "纠纷调解"][j % 3],
        "为村里老人送药 体检", category=[ACTIONS[j % 6], None][j % 2], funding_needed=[None, 5.0][j % 2])
        for j, c in enumerate(counties * 2)]
    batches: list[RecommendationBatch] = []
    shared_matcher.match(orgs, demands, organization_feedback={"1": (2, 1)}, organization_ratings={"2": (4.0, 2)},
                         sink=batches.append)
    assert batches and sum(len(b) for b in batches) > 20
    batch = batches[0]
    batch.signals["reach"][0] = float("nan")  # not finite: written as json writes it
    # Texts JSON must escape (the tokenizer drops such characters from words, a hostile table need not).
    batch.words = [w + '"\\\n' for w in batch.words]
    batch.parts = [p + '"\\' for p in batch.parts]
    rows = batch_rows(3, batch)
    recs = batch.recommendations()
    assert rows == recommendation_rows(3, recs)
    assert all('\\"' in row[6] + row[7] for row in rows) and any("feedback" in row[6] for row in rows)
    assert [json.loads(row[7]) for row in rows] == [list(r.reasons) for r in recs]
    assert rows[0][6].startswith('{"text":') and '"reach":NaN' in rows[0][6]


def test_numpy_writes_floats_as_python_does() -> None:
    values = np.r_[np.random.default_rng(5).random(2000), np.round(np.random.default_rng(6).random(2000), 4),
                   [1e-05, 1e-4, 1e16, 1.5e16, -0.0, 5e-324, 100.0, 0.1, 2.5, 1e22, 9.999999999999999e-05]]
    assert values.astype(str).tolist() == [repr(v) for v in values.tolist()]


def _stored_rows(session: Session, run_id: int) -> list[tuple[object, ...]]:
    rows = session.connection().exec_driver_sql(
        f"SELECT {', '.join(_REC_COLUMNS)} FROM recommendation WHERE run_id = {int(run_id)} "
        "ORDER BY demand_id, organization_id").all()
    # JSON as text on SQLite, parsed by the driver on PostgreSQL: compared parsed.
    return [(*r[:6], *(json.loads(v) if isinstance(v, str) else v for v in r[6:])) for r in rows]


def test_a_run_stores_exactly_the_rows_the_engine_explains(world: World, shared_matcher: Matcher,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small batches, so that on SQLite each is staged while the one before is moved in."""
    monkeypatch.setattr(engine_module, "SINK_CHUNK", 2)
    with Session(world.engine) as session:
        run = run_rematch(session, shared_matcher)
        session.commit()
        assert run.id is not None
        stored = _stored_rows(session, run.id)
        expected: list[tuple[object, ...]] = []
        shared_matcher.match(load_organizations(session), load_demands(session)[0],
                             **learning_inputs(session).keyed(),
                             sink=lambda batch: expected.extend(batch_rows(run.id, batch)))  # type: ignore[arg-type]
    assert run.n_recommendations == len(stored) > 2 * 4
    assert stored == sorted(((*r[:6], json.loads(r[6]), json.loads(r[7])) for r in expected),
                            key=lambda r: (r[1], r[2]))


def test_a_write_that_fails_beside_the_engine_fails_the_run_and_writes_nothing(
        world: World, shared_matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database refuses a row of a batch halfway through the run, in the writer's thread (SQLite:
    the move from the stage; PostgreSQL: the COPY): the run ends failed with the database's reason,
    none of its rows kept, the latest lists untouched, and the next run goes on."""
    monkeypatch.setattr(engine_module, "SINK_CHUNK", 2)
    with Session(world.engine) as session:
        before = latest_run(session)
        assert before is not None and before.id is not None
        before_id = before.id
        kept = _stored_rows(session, before_id)
        refused = int(kept[len(kept) // 2][1])  # type: ignore[call-overload]  # a demand halfway down the rows
        if world.engine.dialect.name == "sqlite":
            session.connection().exec_driver_sql(
                f"CREATE TRIGGER full_disk BEFORE INSERT ON recommendation WHEN NEW.demand_id = {refused} "
                f"AND NEW.run_id > {before_id} BEGIN SELECT RAISE(ABORT, 'full_disk'); END")
        else:  # a check holds whatever the triggers' setting (the COPY may run without them)
            session.connection().exec_driver_sql(
                f"ALTER TABLE recommendation ADD CONSTRAINT full_disk CHECK (demand_id <> {refused}) NOT VALID")
        session.commit()
    with Session(world.engine) as session, pytest.raises(Exception, match="full_disk"):
        run_rematch(session, shared_matcher)
    with Session(world.engine) as session:
        last = session.exec(select(MatchRun).order_by(col(MatchRun.id).desc())).first()
        assert last is not None and last.status == "failed" and "full_disk" in (last.error or "")
        assert _stored_rows(session, last.id) == []  # type: ignore[arg-type]
        assert latest_run(session).id == before_id  # type: ignore[union-attr]
        assert _stored_rows(session, before_id) == kept
        session.connection().exec_driver_sql("DROP TRIGGER full_disk" if world.engine.dialect.name == "sqlite"
                                             else "ALTER TABLE recommendation DROP CONSTRAINT full_disk")
        session.commit()
    with Session(world.engine) as session:  # the connection's stage is gone with the failure: runs go on
        assert run_rematch(session, shared_matcher).status == "done"
        session.commit()
