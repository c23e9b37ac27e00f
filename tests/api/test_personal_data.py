"""Personal data typed into a demand's free text reaches only staff of its region (spec: personal-data.md).

The demand is the one from the issue: an ID number, a son's mobile, the accountant's landline and a
bank card, in 需求内容. Every view that is not entitled to it is read, as its user reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from api.db import session_scope
from api.services.auth import Scope
from api.services.runs import run_rematch
from api.services.uploads import import_for_scope
from models import Demand
from tests.api.test_privacy import luhn_complete, valid_id
from tests.factories import demand_row, write_csv
from tests.inbox import Inbox, make_jobs
from tests.world import World

ID = valid_id("22242419550312123")
SON = "13912346578"
ACCOUNTANT = "0433-88885678"
CARD = luhn_complete("622202100112345678")
EMAIL = "zhangguifang.son@example.org"
SECRETS = [ID, SON, "88885678", CARD, EMAIL]
TEXT = (f"独居老人张桂芳（身份证{ID}）行动不便，房屋漏雨，希望医生上门义诊体检、送常用药。"
        f"有意帮扶请联系她儿子{SON}或村会计{ACCOUNTANT}，邮箱{EMAIL}，捐款可汇至{CARD}")
REF = "WQ-PD"


def leaks(body: str) -> list[str]:
    return [s for s in SECRETS if s in body]


@pytest.fixture
def typed(world: World, tmp_path: Path) -> World:
    """The world with the issue's demand uploaded in 汪清县 and matched."""
    row = demand_row(9, 需求编号=REF, 需求名称="独居老人上门义诊", 需求内容=TEXT, 联系电话="13704330019")
    with session_scope(world.engine) as session:
        report, _ = import_for_scope(session, write_csv(tmp_path / "pd.csv", [row]), "demands",
                                     scope=Scope("province"), matcher=world.app.state.matcher())  # type: ignore[attr-defined]
        assert report.created == 1
    # A bank card to send money to is a request for cash to a person: held until staff confirm it.
    assert REF not in world.client().get("/", params={"county": "汪清县"}).text
    staff = world.token("wangqing")
    flags = world.client().get("/api/v1/reviews", headers=staff).json()["items"]
    doubtful = next(f for f in flags if f["kind"] == "doubtful_demand" and f["subject"].startswith(REF))
    r = world.client().post(f"/api/v1/reviews/{doubtful['id']}/decision", headers=staff, json={"action": "confirm"})
    assert r.status_code == 200, r.text
    with session_scope(world.engine) as session:
        run_rematch(session, world.app.state.matcher())  # type: ignore[attr-defined]
    return world


def test_the_upload_report_names_the_row_and_column(world: World, tmp_path: Path) -> None:
    row = demand_row(9, 需求编号=REF, 需求内容=TEXT)
    with session_scope(world.engine) as session:
        report, _ = import_for_scope(session, write_csv(tmp_path / "pd.csv", [row]), "demands",
                                     scope=Scope("province"), matcher=world.app.state.matcher())  # type: ignore[attr-defined]
    assert "第2行「需求内容」含身份证号码、手机号码、固定电话、银行卡号、电子邮箱（非本地区人员只能看到遮蔽后的内容）" \
        in report.warnings
    assert "第2行「需求内容」含困难群众姓名「张桂芳」（请确认确有必要公开）" in report.warnings
    assert not any("「需求名称」" in w for w in report.warnings)


def test_the_public_sees_it_masked_on_the_board_and_in_the_api(typed: World) -> None:
    c = typed.client()
    board = c.get("/", params={"county": "汪清县"})
    assert "独居老人上门义诊" in board.text
    assert "220224********" not in board.text and "139****6578" in board.text and "0433-****5678" in board.text
    assert leaks(board.text) == []
    listing = c.get("/api/v1/demands", params={"county": "汪清县", "size": 100})
    item = next(i for i in listing.json()["items"] if i["ref"] == REF)
    assert item["description"].startswith("独居老人张桂芳（身份证222424********")
    assert f"6222********{CARD[-4:]}" in item["description"]
    assert leaks(listing.text) == []
    one = c.get(f"/api/v1/demands/{REF}", params={"county": "汪清县"})
    assert one.status_code == 200
    assert leaks(one.text) == [] and "z***@example.org" in one.json()["description"]
    page = c.get(f"/demand/222424/{REF}")
    assert "希望医生上门义诊" in page.text and leaks(page.text) == []


