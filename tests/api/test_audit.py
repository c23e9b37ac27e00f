"""The audit trail: every recorded action, who, when, from where; readable only by the province;
no way to change or delete it through the application."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from models import AuditEvent
from tests.factories import demand_row, write_csv
from tests.world import PASSWORD, World, page_csrf


def trail(world: World) -> list[tuple[str, str, str]]:
    with Session(world.engine) as session:
        return [(e.action, e.username, e.target) for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_every_recorded_action(world: World, tmp_path: Path) -> None:
    client, a = world.client(), world.codes["A"]
    assert client.post("/api/v1/auth/token", data={"username": "wangqing", "password": "wrong"}).status_code == 401
    h_staff, h_org = world.token("wangqing"), world.token("orga")
    client.post(f"/api/v1/organizations/{a}/interests", headers=h_org, json={"demand_ref": "WQ-1"})
    client.post(f"/api/v1/organizations/{a}/dismissals", headers=h_org, json={"demand_ref": "WQ-2"})
    client.post("/api/v1/pairings/decisions", headers=h_staff,
                json={"demand_ref": "WQ-1", "credit_code": a, "decision": "approve"})
    client.patch(f"/api/v1/organizations/{a}", headers=h_org, json={"funds": 8})
    client.post("/api/v1/demands", headers=h_staff, json={
        "ref": "WQ-8", "city": "延边州", "county": "汪清县", "title": "取暖", "description": "冬季取暖困难",
        "contact_name": "李", "contact_phone": "13704330099"})
    client.patch("/api/v1/demands/WQ-8", headers=h_staff, json={"beneficiaries": 3})
    client.post("/api/v1/demands/WQ-8/close", headers=h_staff)
    upload = write_csv(tmp_path / "d.csv", [demand_row(30, 需求编号="WQ-30")])
    with upload.open("rb") as f:
        client.post("/api/v1/uploads/demands", headers=h_staff, files={"file": ("d.csv", f)})
    bad = write_csv(tmp_path / "bad.csv", [demand_row(31, 联系电话="1")])
    with bad.open("rb") as f:
        client.post("/api/v1/uploads/demands", headers=h_staff, files={"file": ("bad.csv", f)})
    web = world.web_login("admin")
    web.get("/staff/audit?format=csv")
    actions = [(action, user) for action, user, _target in trail(world)]
    assert actions == [
        ("login_failure", "wangqing"), ("login_success", "wangqing"), ("login_success", "orga"),
        ("interest", "orga"), ("dismiss", "orga"), ("pairing_decision", "wangqing"), ("org_update", "orga"),
        ("demand_create", "wangqing"), ("demand_update", "wangqing"), ("demand_close", "wangqing"),
        ("upload", "wangqing"), ("upload", "wangqing"), ("login_success", "admin"), ("export", "admin"),
    ]
    with Session(world.engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert {e.ip for e in events} == {"testclient"}
    assert all(e.at == world.clock.now for e in events)
    assert events[5].detail == {"decision": "approved", "reason_code": None}
    assert events[11].detail["refused"] is True


def test_only_the_province_reads_it_and_nothing_changes_it(world: World) -> None:
    client = world.client()
    client.post("/api/v1/auth/token", data={"username": "orga", "password": PASSWORD})
    before = trail(world)
    admin = world.token("admin")
    listed = client.get("/api/v1/audit", headers=admin).json()
    assert [e["action"] for e in listed][:2] == ["login_success", "login_success"]
    assert client.get("/api/v1/audit", headers=world.token("yanbian")).status_code == 403
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.request(method, "/api/v1/audit", headers=admin).status_code == 405
        assert client.request(method, f"/api/v1/audit/{listed[0]['id']}", headers=admin).status_code in (404, 405)
    after = trail(world)
    assert after[:len(before)] == before  # nothing was changed or removed
    page = world.web_login("admin").get("/staff/audit?action=login_success")
    assert "登录成功" in page.text
    assert world.web_login("yanbian").get("/staff/audit").status_code == 403


def test_web_login_failure_and_decisions_are_recorded(world: World) -> None:
    client = world.client()
    csrf = page_csrf(client.get("/login").text)
    client.post("/login", data={"username": "nobody", "password": "x", "csrf_token": csrf})
    assert trail(world)[-1] == ("login_failure", "nobody", "web")


def test_project_and_account_actions_are_recorded(world: World) -> None:
    from models.audit import ACTION_LABELS

    client, a = world.client(), world.codes["A"]
    h_staff, h_org, h_admin = world.token("wangqing"), world.token("orga"), world.token("admin")
    client.post("/api/v1/pairings/decisions", headers=h_staff,
                json={"demand_ref": "WQ-1", "credit_code": a, "decision": "approve"})
    pid = client.get("/api/v1/projects", headers=h_staff).json()[0]["id"]
    client.patch(f"/api/v1/projects/{pid}", headers=h_org, json={"planned_funds": 3})
    rid = client.post(f"/api/v1/projects/{pid}/progress", headers=h_org, json={
        "report_date": "2026-11-29", "status": "已完成", "funds_in": 1, "beneficiaries": 9}).json()["id"]
    client.patch(f"/api/v1/progress/{rid}", headers=h_staff, json={"beneficiaries": 19, "reason": "补录"})
    client.post(f"/api/v1/projects/{pid}/village-confirmation", headers=h_staff, json={"rating": 4})
    client.post(f"/api/v1/projects/{pid}/case", headers=h_staff, json={"story": "义诊进村，老人在家门口看上了病。" * 2})
    client.get("/api/v1/reports/results", headers=h_staff, params={"period": "2026H2"})
    client.post("/api/v1/me/password", headers=h_org, json={"old_password": PASSWORD, "new_password": "songhua-jiang-9"})
    client.post("/api/v1/users/orgb/disable", headers=h_admin)
    client.post("/api/v1/users/orgb/enable", headers=h_admin)
    recorded = [(action, user) for action, user, _t in trail(world) if not action.startswith("login")]
    assert recorded == [
        ("pairing_decision", "wangqing"), ("project_plan", "orga"), ("project_progress", "orga"),
        ("project_correct", "wangqing"), ("village_confirm", "wangqing"), ("project_case", "wangqing"),
        ("export", "wangqing"), ("password_change", "orga"), ("account_disable", "admin"),
        ("account_enable", "admin"),
    ]
    assert {action for action, _ in recorded} <= set(ACTION_LABELS)  # every action has its Chinese label
