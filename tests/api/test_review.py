"""需复核: the same need filed twice, the same organization registered twice, requests that are no
public need of a village — caught when written and nightly, held from the board and the engine,
and decided by staff of the region, with merges that keep every decision, project and mail record."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from api.db import session_scope
from api.services import auth, entries, review
from api.services.auth import Scope
from api.services.lookup import find_demand, find_organization
from api.services.runs import run_rematch
from api.services.uploads import import_for_scope
from models import (
    AuditEvent,
    Demand,
    DemandAlias,
    MailedRecommendation,
    MatchRun,
    OutboxMessage,
    Pairing,
    PairingDecision,
    Project,
    Recommendation,
    ReviewFlag,
    User,
)
from tests.factories import credit_code, demand_row, org_row, write_csv
from tests.inbox import make_jobs
from tests.world import PASSWORD, World

# The township's copy of WQ-1 (第1村, 汪清镇), in its own words and under its own number.
COPY = demand_row(1, 需求编号="WQ-TS-7", 需求名称="空巢老人义诊体检", 需求内容="为第1村空巢老人开展义诊体检，送常用药")


def upload(world: World, tmp_path: Path, kind: str, rows: list[dict[str, str]], username: str = "wangqing",
           name: str = "up.csv") -> list[str]:
    """Upload as a staff member through the API, as the upload page does; the report's warnings."""
    path = write_csv(tmp_path / name, rows)
    r = world.client().post(f"/api/v1/uploads/{kind}", headers=world.token(username),
                            files={"file": (name, path.read_bytes(), "text/csv")})
    assert r.status_code == 200, r.text
    return r.json()["warnings"]


def flags(world: World, username: str, **params: str) -> list[dict]:  # type: ignore[type-arg]
    r = world.client().get("/api/v1/reviews", headers=world.token(username), params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def decide(world: World, flag_id: int, action: str, username: str = "wangqing"):  # type: ignore[no-untyped-def]
    return world.client().post(f"/api/v1/reviews/{flag_id}/decision", headers=world.token(username),
                               json={"action": action, "note": "已与乡镇核实"})


def rematch(world: World) -> MatchRun:
    with session_scope(world.engine) as session:
        return run_rematch(session, world.app.state.matcher())  # type: ignore[attr-defined]


def recommended(world: World, ref: str) -> int:
    with Session(world.engine) as session:
        d = find_demand(session, ref, "222424")
        run = session.exec(select(func.max(MatchRun.id)).where(MatchRun.status == "done")).one()
        return session.exec(select(func.count()).select_from(Recommendation).where(
            Recommendation.demand_id == d.id, Recommendation.run_id == run,
            col(Recommendation.demand_rank).is_not(None))).one()


def test_a_reworded_copy_is_held_shown_to_the_county_and_kept_when_staff_say_so(world: World,
                                                                                 tmp_path: Path) -> None:
    warnings = upload(world, tmp_path, "demands", [COPY])
    assert warnings == ["需求WQ-TS-7「空巢老人义诊体检」与WQ-1「空巢老人义诊」疑似重复（同一村（乡镇）的需求内容相似度100%），"
                        "已暂停匹配，待本地区工作人员复核"]
    c = world.client()
    assert "WQ-TS-7" not in c.get("/").text
    assert c.get("/api/v1/demands/WQ-TS-7").status_code == 404
    rematch(world)
    assert recommended(world, "WQ-TS-7") == 0 and recommended(world, "WQ-1") > 0  # recommended once, not twice
    mine = flags(world, "wangqing")
    assert [(f["kind"], f["subject"], f["other"]) for f in mine] == [
        ("duplicate_demand", "WQ-TS-7「空巢老人义诊体检」", "WQ-1「空巢老人义诊」")]
    assert mine[0]["entered_by"]["username"] == "wangqing" and mine[0]["entered_by"]["source"] == "up.csv"
    assert mine[0]["actions"] == {"keep": "两条都保留", "merge": "合并为一条", "close": "关闭本条"}
    assert flags(world, "yanbian")[0]["id"] == mine[0]["id"]  # the 市州 above sees it
    assert flags(world, "yanji") == [] and flags(world, "changchun") == []
    assert decide(world, mine[0]["id"], "keep", "yanji").status_code == 403
    r = decide(world, mine[0]["id"], "keep")
    assert r.status_code == 200 and r.json()["decision"] == "keep" and r.json()["decided_by"] == "wangqing"
    assert decide(world, mine[0]["id"], "merge").status_code == 409  # decided once
    assert "WQ-TS-7" in c.get("/").text
    rematch(world)
    assert recommended(world, "WQ-TS-7") > 0
    assert flags(world, "wangqing") == [] and len(flags(world, "wangqing", status="decided")) == 1
    # The same finding is not raised again by the nightly scan.
    with session_scope(world.engine) as session:
        assert review.scan(session, world.app.state.matcher(), now=world.clock()) == {  # type: ignore[attr-defined]
            "review_demand_flags": 0, "review_org_flags": 0}
    with Session(world.engine) as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "review_decision")).one()
    assert audit.username == "wangqing" and audit.detail["action"] == "keep"


