"""Accounts as a provincial system needs them: password rules, a forced change of initial
passwords, lockout and idle timeout for every role, and accounts an administrator disables."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app as cli
from api.services import auth
from models import AuditEvent, User
from tests.world import PASSWORD, World, page_csrf

ROLES = ["admin", "yanbian", "wangqing", "orga"]  # province, city, county, organization


def change(world: World, username: str, old: str, new: str):  # type: ignore[no-untyped-def]
    return world.client().post("/api/v1/me/password", headers=world.token(username),
                               json={"old_password": old, "new_password": new})


@pytest.mark.parametrize(("password", "message"), [
    ("short-1", "密码至少10位"),
    ("my-wangqing-pass", "密码不能包含用户名"),
    ("woaini1314", "密码过于常见或简单"),
    ("Password123", "密码过于常见或简单"),
    ("aaaaaaaaaaaa", "密码过于常见或简单"),
])
def test_password_rules(password: str, message: str) -> None:
    with pytest.raises(auth.InvalidInput) as err:
        auth.check_password_rules(password, "wangqing")
    assert message in err.value.message
    auth.check_password_rules("春天的延边有金达莱2026", "wangqing")  # long and personal is fine


def test_the_rules_are_configurable() -> None:
    strict = auth.AccountPolicy(min_length=16)
    with pytest.raises(auth.InvalidInput, match="密码至少16位"):
        auth.check_password_rules("river-stone-26", "x", strict)
    auth.check_password_rules("river-stone-26", "x", auth.AccountPolicy(min_length=12))


def test_password_change_checks_the_old_one_and_the_rules(world: World) -> None:
    assert change(world, "wangqing", "not-my-password", "tumen-river-2026").status_code == 422
    r = change(world, "wangqing", PASSWORD, "1234567890")
    assert r.status_code == 422 and "过于常见" in r.json()["error"]["message"]
    assert change(world, "wangqing", PASSWORD, PASSWORD).json()["error"]["message"] == "新密码不能与原密码相同"
    assert change(world, "wangqing", PASSWORD, "tumen-river-2026").status_code == 200
    client = world.client()
    assert client.post("/api/v1/auth/token", data={"username": "wangqing", "password": PASSWORD}).status_code == 401
    assert client.post("/api/v1/auth/token", data={"username": "wangqing",
                                                    "password": "tumen-river-2026"}).status_code == 200
    with Session(world.engine) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "password_change")).one().username \
            == "wangqing"


def test_an_initial_password_must_be_changed_first(world: World, cli_env: str) -> None:
    result = CliRunner().invoke(cli, ["user", "reset-password", "orga"], catch_exceptions=False)
    assert result.exit_code == 0
    with Session(world.engine) as session:
        user = session.exec(select(User).where(User.username == "orga")).one()
        assert user.must_change_password
    initial = result.output.split("新初始密码：")[1].split("（")[0]
    client = world.client()
    token = client.post("/api/v1/auth/token", data={"username": "orga", "password": initial}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    r = client.get(f"/api/v1/organizations/{world.codes['A']}/recommendations", headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "password_change_required"
    assert client.get("/api/v1/me", headers=h).status_code == 200
    # The web pages send the account to the change form, and nowhere else, until it is done.
    web = world.client()
    csrf = page_csrf(web.get("/login").text)
    r = web.post("/login", data={"username": "orga", "password": initial, "csrf_token": csrf}, follow_redirects=False)
    assert r.headers["location"] == "/account/password"
    assert web.get("/org", follow_redirects=False).headers["location"] == "/account/password"
    page = web.get("/account/password")
    r = web.post("/account/password", data={"old_password": initial, "new_password": "baishan-snow-77",
                                            "confirm": "baishan-snow-78", "csrf_token": page_csrf(page.text)})
    assert r.status_code == 422 and "两次输入的新密码不一致" in r.text
    r = web.post("/account/password", data={"old_password": initial, "new_password": "baishan-snow-77",
                                            "confirm": "baishan-snow-77", "csrf_token": page_csrf(page.text)},
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/org"
    assert web.get("/org").status_code == 200
    assert client.get(f"/api/v1/organizations/{world.codes['A']}/recommendations", headers=h).status_code == 200


@pytest.mark.parametrize("username", ROLES)
def test_lockout_for_every_role_follows_the_settings(world: World, username: str) -> None:
    settings = world.app.state.settings  # type: ignore[attr-defined]
    settings.max_failed_logins, settings.lockout_minutes = 3, 10
    client = world.client()
    for _ in range(3):
        assert client.post("/api/v1/auth/token", data={"username": username, "password": "nope-nope-nope"}
                           ).status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["message"] == "登录失败次数过多，请10分钟后再试"
    web = world.client()
    r = web.post("/login", data={"username": username, "password": PASSWORD,
                                 "csrf_token": page_csrf(web.get("/login").text)})
    assert r.status_code == 429 and "登录失败次数过多" in r.text  # the web form is locked too
    world.clock.advance(minutes=10, seconds=1)
    assert client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD}).status_code == 200


@pytest.mark.parametrize("username", ROLES)
def test_idle_timeout_for_every_role(world: World, username: str) -> None:
    web = world.web_login(username)
    home = "/org" if username == "orga" else "/staff/queue"
    world.clock.advance(minutes=29)
    assert web.get(home, follow_redirects=False).status_code == 200  # activity keeps it alive
    world.clock.advance(minutes=29)
    assert web.get(home, follow_redirects=False).status_code == 200
    world.clock.advance(minutes=31)
    r = web.get(home, follow_redirects=False)
    assert r.status_code == 303 and "/login?next=" in r.headers["location"]


def test_an_administrator_disables_an_account_and_its_access_ends_at_once(world: World) -> None:
    client = world.client()
    token = world.token("orga")
    web = world.web_login("orga")
    assert client.post("/api/v1/users/orga/disable", headers=world.token("yanbian")).status_code == 403
    assert client.post("/api/v1/users/admin/disable", headers=world.token("admin")).status_code == 409
    r = client.post("/api/v1/users/orga/disable", headers=world.token("admin"))
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=token).status_code == 401  # the token died with the account
    assert web.get("/org", follow_redirects=False).status_code == 303  # so did the web session
    r = client.post("/api/v1/auth/token", data={"username": "orga", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["message"] == "账号已停用，请联系管理员"
    assert client.post("/api/v1/users/orga/enable", headers=world.token("admin")).status_code == 200
    assert client.get("/api/v1/me", headers=world.token("orga")).status_code == 200
    with Session(world.engine) as session:
        actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.target == "orga")).all()]
    assert actions == ["account_disable", "account_enable"]
