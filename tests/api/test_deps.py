"""The request's unit of work: committed when it succeeds, and many requests at once never stall."""

from __future__ import annotations

import asyncio
import gc
import threading

import httpx
from sqlmodel import Session, select

from api.app import create_app, settle
from models import Demand
from tests.world import PASSWORD, World


def test_a_request_that_writes_is_committed_and_a_refused_one_changes_nothing(world: World) -> None:
    client = world.client()
    admin = world.token("admin")
    r = client.post("/api/v1/demands/WQ-1/close?county=222424", headers=admin)
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/demands/NO-SUCH/close", headers=admin)
    assert r.status_code == 404
    with Session(world.engine) as session:
        statuses = {d.ref: d.status for d in session.exec(select(Demand))}
    assert statuses["WQ-1"] == "closed" and statuses["WQ-2"] == "open"


def test_a_write_is_committed_before_its_response_starts(world: World) -> None:
    """A client told of a change can read it back at once: the unit of work ends when the
    endpoint returns, not after the response (FastAPI's default for a dependency with yield)."""
    token = world.token("admin")["Authorization"].encode()
    seen: list[str] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            seen.append(str(message["status"]))
            with Session(world.engine) as other:  # another connection, as the client's next request
                seen.append(other.exec(select(Demand.status).where(Demand.ref == "WQ-1")).one())

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/v1/demands/WQ-1/close", "raw_path": b"/api/v1/demands/WQ-1/close",
             "query_string": b"county=222424", "root_path": "", "client": ("127.0.0.1", 1), "server": ("test", 80),
             "headers": [(b"host", b"test"), (b"authorization", token), (b"content-length", b"0")]}
    asyncio.run(world.app(scope, receive, send))  # type: ignore[operator]
    assert seen == ["200", "closed"]


def test_more_requests_at_once_than_pooled_connections_all_finish(world: World) -> None:
    """Each request takes its connection in a worker thread, never on the event loop: a loop
    waiting for a connection held by a request that needs the loop to finish would wait for ever
    (a dependency made async around a database read did exactly that). Both ways of reaching the
    database at once: the dependencies' (the organization) and one hop's (its recommendations)."""
    pool_size = world.engine.pool.size() + world.engine.pool._max_overflow  # type: ignore[attr-defined]
    code = world.codes["A"]

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=world.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            calls = [client.get(f"/api/v1/organizations/{code}{'/recommendations' if i % 2 else ''}",
                                headers=headers)
                     for i in range(pool_size * 3)]
            return [r.status_code for r in await asyncio.gather(*calls)]

    statuses: list[int] = []
    # In a thread of its own: a stalled loop blocks in the pool, where no asyncio timeout reaches it.
    runner = threading.Thread(target=lambda: statuses.extend(asyncio.run(burst())), daemon=True)
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive(), "the requests stalled"
    assert statuses == [200] * (pool_size * 3)


def test_a_served_app_builds_its_matcher_first_and_leaves_what_it_built_out_of_the_collectors_scans(
        world: World) -> None:
    settings = world.app.state.settings  # type: ignore[attr-defined]
    try:
        before = gc.get_freeze_count()
        app = create_app(settings, settle_heap=True)
        # Before it serves: not on a first demand edit, holding every request of the worker.
        assert app.state.matcher.cache_info().currsize == 1
        assert gc.get_freeze_count() > before
        frozen = gc.get_freeze_count()
        settle()  # again: what is alive now joins them; nothing frozen is lost
        assert gc.get_freeze_count() >= frozen
        app.state.engine.dispose()
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
