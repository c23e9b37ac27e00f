"""The API's recommendation lists are read in one statement each (``listing_for_*``); they must say
exactly what the records' own views say (``recommendations_for_*``, which pages, mails and the CLI
use), with each pair's pairing status, from the latest run that finished."""

from __future__ import annotations

from sqlmodel import Session, select

from api.db import session_scope
from api.services import partitions
from api.services.listings import (
    listing_for_demand,
    listing_for_organization,
    recommendations_for_demand,
    recommendations_for_organization,
)
from api.services.runs import latest_run, run_rematch
from models import Demand, MatchRun, Organization, Pairing, Recommendation
from tests.world import World


def _statuses(session: Session) -> dict[tuple[int, int], str]:
    return {(p.demand_id, p.organization_id): p.status for p in session.exec(select(Pairing)).all()}


def test_listings_say_what_the_records_views_say(world: World) -> None:
    client, a = world.client(), world.codes["A"]
    assert client.post(f"/api/v1/organizations/{a}/interests", headers=world.token("orga"),
                       json={"demand_ref": "WQ-1"}).status_code == 201
    assert client.post("/api/v1/pairings/decisions", headers=world.token("admin"),
                       json={"demand_ref": "CC-1", "credit_code": a, "decision": "approve"}).status_code == 200
    with session_scope(world.engine) as session:
        run_rematch(session, world.app.state.matcher())  # type: ignore[attr-defined]
    with session_scope(world.engine) as session:
        done = latest_run(session)
        assert done is not None and done.id is not None
        # A later run that failed, with a row of its own: no list may show it.
        failed = MatchRun(status="failed", config_hash="x")
        session.add(failed)
        session.flush()
        partitions.ensure(session.connection(), failed.id)  # type: ignore[arg-type]
        org_a = session.exec(select(Organization).where(Organization.credit_code == a)).one()
        some_demand = session.exec(select(Demand)).first()
        assert org_a.id is not None and some_demand is not None and some_demand.id is not None
        session.add(Recommendation(run_id=failed.id, demand_id=some_demand.id, organization_id=org_a.id,
                                   demand_rank=1, organization_rank=1, score=99.0))

    with Session(world.engine) as session:
        statuses = _statuses(session)
        assert set(statuses.values()) == {"requested", "approved"}
        shown = 0
        for org in session.exec(select(Organization)).all():
            assert org.id is not None
            listing = listing_for_organization(session, org.id, top=100)
            assert listing.run_id == done.id
            expected = [(v.recommendation.organization_rank, v.demand.id, v.recommendation.score,
                         v.recommendation.signals, v.recommendation.reasons,
                         statuses.get((v.demand.id, org.id)))  # type: ignore[arg-type]
                        for v in recommendations_for_organization(session, org)]
            assert [(r.rank, r.id, r.score, r.signals, r.reasons, r.pairing_status) for r in listing.rows] == expected
            assert [r.ref for r in listing.rows] == [v.demand.ref for v in recommendations_for_organization(session, org)]
            assert len(listing_for_organization(session, org.id, top=2).rows) == min(2, len(expected))
            shown += sum(1 for r in listing.rows if r.pairing_status)
        for demand in session.exec(select(Demand)).all():
            assert demand.id is not None
            listing = listing_for_demand(session, demand.id, top=100)
            expected = [(v.recommendation.demand_rank, v.organization.id, v.recommendation.score,
                         v.recommendation.signals, v.recommendation.reasons,
                         statuses.get((demand.id, v.organization.id)))  # type: ignore[arg-type]
                        for v in recommendations_for_demand(session, demand)]
            assert [(r.rank, r.id, r.score, r.signals, r.reasons, r.pairing_status) for r in listing.rows] == expected
            assert [r.credit_code for r in listing.rows] == [v.organization.credit_code
                                                             for v in recommendations_for_demand(session, demand)]
        assert shown >= 1  # the pairings made above are on the lists, so their statuses were compared


def test_a_subject_without_a_list_still_names_the_run(world: World) -> None:
    with Session(world.engine) as session:
        run = latest_run(session)
        assert run is not None
        listing = listing_for_organization(session, 10**9, top=10)
        assert (listing.run_id, listing.rows) == (run.id, [])
        for done in session.exec(select(MatchRun)).all():
            session.delete(done)
        session.flush()
        assert listing_for_demand(session, 1, top=10).run_id is None
