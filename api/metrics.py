"""Prometheus metrics at /metrics: request latency by route (this worker's), and what the database
says of match runs, mail, jobs and 需复核 (the same from every worker, read at each scrape).

Readable from the machine itself, or with ``Authorization: Bearer <DUIJIE_METRICS_TOKEN>``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import Response

from api.errors import Forbidden
from models import JobRun, MatchRun, OutboxMessage, ReviewFlag

LOCAL = frozenset({"127.0.0.1", "::1", "localhost"})
BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestTimer:
    """ASGI middleware: each request's duration, by method, route template and status class."""

    def __init__(self, app: Any, histogram: Histogram) -> None:
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "other")  # the template, never the values in it
            self.histogram.labels(scope["method"], route, f"{status // 100}xx").observe(
                time.perf_counter() - started)


class DatabaseCollector(Collector):
    """Gauges read from the database at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with Session(self.engine) as session:
            runs = GaugeMetricFamily("duijie_match_runs", "Match runs by status", labels=["status"])
            for status, n in session.exec(select(MatchRun.status, func.count()).group_by(MatchRun.status)).all():
                runs.add_metric([status], n)
            yield runs
            latest = session.exec(select(MatchRun).where(MatchRun.status == "done")
                                  .order_by(col(MatchRun.id).desc())).first()
            if latest is not None:
                for name, doc, value in (
                        ("duijie_match_run_id", "The latest done match run", latest.id),
                        ("duijie_match_run_duration_seconds", "Its duration", latest.duration_s),
                        ("duijie_match_run_recommendations", "Its recommendations", latest.n_recommendations),
                        ("duijie_match_run_coverage", "Share of its open demands with a candidate", latest.coverage),
                        ("duijie_match_run_demands_without_candidates", "Its coverage gaps",
                         latest.demands_without_candidates)):
                    yield GaugeMetricFamily(name, doc, value=float(value or 0))
                stages = GaugeMetricFamily("duijie_match_run_stage_seconds", "Its stages", labels=["stage"])
                for stage, seconds in (latest.timings or {}).items():
                    stages.add_metric([stage], float(seconds))
                yield stages
            outbox = GaugeMetricFamily("duijie_outbox_messages", "Mail in the outbox by status", labels=["status"])
            for status, n in session.exec(select(OutboxMessage.status, func.count())
                                          .group_by(OutboxMessage.status)).all():
                outbox.add_metric([status], n)
            yield outbox
            jobs = GaugeMetricFamily("duijie_job_runs", "Scheduled job runs by job and status",
                                     labels=["job", "status"])
            for job, status, n in session.exec(select(JobRun.job, JobRun.status, func.count())
                                               .group_by(JobRun.job, JobRun.status)).all():
                jobs.add_metric([job, status], n)
            yield jobs
            flags = GaugeMetricFamily("duijie_review_flags_open", "需复核 items waiting, by kind", labels=["kind"])
            for kind, n in session.exec(select(ReviewFlag.kind, func.count()).where(ReviewFlag.status == "open")
                                        .group_by(ReviewFlag.kind)).all():
                flags.add_metric([kind], n)
            yield flags


def registry_for(engine: Engine) -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    histogram = Histogram("duijie_http_request_duration_seconds", "Requests by method, route and status class",
                          ["method", "route", "status"], buckets=BUCKETS, registry=registry)
    registry.register(DatabaseCollector(engine))
    return registry, histogram


def metrics_response(request: Request, registry: CollectorRegistry, token: str | None) -> Response:
    host = request.client.host if request.client else ""
    sent = request.headers.get("authorization", "")
    allowed = host in LOCAL or (token is not None and secrets.compare_digest(sent, f"Bearer {token}"))
    if not allowed:
        raise Forbidden("监控指标只对本机或持有令牌（DUIJIE_METRICS_TOKEN）的请求开放")
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
