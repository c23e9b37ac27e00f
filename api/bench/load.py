"""Concurrent load on the recommendations endpoints of a running server, on loopback.

    python -m api.bench.load --base http://127.0.0.1:8000 --user admin --password … \\
        --clients 50 --requests 3000 [--rate 200] [--rematch] [--httpx]

Picks real organizations and demands from the API itself, then reports p50, p99 and errors.
Bounded in count: it stops after --requests requests.

The timed requests go through a small HTTP/1.1 client of our own (one kept-alive connection per
client, asyncio streams): httpx spent ~2 ms of CPU on each request here, on the 2 cores the server
uses too, which was more than the server's framework itself (BENCHMARKS.md). ``--httpx`` times them
with httpx instead, to compare.

Without --rate the 50 clients send back to back (closed loop: the server is saturated, and by
Little's law the mean latency is clients / throughput). With --rate the requests arrive at that
many per second, at random (Poisson), at most --clients at a time, each timed from when it was due
(open loop: what a user sees at that load). --rematch starts a full re-match as the timed requests
begin (POST /api/v1/match-runs, beside them) and reports how long that took and whether the run was
still running when the load ended.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx


class Connection:
    """One kept-alive HTTP/1.1 connection: a GET, and the status of a response with a stated length.
    After a failure the stream is in an unknown state, so it is closed and the next GET reconnects."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, headers: dict[str, str]) -> int:
        reused = self.streams is not None
        try:
            return await self._get(path, headers)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            # A kept-alive connection the server closed while it lay idle (uvicorn's keep-alive
            # timeout is 5 s): no byte of a response came, so the GET goes again on a new one, as
            # HTTP clients do (RFC 9112, 9.3.1). A fresh connection's failure is an error.
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            return await self._get(path, headers)

    async def _get(self, path: str, headers: dict[str, str]) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        try:
            lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{lines}\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *fields = head.decode("latin-1").split("\r\n")
            length = None
            for field in fields:
                name, _, value = field.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length is None:  # the server states every length; anything else would be misread here
                raise ValueError(f"response without Content-Length: {status_line}")
            await reader.readexactly(length)
            return int(status_line.split(" ", 2)[1])
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self.streams is not None:
            writer = self.streams[1]
            self.streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@dataclass
class LoadResult:
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    seconds: float

    def line(self) -> str:
        return (f"{self.requests} requests, {self.errors} errors, p50 {self.p50_ms:.1f} ms, "
                f"p99 {self.p99_ms:.1f} ms, mean {self.mean_ms:.1f} ms, {self.requests / self.seconds:.0f} req/s")


async def _targets(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[str]:
    paths: list[str] = []
    orgs = (await client.get("/api/v1/organizations?size=200", headers=headers)).json()["items"]
    demands = (await client.get("/api/v1/demands?size=200", headers=headers)).json()["items"]
    for o in orgs[:n]:
        paths.append(f"/api/v1/organizations/{o['credit_code']}/recommendations")
    for d in demands[:n]:
        paths.append(f"/api/v1/demands/{d['ref']}/recommendations?county={d['county_code']}")
    return paths


async def run_load(base: str, username: str, password: str, *, clients: int = 50, requests: int = 3000,
                   seed: int = 1, rate: float | None = None, rematch: bool = False,
                   use_httpx: bool = False, window: float = 0.0) -> LoadResult:
    url = urlparse(base)
    host = url.hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("load is only sent to loopback")
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        token = (await client.post("/api/v1/auth/token", data={"username": username, "password": password})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        paths = await _targets(client, headers, 100)
        rng = random.Random(seed)
        queue = [rng.choice(paths) for _ in range(requests)]
        latencies: list[float] = []
        timeline: list[tuple[float, float]] = []  # (due, latency), seconds from the start
        errors = 0
        idle: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(0 if use_httpx else clients):
            idle.put_nowait(Connection(host, url.port or 80))

        async def status_of(path: str) -> int:
            if use_httpx:
                return (await client.get(path, headers=headers)).status_code
            conn = await idle.get()
            try:
                return await conn.get(path, headers)
            finally:
                idle.put_nowait(conn)

        async def fetch(path: str, since: float) -> None:
            """One request, timed from ``since``; a failure or a status other than 200 is an error."""
            nonlocal errors
            try:
                ok = await status_of(path) == 200
            except (httpx.HTTPError, OSError, ValueError, asyncio.IncompleteReadError):
                ok = False
            latencies.append((time.perf_counter() - since) * 1000)
            timeline.append((since - started, latencies[-1]))
            errors += 0 if ok else 1

        async def worker() -> None:
            while queue:
                await fetch(queue.pop(), time.perf_counter())

        async def due(path: str, at: float, gate: asyncio.Semaphore) -> None:
            async with gate:
                await fetch(path, at)  # from when it was due: waiting for a free client counts

        async def start_rematch() -> tuple[int, float]:
            began = time.perf_counter()
            r = await client.post("/api/v1/match-runs", headers=headers)
            r.raise_for_status()
            return r.json()["id"], (time.perf_counter() - began) * 1000

        started = time.perf_counter()
        # Sent as the timed requests begin, beside them, as a staff member starts a run while others
        # browse: what the start itself costs the requests is in the figures too.
        starting = asyncio.create_task(start_rematch()) if rematch else None
        if rate is None:
            await asyncio.gather(*(worker() for _ in range(clients)))
        else:
            gate = asyncio.Semaphore(clients)
            tasks, at = [], started
            for path in queue:
                at += rng.expovariate(rate)
                if (wait := at - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)  # the load generator's schedule, not a test
                tasks.append(asyncio.create_task(due(path, at, gate)))
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        if starting is not None:
            run_id, start_ms = await starting
            status = (await client.get(f"/api/v1/match-runs/{run_id}", headers=headers)).json()["status"]
            print(f"re-match {run_id}: started in {start_ms:.0f} ms, {status} when the load ended")
        if window:
            _print_timeline(timeline, window)
        while not idle.empty():
            await idle.get_nowait().close()
    latencies.sort()
    return LoadResult(len(latencies), errors, statistics.median(latencies),
                      latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], statistics.fmean(latencies),
                      elapsed)


def _print_timeline(timeline: list[tuple[float, float]], window: float) -> None:
    """Requests by when they were due, ``window`` seconds at a time: when, in a re-match, the slow ones came."""
    buckets: dict[int, list[float]] = {}
    for due, ms in timeline:
        buckets.setdefault(int(due // window), []).append(ms)
    for k in sorted(buckets):
        ms = sorted(buckets[k])
        print(f"{k * window:6.1f} s  {len(ms):4d} requests  p50 {statistics.median(ms):6.1f}  "
              f"p99 {ms[min(len(ms) - 1, int(0.99 * len(ms)))]:6.1f}  max {ms[-1]:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="duijie-demo-2026")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=None, help="requests per second offered (open loop)")
    parser.add_argument("--rematch", action="store_true", help="start a full re-match first")
    parser.add_argument("--httpx", action="store_true", help="time the requests with httpx instead")
    parser.add_argument("--timeline", type=float, default=0.0, metavar="SECONDS",
                        help="also print p50, p99 and max for each window of that many seconds")
    args = parser.parse_args()
    print(asyncio.run(run_load(args.base, args.user, args.password, clients=args.clients, requests=args.requests,
                               rate=args.rate, rematch=args.rematch, use_httpx=args.httpx,
                               window=args.timeline)).line())


if __name__ == "__main__":
    main()