def test_search_works_on_the_masked_text_for_the_public(typed: World) -> None:
    c = typed.client()

    def refs(q: str) -> list[str]:
        return [i["ref"] for i in c.get("/api/v1/demands", params={"q": q, "size": 100}).json()["items"]]

    assert refs(SON) == []  # the number as typed is not there for the public
    assert refs(ID[:10]) == []
    assert refs("139****6578") == [REF]  # what the public does see, it can search
    assert refs("上门义诊") == [REF]
    assert REF not in c.get("/", params={"q": SON}).text
    staff = typed.token("wangqing")
    found = typed.client().get("/api/v1/demands", params={"q": SON}, headers=staff).json()["items"]
    assert [i["ref"] for i in found] == [REF]


def test_staff_of_the_region_see_it_as_written_and_staff_elsewhere_masked(typed: World) -> None:
    for username in ("wangqing", "yanbian", "admin"):
        r = typed.client().get(f"/api/v1/demands/{REF}", params={"county": "汪清县"}, headers=typed.token(username))
        assert r.json()["description"] == TEXT, username
    for username in ("yanji", "changchun"):
        r = typed.client().get(f"/api/v1/demands/{REF}", params={"county": "汪清县"}, headers=typed.token(username))
        assert leaks(r.text) == [], username
        assert "139****6578" in r.json()["description"]
    assert TEXT in typed.web_login("wangqing").get(f"/demand/222424/{REF}").text
    assert leaks(typed.web_login("yanji").get(f"/demand/222424/{REF}").text) == []


def test_the_recommended_organization_sees_it_masked(typed: World) -> None:
    code = typed.codes["A"]
    recs = typed.client().get(f"/api/v1/organizations/{code}/recommendations", params={"top": 50},
                              headers=typed.token("orga"))
    mine = [i for i in recs.json()["items"] if i["demand"]["ref"] == REF]
    assert len(mine) == 1  # the hospital in the same county is recommended the need
    assert leaks(recs.text) == []
    portal = typed.web_login("orga").get("/org")
    assert "独居老人上门义诊" in portal.text and leaks(portal.text) == []
    interest = typed.client().post(f"/api/v1/organizations/{code}/interests", headers=typed.token("orga"),
                                   json={"demand_ref": REF, "county_code": "222424", "note": ""})
    assert interest.status_code == 201 and leaks(interest.text) == []
    approve = typed.client().post("/api/v1/pairings/decisions", headers=typed.token("wangqing"), json={
        "demand_ref": REF, "county_code": "222424", "credit_code": code, "decision": "approve",
        "note": f"请联系村会计{ACCOUNTANT}"})
    assert approve.status_code == 200 and ACCOUNTANT in approve.text  # the staff member wrote it
    # Approved: the organization gets the demand's own contact columns, still not the free text.
    recs = typed.client().get(f"/api/v1/organizations/{code}/recommendations", params={"top": 50},
                              headers=typed.token("orga")).json()
    mine = next(i for i in recs["items"] if i["demand"]["ref"] == REF)
    assert mine["demand"]["contact_phone"] == "13704330019"
    assert leaks(json.dumps(mine, ensure_ascii=False)) == []
    pairings = typed.client().get("/api/v1/pairings", headers=typed.token("orga"))
    assert "0433-****5678" in pairings.text and leaks(pairings.text) == []


def test_the_morning_mail_shows_it_masked(typed: World, inbox: Inbox, smtp_port: int) -> None:
    run = make_jobs(typed, smtp_port).morning_digest()
    assert run is not None and run.status == "done"
    to_a = [m for m in inbox.messages() if str(m["To"]) == "a@example.org"]
    assert len(to_a) == 1
    text = to_a[0].get_body(("plain",)).get_content()
    html = to_a[0].get_body(("html",)).get_content()
    assert "独居老人上门义诊" in text and "独居老人上门义诊" in html
    assert "139****6578" in html
    for message in inbox.messages():  # staff digests too: a mail can be forwarded
        for part in ("plain", "html"):
            assert leaks(message.get_body((part,)).get_content()) == []


