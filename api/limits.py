"""Request limits in front of the application: body size, and rates of logins and uploads per
client address. Pure ASGI, so a refused request never reaches a route or the database."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape

UPLOAD_PATHS = ("/staff/upload", "/api/v1/uploads/")
LOGIN_PATHS = ("/login", "/api/v1/auth/token")
BODY_METHODS = {"POST", "PUT", "PATCH"}


async def _refuse(scope, send, status: int, code: str, message: str,  # type: ignore[no-untyped-def]
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """The application's error shape: JSON for the API, a short Chinese page otherwise."""
    if scope["path"].startswith("/api/"):
        body = json.dumps({"error": {"code": code, "message": message, "details": []}}, ensure_ascii=False).encode()
        ctype = b"application/json"
    else:
        body = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>请求未被受理</title>'
                f"<p>{escape(message)}</p><p><a href=\"/\">返回首页</a></p></html>").encode()
        ctype = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse a body larger than allowed before reading it (413), and one of unstated length (411):
    every browser and HTTP library states it, and a stated length is what h11 then enforces."""

    def __init__(self, app, *, max_body: int, max_upload: int) -> None:  # type: ignore[no-untyped-def]
        self.app, self.max_body, self.max_upload = app, max_body, max_upload

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        limit = self.max_upload if scope["path"].startswith(UPLOAD_PATHS) else self.max_body
        length = headers.get(b"content-length")
        if length is None:
            if headers.get(b"transfer-encoding"):
                await _refuse(scope, send, 411, "length_required", "请求须注明长度（Content-Length）")
                return
        elif not length.isdigit() or int(length) > limit:
            mb = limit / 2**20
            size = f"{mb:.0f} MB" if mb >= 1 else f"{limit // 1024} KB"
            await _refuse(scope, send, 413, "too_large", f"请求内容过大：不能超过{size}")
            return
        await self.app(scope, receive, send)


@dataclass
class Rule:
    bucket: str
    paths: tuple[str, ...]
    per_minute: int


class RateLimit:
    """At most N requests a minute per client address and kind (login, upload); the clock is
    injected, so tests move time instead of sleeping. Per process: with several workers each
    counts its own, which still bounds guessing to N × workers a minute."""

    WINDOW_S = 60.0

    def __init__(self, app, *, rules: list[Rule], clock: Callable[[], datetime]) -> None:  # type: ignore[no-untyped-def]
        self.app, self.rules, self.clock = app, [r for r in rules if r.per_minute > 0], clock
        self.hits: dict[tuple[str, str], deque[float]] = {}

    def _rule(self, scope) -> Rule | None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path = scope["path"]
        return next((r for r in self.rules if any(path == p or (p.endswith("/") and path.startswith(p))
                                                  for p in r.paths)), None)

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        rule = self._rule(scope)
        if rule is None:
            await self.app(scope, receive, send)
            return
        now = self.clock().timestamp()
        client = scope.get("client")
        key = (rule.bucket, client[0] if client else "")
        hits = self.hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.WINDOW_S:
            hits.popleft()
        if len(hits) >= rule.per_minute:
            wait = max(1, int(hits[0] + self.WINDOW_S - now) + 1)
            await _refuse(scope, send, 429, "rate_limited", f"操作过于频繁，请{wait}秒后再试",
                          [(b"retry-after", str(wait).encode())])
            return
        hits.append(now)
        if len(self.hits) > 50_000:  # forget idle addresses rather than grow without bound
            self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > now - self.WINDOW_S}
        await self.app(scope, receive, send)
