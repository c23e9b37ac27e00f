"""The load generator's own HTTP client, against the application served by uvicorn on loopback:
every request of a run is counted and timed, a refusal counts as an error, and a connection
goes on serving requests after one."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn

from api.bench.load import Connection, run_load
from tests.world import PASSWORD, World


@pytest.fixture
def served(world: World) -> Iterator[str]:
    # Bound and listening before the server starts: a client's connection waits in the backlog.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(world.app, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_a_run_counts_every_request_and_every_one_succeeds(served: str) -> None:
    result = asyncio.run(run_load(served, "admin", PASSWORD, clients=4, requests=40))
    assert (result.requests, result.errors) == (40, 0)
    assert 0 < result.p50_ms <= result.p99_ms


def test_a_refused_request_is_an_error_and_the_connection_serves_on(served: str, world: World) -> None:
    port = int(served.rsplit(":", 1)[1])
    headers = world.token("admin")

    async def three() -> list[int]:
        conn = Connection("127.0.0.1", port)
        try:
            return [await conn.get("/api/v1/me", headers), await conn.get("/api/v1/me", {}),
                    await conn.get("/api/v1/demands/NO-SUCH/recommendations", headers)]
        finally:
            await conn.close()

    assert asyncio.run(three()) == [200, 401, 404]
