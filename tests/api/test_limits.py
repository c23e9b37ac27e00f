"""Limits in front of the application: body sizes, login and upload rates, security headers."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.world import PASSWORD, World, page_csrf


def app_with(world: World, db_url: str, tmp_path: Path, **limits: int) -> TestClient:
    settings = Settings(database_url=db_url, secret_key="test-secret-key", secret_file=str(tmp_path / "s2"),
                        **limits)
    return TestClient(create_app(settings, clock=world.clock, matcher=world.app.state.matcher()))  # type: ignore[attr-defined]


def test_logins_per_address_are_limited_then_allowed_again(world: World, db_url: str, tmp_path: Path) -> None:
    client = app_with(world, db_url, tmp_path, login_rate_per_minute=3, upload_rate_per_minute=0)
    for _ in range(3):
        assert client.post("/api/v1/auth/token", data={"username": "admin", "password": "wrong-guess-x"}
                           ).status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["error"] == {"code": "rate_limited", "message": "操作过于频繁，请61秒后再试", "details": []}
    assert r.headers["retry-after"] == "61"
    assert r.headers["x-frame-options"] == "DENY"  # refusals carry the security headers too
    page = client.get("/login")  # reading the form is not limited
    assert page.status_code == 200
    r = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": page_csrf(page.text)})
    assert r.status_code == 429 and "操作过于频繁" in r.text  # the web form shares the bucket
    world.clock.advance(seconds=61)
    assert client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).status_code == 200


def test_uploads_per_address_are_limited(world: World, db_url: str, tmp_path: Path) -> None:
    client = app_with(world, db_url, tmp_path, login_rate_per_minute=0, upload_rate_per_minute=2)
    token = client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    statuses = [client.post("/api/v1/uploads/demands", headers=h,
                            files={"file": ("d.csv", "需求编号,市（州）\n".encode(), "text/csv")}).status_code
                for _ in range(3)]
    assert statuses[:2] == [422, 422] and statuses[2] == 429


def test_bodies_over_the_limit_are_refused_unread(world: World, db_url: str, tmp_path: Path) -> None:
    client = app_with(world, db_url, tmp_path, max_body_kb=1, max_upload_mb=1, login_rate_per_minute=0)
    token = client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    r = client.post("/api/v1/demands", headers=h, content=b'{"title": "' + b"x" * 2000 + b'"}')
    assert r.status_code == 413 and r.json()["error"]["message"] == "请求内容过大：不能超过1 KB"
    big = b"a" * (2 * 2**20)
    r = client.post("/api/v1/uploads/demands", headers={"Authorization": h["Authorization"]},
                    files={"file": ("d.csv", big, "text/csv")})
    assert r.status_code == 413 and r.json()["error"]["message"] == "请求内容过大：不能超过1 MB"
    r = client.post("/api/v1/demands", headers=h, content=(chunk for chunk in [b"{", b"}"]))  # chunked, no length
    assert r.status_code == 411 and "Content-Length" in r.json()["error"]["message"]
    assert client.post("/api/v1/demands", headers=h, content=b"{}").status_code == 422  # small bodies pass


def test_security_headers_and_hsts_only_over_https(world: World) -> None:
    r = world.client().get("/")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in r.headers
    secure = TestClient(world.app, base_url="https://testserver")  # type: ignore[arg-type]
    assert secure.get("/").headers["strict-transport-security"] == "max-age=31536000"