def test_a_record_stored_before_is_masked_on_the_way_out(world: World) -> None:
    with Session(world.engine) as session:  # written straight to the table, as an older release did
        session.add(Demand(ref="OLD-1", city_code="222400", county_code="222424", category="医护康养",
                           title=f"联系{SON}", description=TEXT, contact_name="李书记", contact_phone="13704330020"))
        session.commit()
    c = world.client()
    assert leaks(c.get("/").text) == []
    assert leaks(c.get("/api/v1/demands/OLD-1").text) == []
    assert c.get("/api/v1/demands/OLD-1").json()["title"] == "联系139****6578"
    assert c.get("/api/v1/demands/OLD-1", headers=world.token("wangqing")).json()["title"] == f"联系{SON}"


def test_writing_through_the_api_warns_and_an_organizations_text_is_masked_for_others(world: World) -> None:
    staff = world.token("wangqing")
    created = world.client().post("/api/v1/demands", headers=staff, json={
        "ref": "WQ-API", "city": "延边州", "county": "汪清县", "category": "医护康养", "title": "义诊",
        "description": TEXT, "contact_name": "李书记", "contact_phone": "13704330021"})
    assert created.status_code == 201, created.text
    assert created.json()["description"] == TEXT
    assert created.json()["warnings"] == [
        "「需求内容」含身份证号码、手机号码、固定电话、银行卡号、电子邮箱（非本地区人员只能看到遮蔽后的内容）",
        "「需求内容」含困难群众姓名「张桂芳」（请确认确有必要公开）",
        "需求WQ-API「义诊」疑似非公共需求（要求汇款至个人银行卡，不属于村级公共需求），暂不在需求大厅公开，待本地区工作人员复核"]
    assert created.json()["status"] == "held"
    code = world.codes["C"]  # the provincial e-commerce association, recommended for 汪清's 木耳
    patched = world.client().patch(f"/api/v1/organizations/{code}", headers=world.token("admin"),
                                   json={"capability": f"会员开网店直播带货，帮助销售木耳大米，联系{SON}"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["warnings"] == ["「帮扶能力」含手机号码（非本地区人员只能看到遮蔽后的内容）"]
    assert patched.json()["capability"].endswith(SON)
    recs = world.client().get("/api/v1/demands/WQ-2/recommendations", params={"county": "汪清县"}, headers=staff)
    c_item = next(i["organization"] for i in recs.json()["items"] if i["organization"]["credit_code"] == code)
    assert c_item["capability"] == "会员开网店直播带货，帮助销售木耳大米，联系139****6578"  # not wangqing's to see
    own = world.client().get(f"/api/v1/organizations/{code}", headers=world.token("changchun"))
    assert own.json()["capability"].endswith(SON)  # staff of its city do


def test_project_notes_and_case_stories_reach_only_staff_of_the_region_as_written(world: World) -> None:
    from tests.api.test_projects import approve, report

    pid = approve(world)
    note = f"已为张大爷建档，家属电话{SON}"
    r = report(world, pid, report_date="2026-11-29", status="已完成", beneficiaries=80, note=note)
    assert r.status_code == 201, r.text
    assert r.json()["note"] == "已为张大爷建档，家属电话139****6578"  # the organization gets back the masked text
    staff = world.token("wangqing")
    assert world.client().get(f"/api/v1/projects/{pid}", headers=staff).json()["reports"][0]["note"] == note
    detail = world.client().get(f"/api/v1/projects/{pid}", headers=world.token("orga"))
    assert leaks(detail.text) == []
    assert leaks(world.web_login("orga").get(f"/org/projects/{pid}").text) == []
    assert note in world.web_login("wangqing").get(f"/staff/projects/{pid}").text
    story = f"仁爱医院每月进村义诊，为空巢老人建立健康档案，村民看病不再跑远路。联系人手机{SON}"
    assert world.client().post(f"/api/v1/projects/{pid}/case", headers=staff, json={"story": story}).status_code == 200
    public = world.client().get("/api/v1/cases")
    assert public.json()[0]["story"].endswith("139****6578") and leaks(public.text) == []
    assert leaks(world.client().get(f"/cases/{pid}").text) == [] and leaks(world.client().get("/cases").text) == []
