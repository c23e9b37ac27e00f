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


def _one_answer_then_close(answers: int) -> tuple[socket.socket, list[int]]:
    """A server that answers ``answers`` GETs on each connection, then closes it unanswered, as a
    server's keep-alive timeout does; it counts the connections it accepted."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            accepted.append(1)
            with conn:
                for _ in range(answers):
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                    data += chunk

    threading.Thread(target=serve, daemon=True).start()
    return sock, accepted


def test_a_get_on_a_connection_the_server_closed_while_idle_goes_again_on_a_new_one() -> None:
    sock, accepted = _one_answer_then_close(1)

    async def two() -> list[int]:
        conn = Connection("127.0.0.1", sock.getsockname()[1])
        try:
            return [await conn.get("/", {}), await conn.get("/", {})]
        finally:
            await conn.close()

    try:
        assert asyncio.run(two()) == [200, 200]
        assert len(accepted) == 2
    finally:
        sock.close()


def test_a_new_connection_closed_unanswered_is_an_error() -> None:
    sock, accepted = _one_answer_then_close(0)

    async def one() -> int:
        conn = Connection("127.0.0.1", sock.getsockname()[1])
        try:
            return await conn.get("/", {})
        finally:
            await conn.close()

    try:
        with pytest.raises(asyncio.IncompleteReadError):
            asyncio.run(one())
        assert len(accepted) == 1  # not sent again
    finally:
        sock.close()