def test_different_needs_of_one_village_and_one_need_of_two_villages_are_not_duplicates(world: World,
                                                                                          tmp_path: Path) -> None:
    rows = [
        demand_row(1, 需求编号="WQ-2B", 需求名称="留守儿童课后托管", 需求内容="孩子放学后没人看，天天在外头野"),
        demand_row(2, 需求编号="WQ-2C", 需求名称="空巢老人义诊", 需求内容="为村里空巢老人测血压、查血糖，送常用药"),
        demand_row(3, 需求编号="WQ-M1", 需求类别="消费帮扶", 需求名称="大米滞销", 需求内容="十万斤大米卖不出去，想开网店直播带货"),
        demand_row(3, 需求编号="WQ-M2", 需求类别="消费帮扶", 需求名称="木耳滞销", 需求内容="五万斤木耳卖不出去，想开网店直播带货"),
    ]
    assert upload(world, tmp_path, "demands", rows) == []
    assert flags(world, "wangqing") == []


def test_merging_keeps_every_decision_project_and_mail_record(world: World, tmp_path: Path) -> None:
    a, b = world.codes["A"], world.codes["B"]
    with Session(world.engine) as session:  # a copy stored by an earlier release, before any check existed
        original = find_demand(session, "WQ-1", "222424")
        session.add(Demand(ref="WQ-OLD", city_code=original.city_code, county_code="222424", township="汪清镇",
                           village="第1村", category="医护康养", title="空巢老人义诊", description=original.description,
                           contact_name="张", contact_phone="13704330099"))
        session.commit()
    staff = world.token("wangqing")
    # On the copy: A approved (a project), B asked; on the original: B rejected.
    for ref, code, decision in (("WQ-OLD", a, "approve"), ("WQ-1", b, "reject")):
        r = world.client().post("/api/v1/pairings/decisions", headers=staff, json={
            "demand_ref": ref, "credit_code": code, "decision": decision, "reason_code": "other" if decision ==
            "reject" else None})
        assert r.status_code == 200, r.text
    r = world.client().post(f"/api/v1/organizations/{b}/interests", headers=world.token("orgb"),
                            json={"demand_ref": "WQ-OLD", "county_code": "222424"})
    assert r.status_code == 201, r.text
    with Session(world.engine) as session:
        old, org_a = find_demand(session, "WQ-OLD", "222424"), find_organization(session, a)
        msg = OutboxMessage(dedupe_key="t", kind="org_digest", to_addr="a@example.org", subject="s", html="h",
                            text="t", message_id="<m@x>")
        session.add(msg)
        session.flush()
        session.add(MailedRecommendation(organization_id=org_a.id, demand_id=old.id, message_id=msg.id))  # type: ignore[arg-type]
        session.commit()
        old_id = old.id
    with session_scope(world.engine) as session:  # the nightly pass finds it
        assert review.scan(session, world.app.state.matcher(), now=world.clock())["review_demand_flags"] == 1  # type: ignore[attr-defined]
    flag = flags(world, "wangqing")[0]
    assert (flag["subject"], flag["other"]) == ("WQ-OLD「空巢老人义诊」", "WQ-1「空巢老人义诊」")
    assert flag["entered_by"] is None  # stored before entries were kept
    r = decide(world, flag["id"], "merge")
    assert r.status_code == 200, r.text
    with Session(world.engine) as session:
        kept = find_demand(session, "WQ-1", "222424")
        assert session.get(Demand, old_id) is None
        assert find_demand(session, "WQ-OLD", "222424").id == kept.id  # the old number finds the merged record
        assert session.exec(select(DemandAlias.ref).where(DemandAlias.demand_id == kept.id)).all() == ["WQ-OLD"]
        pairs = {p.organization_id: p for p in session.exec(select(Pairing).where(Pairing.demand_id == kept.id))}
        org_a, org_b = find_organization(session, a), find_organization(session, b)
        assert pairs[org_a.id].status == "approved"
        assert pairs[org_b.id].status == "requested"  # the further-advanced of the two
        history = session.exec(select(PairingDecision.decision).where(
            PairingDecision.pairing_id == pairs[org_b.id].id).order_by(col(PairingDecision.id))).all()
        assert sorted(history) == sorted(["rejected", "requested"])  # both pairings' histories
        project = session.exec(select(Project).where(Project.organization_id == org_a.id)).one()
        assert project.demand_id == kept.id and project.pairing_id == pairs[org_a.id].id
        mailed = session.exec(select(MailedRecommendation)).all()
        assert [(m.organization_id, m.demand_id) for m in mailed] == [(org_a.id, kept.id)]
        decided = session.exec(select(ReviewFlag)).one()
        assert (decided.status, decided.decision, decided.demand_id) == ("decided", "merge", None)
    assert world.client().get("/api/v1/reviews", headers=staff, params={"status": "decided"}).json()["items"][0][
        "subject"] == "WQ-OLD「空巢老人义诊」"  # still reads after the record is gone
    run = rematch(world)
    with Session(world.engine) as session:
        assert run.n_demands == session.exec(select(func.count()).select_from(Demand).where(
            Demand.status == "open")).one() == 4  # the engine sees one record
    # Re-uploading the merged number changes nothing and says why.
    warnings = upload(world, tmp_path, "demands", [demand_row(1, 需求编号="WQ-OLD")])
    assert warnings == ["需求编号WQ-OLD已合并到需求WQ-1（空巢老人义诊），本行未导入"]
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(Demand)).one() == 4


