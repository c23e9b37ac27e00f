"""/metrics scraped as Prometheus would: from the machine itself or with the token, with the series
an operator watches; and nobody else."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, col, select

from api.app import create_app
from api.settings import Settings
from models import MatchRun
from tests.world import World


def scrape(client: TestClient, **headers: str) -> dict[str, list]:  # type: ignore[type-arg]
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def value(samples: list, **labels: str) -> float:  # type: ignore[type-arg]
    return next(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


def test_the_machine_itself_reads_the_series_an_operator_watches(world: World) -> None:
    local = TestClient(world.app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    world.client().get("/api/v1/demands")  # a request for the latency histogram
    world.client().get("/api/v1/demands/WQ-1", params={"county": "汪清县"})
    families = scrape(local)
    with Session(world.engine) as session:
        run = session.exec(select(MatchRun).order_by(col(MatchRun.id).desc())).first()
    assert run is not None
    assert value(families["duijie_match_run_recommendations"]) == run.n_recommendations > 0
    assert value(families["duijie_match_run_coverage"]) == run.coverage
    assert value(families["duijie_match_runs"], status="done") == 1
    assert value(families["duijie_match_run_stage_seconds"], stage="tokenize") == run.timings["tokenize"]
    latency = families["duijie_http_request_duration_seconds"]
    # Routes by their template, never with the values in them.
    counts = [x for x in latency if x.name.endswith("_count")]
    assert value(counts, route="/api/v1/demands/{ref}", method="GET", status="2xx") == 1
    assert not any("WQ-1" in s.labels.get("route", "") for s in latency)
    assert {"duijie_outbox_messages", "duijie_job_runs", "duijie_review_flags_open"} <= set(families)


def test_others_need_the_token(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert world.client().get("/metrics").status_code == 403  # the test client is not this machine
    settings = Settings(database_url=world.app.state.settings.database_url, secret_key="k",  # type: ignore[attr-defined]
                        secret_file=str(tmp_path / "s"), metrics_token="scrape-me")
    app = TestClient(create_app(settings))
    assert app.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert "duijie_match_runs" in scrape(app, Authorization="Bearer scrape-me")
