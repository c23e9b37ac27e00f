"""Assistance projects end to end: an approval opens one, the organization reports, staff
correct with a trail, the village confirms through its link, silence makes it overdue, and a
finished one can become a public 典型案例."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from api.services import projects
from api.services.runs import run_rematch
from models import AuditEvent, Project, ProjectChange
from tests.world import World, page_csrf


def approve(world: World, ref: str = "WQ-1", org: str = "A", staff: str = "wangqing") -> int:
    r = world.client().post("/api/v1/pairings/decisions", headers=world.token(staff),
                            json={"demand_ref": ref, "credit_code": world.codes[org], "decision": "approve"})
    assert r.status_code == 200, r.text
    listed = world.client().get("/api/v1/projects", headers=world.token(staff)).json()
    return next(p["id"] for p in listed if p["demand_ref"] == ref)


def start_earlier(world: World, project_id: int, day: str, org_user: str = "orga") -> None:
    r = world.client().patch(f"/api/v1/projects/{project_id}", headers=world.token(org_user),
                             json={"start_date": day, "planned_funds": 8, "planned_beneficiaries": 120})
    assert r.status_code == 200, r.text


def report(world: World, project_id: int, user: str = "orga", **body: object):  # type: ignore[no-untyped-def]
    payload = {"report_date": "2026-11-20", "status": "实施中", "funds_in": 1.5, "beneficiaries": 30, "note": "义诊一次"}
    return world.client().post(f"/api/v1/projects/{project_id}/progress", headers=world.token(user),
                               json={**payload, **body})


def test_an_approval_opens_one_project_with_the_demand_s_place_and_action(world: World) -> None:
    pid = approve(world)
    again = world.client().post("/api/v1/pairings/decisions", headers=world.token("wangqing"),
                                json={"demand_ref": "WQ-1", "credit_code": world.codes["A"], "decision": "approve"})
    assert again.status_code == 200
    mine = world.client().get("/api/v1/projects", headers=world.token("orga")).json()
    assert [(p["id"], p["county"], p["action"], p["status_label"], p["start_date"]) for p in mine] == [
        (pid, "汪清县", "医护康养", "未启动", "2026-11-29")]
    # Staff of another county see nothing of it; the other organization neither.
    assert world.client().get("/api/v1/projects", headers=world.token("yanji")).json() == []
    assert world.client().get(f"/api/v1/projects/{pid}", headers=world.token("yanji")).status_code == 403
    assert world.client().get(f"/api/v1/projects/{pid}", headers=world.token("orgb")).status_code == 403
    assert world.client().get(f"/api/v1/projects/{pid}").status_code == 401
    # An approved pairing with a project cannot be rejected behind its back.
    r = world.client().post("/api/v1/pairings/decisions", headers=world.token("wangqing"),
                            json={"demand_ref": "WQ-1", "credit_code": world.codes["A"], "decision": "reject",
                                  "reason_code": "other"})
    assert r.status_code == 409
    assert "已立项" in r.json()["error"]["message"]


def test_progress_reports_add_up_and_bad_ones_are_refused_in_chinese(world: World) -> None:
    pid = approve(world)
    start_earlier(world, pid, "2026-06-01")
    assert report(world, pid, report_date="2026-07-01", funds_in=2, beneficiaries=20).status_code == 201
    assert report(world, pid, report_date="2026-09-01", funds_in=1.25, beneficiaries=55).status_code == 201
    p = world.client().get(f"/api/v1/projects/{pid}", headers=world.token("orga")).json()
    assert (p["funds_in"], p["beneficiaries"], p["status"], p["last_report_date"], p["reports_count"]) == (
        3.25, 55, "in_progress", "2026-09-01", 2)
    assert [r["report_date"] for r in p["reports"]] == ["2026-09-01", "2026-07-01"]
    refused = {
        "报告日期不能晚于今天": {"report_date": "2026-12-01"},
        "报告日期不能早于项目开始日期2026-06-01": {"report_date": "2026-05-01"},
        "项目状态应为": {"status": "进行中吧"},
    }
    for message, body in refused.items():
        r = report(world, pid, **body)
        assert r.status_code == 422, r.text
        assert message in r.json()["error"]["message"]
    assert report(world, pid, funds_in=-1).status_code == 422  # the schema's bound
    assert report(world, pid, user="wangqing").status_code == 403  # staff correct, they do not report
    assert report(world, pid, user="orgb").status_code == 403
    with Session(world.engine) as session:
        assert session.get(Project, pid).reports_count == 2  # type: ignore[union-attr]
    # Finished is finished: further reports go through staff.
    assert report(world, pid, status="已完成", report_date="2026-11-01").status_code == 201
    r = report(world, pid)
    assert r.status_code == 409
    assert r.json()["error"]["message"] == "项目状态为“已完成”，不能再报告进展；如需更正请联系民政工作人员"


def test_staff_corrections_keep_the_old_value_who_and_why(world: World) -> None:
    pid = approve(world)
    start_earlier(world, pid, "2026-06-01")
    rid = report(world, pid, report_date="2026-07-01", funds_in=20, beneficiaries=30).json()["id"]
    h = world.token("wangqing")
    assert world.client().patch(f"/api/v1/progress/{rid}", headers=h, json={"funds_in": 2.0}).status_code == 422
    r = world.client().patch(f"/api/v1/progress/{rid}", headers=h,
                             json={"funds_in": 2.0, "reason": "组织误将元填为万元"})
    assert r.status_code == 200, r.text
    assert (r.json()["funds_in"], r.json()["corrected"]) == (2.0, True)
    detail = world.client().get(f"/api/v1/projects/{pid}", headers=h).json()
    assert detail["funds_in"] == 2.0  # the project's totals follow the corrected report
    assert [(c["field"], c["old"], c["new"], c["reason"], c["who"]) for c in detail["changes"]
            if c["field"] == "本次投入（万元）"] == [("本次投入（万元）", "20.0", "2.0", "组织误将元填为万元", "wangqing")]
    assert world.client().patch(f"/api/v1/progress/{rid}", headers=world.token("orga"),
                                json={"funds_in": 3, "reason": "x"}).status_code == 403
    assert world.client().patch(f"/api/v1/progress/{rid}", headers=world.token("yanji"),
                                json={"funds_in": 3, "reason": "x"}).status_code == 403
    with Session(world.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "project_correct")).all()
        assert [(e.username, e.detail["reason"]) for e in events] == [("wangqing", "组织误将元填为万元")]
    # The trail cannot be edited through the application: no route writes or deletes it.
    paths = world.client().get("/openapi.json").json()["paths"]
    assert not [p for p in paths if "change" in p]
    assert world.client().delete(f"/api/v1/projects/{pid}", headers=h).status_code == 405


def test_the_village_confirms_through_its_link_and_the_rating_counts_in_ranking(world: World) -> None:
    pid = approve(world)
    staff_view = world.client().get(f"/api/v1/projects/{pid}", headers=world.token("wangqing")).json()
    link = staff_view["village_link"]
    assert link and "/confirm/" in link
    assert world.client().get(f"/api/v1/projects/{pid}", headers=world.token("orga")).json()["village_link"] is None
    path = "/confirm/" + link.rsplit("/confirm/", 1)[1]
    village = world.client()
    page = village.get(path)
    assert page.status_code == 200 and "空巢老人义诊" in page.text
    assert "13904330001" not in page.text and "13704330011" not in page.text  # no personal data on the link page
    r = village.post(path, data={"rating": "5", "csrf_token": page_csrf(page.text)})
    assert r.status_code == 409 and "尚未实施" in r.text  # nothing delivered yet
    report(world, pid, report_date="2026-11-29")
    for bad in ("7", "x"):
        r = village.post(path, data={"rating": bad, "comment": "", "csrf_token": page_csrf(page.text)})
        assert r.status_code == 422 and "评价应为1到5分" in r.text
    assert village.get("/confirm/forged-token").status_code == 404
    r = village.post(path, data={"rating": "5", "comment": "医生很耐心", "csrf_token": page_csrf(page.text)})
    assert r.status_code == 200 and "已记录" in r.text
    detail = world.client().get(f"/api/v1/projects/{pid}", headers=world.token("wangqing")).json()
    assert (detail["village_rating"], detail["village_comment"]) == (5, "医生很耐心")
    assert any(c["field"] == "村级确认与评价" and c["who"] == "村级（确认链接）" for c in detail["changes"])
    with Session(world.engine) as session:
        run_rematch(session, world.app.state.matcher())  # type: ignore[attr-defined]
        session.commit()
    recs = world.client().get("/api/v1/demands/CC-1/recommendations", headers=world.token("admin")).json()["items"]
    a_rec = next(item for item in recs if item["organization"]["credit_code"] == world.codes["A"])
    assert "村级评价：1个项目平均5.0分（满分5分）" in a_rec["reasons"]


def test_ninety_days_of_silence_flag_a_project_everywhere_staff_look(world: World) -> None:
    pid = approve(world)
    report(world, pid, report_date="2026-11-29")
    h = world.token("wangqing")
    assert world.client().get("/api/v1/projects?overdue=true", headers=h).json() == []
    world.clock.advance(days=90)
    assert world.client().get("/api/v1/projects?overdue=true", headers=h).json() == []  # day 90 is still in time
    world.clock.advance(days=1)
    h = world.token("wangqing")
    overdue = world.client().get("/api/v1/projects?overdue=true", headers=h).json()
    assert [(p["id"], p["days_since_report"]) for p in overdue] == [(pid, 91)]
    assert world.client().get("/api/v1/dashboard", headers=h).json()["overdue"] == 1
    page = world.web_login("wangqing").get("/staff/projects?overdue=1")
    assert "逾期91天" in page.text
    # ... and in the staff digest.
    from api.services.mail import enqueue_digests
    from models import OutboxMessage, User

    with Session(world.engine) as session:
        user = session.exec(select(User).where(User.username == "wangqing")).one()
        user.email = "wq@example.org"
        session.add(user)
        session.commit()
    enqueue_digests(lambda: Session(world.engine, expire_on_commit=False), settings=world.app.state.settings,  # type: ignore[attr-defined]
                    regions=world.app.state.regions, secret="s", clock=world.clock)  # type: ignore[attr-defined]
    with Session(world.engine) as session:
        mail = session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == "wq@example.org")).one()
    assert "1个项目逾期未报告" in mail.subject
    assert re.search(r"空巢老人义诊.*已91天未报告", mail.text)


def test_a_finished_project_becomes_a_public_case_without_contact_details(world: World) -> None:
    pid = approve(world)
    story = "汪清县仁爱医院每月进村义诊，为空巢老人建立健康档案，村民看病不再跑远路。"
    h = world.token("wangqing")
    r = world.client().post(f"/api/v1/projects/{pid}/case", headers=h, json={"story": story})
    assert r.status_code == 409 and "已完成" in r.json()["error"]["message"]
    report(world, pid, report_date="2026-11-29", status="已完成", beneficiaries=80)
    assert world.client().post(f"/api/v1/projects/{pid}/case", headers=world.token("orga"),
                               json={"story": story}).status_code == 403
    assert world.client().post(f"/api/v1/projects/{pid}/case", headers=h, json={"story": story}).status_code == 200
    public = world.client().get("/api/v1/cases").json()
    assert [(c["id"], c["story"], c["beneficiaries"]) for c in public] == [(pid, story, 80)]
    page = world.client().get(f"/cases/{pid}")
    assert page.status_code == 200 and story in page.text
    for phone in world.phones:
        assert phone not in page.text
        assert phone not in world.client().get("/cases").text
    assert world.client().delete(f"/api/v1/projects/{pid}/case", headers=h).status_code == 200
    assert world.client().get("/api/v1/cases").json() == []
    assert world.client().get(f"/cases/{pid}").status_code == 404
    with Session(world.engine) as session:
        fields = session.exec(select(ProjectChange.field, ProjectChange.new).where(ProjectChange.project_id == pid)
                              .order_by(col(ProjectChange.id))).all()
    assert [f for f in fields if f[0] == "典型案例"] == [("典型案例", "是"), ("典型案例", "否")]


def test_the_organization_reports_from_its_pages(world: World) -> None:
    pid = approve(world)
    c = world.web_login("orga")
    portal = c.get("/org")
    assert f"/org/projects/{pid}" in portal.text
    page = c.get(f"/org/projects/{pid}")
    r = c.post(f"/org/projects/{pid}/progress", data={
        "report_date": "2026-11-29", "status": "in_progress", "funds_in": "0.8", "beneficiaries": "12",
        "note": "=HYPERLINK(\"http://x\")", "csrf_token": page_csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    bad = c.post(f"/org/projects/{pid}/progress", data={
        "report_date": "2026-11-29", "status": "in_progress", "funds_in": "八千", "csrf_token": page_csrf(page.text)})
    assert bad.status_code == 422 and "本次投入应为数字（单位：万元）" in bad.text
    with Session(world.engine) as session:
        p = session.get(Project, pid)
        assert p is not None and (p.funds_in, p.beneficiaries, p.reports_count) == (0.8, 12, 1)
        assert projects.is_overdue(p, world.clock().date()) is False


def test_the_organization_sets_its_plan_and_staff_corrections_need_a_reason(world: World) -> None:
    pid = approve(world)
    c = world.web_login("orga")
    page = c.get(f"/org/projects/{pid}")
    r = c.post(f"/org/projects/{pid}/plan", data={"planned_funds": "12.5", "planned_beneficiaries": "200",
                                                  "start_date": "2026-10-01", "planned_end": "2027-03-31",
                                                  "csrf_token": page_csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    bad = c.post(f"/org/projects/{pid}/plan", data={"planned_end": "2026-01-01", "csrf_token": page_csrf(page.text)})
    assert bad.status_code == 422 and "计划完成日期不能早于开始日期" in bad.text
    h = world.token("wangqing")
    assert world.client().patch(f"/api/v1/projects/{pid}", headers=h, json={"planned_funds": 10}).status_code == 422
    r = world.client().patch(f"/api/v1/projects/{pid}", headers=h, json={"planned_funds": 10, "reason": "按协议更正"})
    p = r.json()
    assert (p["planned_funds"], p["planned_beneficiaries"], p["start_date"], p["planned_end"]) == (
        10, 200, "2026-10-01", "2027-03-31")
    assert [(ch["field"], ch["old"], ch["new"], ch["who"]) for ch in p["changes"]][-1] == (
        "计划投入（万元）", "12.5", "10.0", "wangqing")


def test_staff_correct_a_report_and_the_plan_from_the_project_page(world: World) -> None:
    pid = approve(world)
    rid = report(world, pid, report_date="2026-11-29", funds_in=30, beneficiaries=12).json()["id"]
    c = world.web_login("wangqing")
    page = c.get(f"/staff/projects/{pid}")
    assert page.status_code == 200 and "13904330001" in page.text  # staff of the region see the contacts
    csrf = page_csrf(page.text)
    bad = c.post(f"/staff/progress/{rid}/correct", data={
        "reason": "", "status": "in_progress", "funds_in": "3", "beneficiaries": "12", "report_date": "2026-11-29",
        "csrf_token": csrf})
    assert bad.status_code == 422 and "更正须说明原因" in bad.text
    r = c.post(f"/staff/progress/{rid}/correct", data={
        "reason": "单位填错", "status": "in_progress", "funds_in": "3", "beneficiaries": "12",
        "report_date": "2026-11-29", "note": "义诊一次", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    r = c.post(f"/staff/projects/{pid}/plan", data={"reason": "按协议", "planned_funds": "6",
                                                      "planned_beneficiaries": "90", "csrf_token": csrf},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get(f"/staff/projects/{pid}").text
    assert "单位填错" in page and "按协议" in page
    assert "<strong class=\"funds-in\">3.00</strong>" in page
    other = world.web_login("yanji")
    assert other.post(f"/staff/projects/{pid}/plan", data={"reason": "x", "planned_funds": "1",
                                                           "csrf_token": page_csrf(other.get("/staff/upload").text)}
                      ).status_code == 403