def test_two_projects_with_the_same_organization_refuse_the_merge_and_change_nothing(world: World) -> None:
    a = world.codes["A"]
    with Session(world.engine) as session:
        original = find_demand(session, "WQ-1", "222424")
        session.add(Demand(ref="WQ-OLD", city_code=original.city_code, county_code="222424", township="汪清镇",
                           village="第1村", category="医护康养", title="空巢老人义诊", description=original.description,
                           contact_name="张", contact_phone="13704330099"))
        session.commit()
    for ref in ("WQ-OLD", "WQ-1"):
        assert world.client().post("/api/v1/pairings/decisions", headers=world.token("wangqing"), json={
            "demand_ref": ref, "credit_code": a, "decision": "approve"}).status_code == 200
    with session_scope(world.engine) as session:
        review.scan(session, world.app.state.matcher(), now=world.clock())  # type: ignore[attr-defined]
    flag = flags(world, "wangqing")[0]
    r = decide(world, flag["id"], "merge")
    assert r.status_code == 409
    assert r.json()["error"]["message"] == "两条记录都已与同一对象立项，不能合并；请关闭其中一条"
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(Project)).one() == 2
        assert find_demand(session, "WQ-OLD", "222424").status == "held"
    assert flags(world, "wangqing")[0]["status"] == "open"
    assert decide(world, flag["id"], "close").status_code == 200
    with Session(world.engine) as session:
        assert find_demand(session, "WQ-OLD", "222424").status == "closed"


def test_a_doubtful_request_waits_for_staff_before_it_is_public(world: World, tmp_path: Path) -> None:
    rows = [demand_row(5, 需求编号="WQ-TM", 需求类别="扶弱济困", 需求名称="给我家买台跑步机",
                       需求内容="我家老人想锻炼身体，给我家买一台跑步机，直接给现金也行"),
            demand_row(6, 需求编号="WQ-NK", 需求类别="扶弱济困", 需求名称="困难户孩子要名牌运动鞋",
                       需求内容="孩子要一双耐克鞋")]
    warnings = upload(world, tmp_path, "demands", rows)
    assert warnings == [
        "需求WQ-TM「给我家买台跑步机」疑似非公共需求（为个别家庭或个人购置消费品，不属于村级公共需求；"
        "要求向个人转账或给予现金，不属于村级公共需求），暂不在需求大厅公开，待本地区工作人员复核",
        "需求WQ-NK「困难户孩子要名牌运动鞋」疑似非公共需求（名牌、奢侈品或高档消费品，不属于村级公共需求），"
        "暂不在需求大厅公开，待本地区工作人员复核"]
    board = world.client().get("/").text
    assert "跑步机" not in board and "耐克" not in board
    assert world.client().get("/demand/222424/WQ-TM").status_code == 400
    page = world.web_login("wangqing").get("/demand/222424/WQ-TM")
    assert "该需求正在复核" in page.text and "录入：wangqing（接口：up.csv" in page.text
    nk, tm = sorted(flags(world, "wangqing", kind="doubtful_demand"), key=lambda f: f["subject"])
    assert decide(world, tm["id"], "close").status_code == 200
    assert decide(world, nk["id"], "confirm").status_code == 200
    with Session(world.engine) as session:
        assert find_demand(session, "WQ-TM", "222424").status == "closed"
        assert find_demand(session, "WQ-NK", "222424").status == "open"
    assert "耐克" in world.client().get("/").text


def test_names_of_people_in_hardship_are_flagged_without_holding_the_demand(world: World, tmp_path: Path) -> None:
    row = demand_row(7, 需求编号="WQ-NM", 需求名称="低保户危房改造", 需求内容="低保户王德福家房屋漏雨，需要维修")
    assert upload(world, tmp_path, "demands", [row]) == ["第2行「需求内容」含困难群众姓名「王德福」（请确认确有必要公开）"]
    [flag] = flags(world, "wangqing")
    assert flag["kind"] == "household_name" and "王德福" in flag["reason"]
    assert "低保户危房改造" in world.client().get("/").text  # not held: staff decide whether to edit it
    assert decide(world, flag["id"], "merge").status_code == 422  # not an action for this kind
    assert decide(world, flag["id"], "checked").status_code == 200
    assert flags(world, "wangqing") == []


def test_an_organization_registered_twice_is_flagged_to_the_province_and_merged(world: World,
                                                                               tmp_path: Path) -> None:
    twin = org_row(9, 组织名称="汪清仁爱医院", 统一社会信用代码=credit_code(9), 组织类型="社会服务机构",
                   参与行动="医护康养、扶弱济困", 帮扶能力="义诊巡诊", 联系电话="13904330001", 电子邮箱="a2@example.org")
    warnings = upload(world, tmp_path, "organizations", [twin], username="admin")
    code_a = world.codes["A"]
    assert warnings == [f"社会组织{credit_code(9)}「汪清仁爱医院」与{code_a}「汪清县仁爱医院」疑似重复登记"
                        "（名称相近（100%）；统一社会信用代码仅差2位；联系电话相同），待省级工作人员复核"]
    assert flags(world, "wangqing") == [] and flags(world, "yanbian") == []  # the province's to review
    [flag] = flags(world, "admin")
    with Session(world.engine) as session:
        twin_org = find_organization(session, credit_code(9))
        auth.create_user(session, username="twin", password=PASSWORD, role="org", organization=twin_org,
                         regions=world.app.state.regions)  # type: ignore[attr-defined]
        session.commit()
    assert decide(world, flag["id"], "merge", "wangqing").status_code == 403
    assert decide(world, flag["id"], "merge", "admin").status_code == 200
    with Session(world.engine) as session:
        kept = find_organization(session, code_a)
        assert find_organization(session, credit_code(9)).id == kept.id  # the old code finds it
        assert kept.actions == ["医护康养", "扶弱济困"]
        assert session.exec(select(User.organization_id).where(User.username == "twin")).one() == kept.id
    assert upload(world, tmp_path, "organizations", [twin], username="admin") == [
        f"统一社会信用代码{credit_code(9)}已合并到社会组织{code_a}（汪清县仁爱医院），本行未导入"]


def test_the_import_as_written_by_the_cli_records_who_entered_each_demand(world: World, tmp_path: Path) -> None:
    with session_scope(world.engine) as session:
        report, _ = import_for_scope(session, write_csv(tmp_path / "d.csv", [demand_row(8, 需求编号="WQ-CLI")]),
                                     "demands", scope=Scope("province"), matcher=world.app.state.matcher())  # type: ignore[attr-defined]
        assert report.written and report.written[0][1] is True
        entry = entries.entered_by(session, [report.written[0][0]])[report.written[0][0]]
    assert (entry.username, entry.channel, entry.source) == ("命令行", "cli", "d.csv")


@pytest.mark.parametrize("own_process", [False, True])
def test_the_nightly_job_flags_and_holds_before_it_matches(world: World, smtp_port: int, own_process: bool) -> None:
    with Session(world.engine) as session:  # typed in by an earlier release: no check saw it
        original = find_demand(session, "WQ-2", "222424")
        session.add(Demand(ref="WQ-NIGHT", city_code=original.city_code, county_code="222424", township="汪清镇",
                           village="第2村", category="消费帮扶", title="木耳卖不出去", description=original.description,
                           contact_name="张", contact_phone="13704330098"))
        session.commit()
    run = make_jobs(world, smtp_port, full_runs_in_own_process=own_process).nightly_rematch()
    assert run is not None and run.status == "done"
    [flag] = flags(world, "wangqing")
    assert (flag["kind"], flag["subject"], flag["other"]) == ("duplicate_demand", "WQ-NIGHT「木耳卖不出去」",
                                                              "WQ-2「木耳滞销」")
    assert recommended(world, "WQ-NIGHT") == 0 and recommended(world, "WQ-2") > 0
