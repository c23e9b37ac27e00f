"""What organizations and staff do through the API and the pages, end to end on a real database."""

from __future__ import annotations

import multiprocessing
import os
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, col, func, select

from api.app import create_app
from api.db import session_scope
from api.errors import Conflict
from api.services import partitions
from api.services.runs import NO_LEASE_GRACE_S, own_process_config, rematch_in_process, run_rematch, start_run
from matcher import Matcher
from models import Demand, MatchRun, Pairing, PairingDecision, Recommendation, User
from tests.factories import demand_row, write_csv
from tests.world import PASSWORD, World, page_csrf


def recommended(world: World, who: str, code: str) -> list[str]:
    r = world.client().get(f"/api/v1/organizations/{code}/recommendations", headers=world.token(who))
    return [item["demand"]["ref"] for item in r.json()["items"]]


def rematch(world: World) -> None:
    with session_scope(world.engine) as session:
        run_rematch(session, world.app.state.matcher())  # type: ignore[attr-defined]


def test_interest_then_rejection_is_learned(world: World) -> None:
    client, a = world.client(), world.codes["A"]
    assert "WQ-1" in recommended(world, "orga", a)
    r = client.post(f"/api/v1/organizations/{a}/interests", headers=world.token("orga"),
                    json={"demand_ref": "WQ-1", "note": "可下周派医生"})
    assert r.status_code == 201
    assert r.json()["status"] == "requested"
    queue = client.get("/api/v1/pairings/queue?status=requested", headers=world.token("wangqing")).json()
    assert [(q["demand_ref"], q["credit_code"]) for q in queue] == [("WQ-1", a)]
    assert "组织留言：可下周派医生" in queue[0]["reasons"]

    missing_reason = client.post("/api/v1/pairings/decisions", headers=world.token("wangqing"),
                                 json={"demand_ref": "WQ-1", "credit_code": a, "decision": "reject"})
    assert missing_reason.status_code == 422
    assert missing_reason.json()["error"]["message"] == "驳回须选择原因"

    world.clock.advance(hours=2)
    r = client.post("/api/v1/pairings/decisions", headers=world.token("wangqing"),
                    json={"demand_ref": "WQ-1", "credit_code": a, "decision": "reject", "reason_code": "covered",
                          "note": "卫生院已安排"})
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["decided_by"], body["reason_code"]) == ("rejected", "wangqing", "covered")
    assert body["decided_at"].startswith("2026-11-29T10:00")

    # The next reviewer sees why, and the rejected pair is not suggested again.
    queue = client.get("/api/v1/pairings/queue", headers=world.token("yanbian")).json()
    assert all((q["demand_ref"], q["credit_code"]) != ("WQ-1", a) for q in queue)
    others = [q for q in queue if q["demand_ref"] == "WQ-1"]
    assert all("已驳回 汪清县仁爱医院：需求已有其他组织帮扶（卫生院已安排）" in q["history"] for q in others)
    rematch(world)
    assert "WQ-1" not in recommended(world, "orga", a)
    again = client.post(f"/api/v1/organizations/{a}/interests", headers=world.token("orga"),
                        json={"demand_ref": "WQ-1"})
    assert again.status_code == 409
    with Session(world.engine) as session:
        labels = session.exec(select(PairingDecision.decision, PairingDecision.reason_code)
                              .order_by(PairingDecision.id)).all()
    assert labels == [("requested", None), ("rejected", "covered")]


def test_dismissal_is_respected_by_the_engine(world: World) -> None:
    a = world.codes["A"]
    r = world.client().post(f"/api/v1/organizations/{a}/dismissals", headers=world.token("orga"),
                            json={"demand_ref": "WQ-1"})
    assert r.status_code == 201
    rematch(world)
    assert "WQ-1" not in recommended(world, "orga", a)
    recs = world.client().get("/api/v1/demands/WQ-1/recommendations", headers=world.token("wangqing")).json()
    assert a not in [item["organization"]["credit_code"] for item in recs["items"]]


def test_approval_reveals_contact_and_lifts_the_organization(world: World) -> None:
    a, client = world.codes["A"], world.client()
    r = client.post("/api/v1/pairings/decisions", headers=world.token("wangqing"),
                    json={"demand_ref": "WQ-1", "credit_code": a, "decision": "approve"})
    assert r.json()["status"] == "approved"
    recs = client.get(f"/api/v1/organizations/{a}/recommendations", headers=world.token("orga")).json()["items"]
    wq1 = next(item for item in recs if item["demand"]["ref"] == "WQ-1")
    assert (wq1["pairing_status"], wq1["demand"]["contact_phone"]) == ("approved", "13704330011")
    rematch(world)
    recs = client.get("/api/v1/demands/CC-1/recommendations", headers=world.token("admin")).json()["items"]
    a_rec = next(item for item in recs if item["organization"]["credit_code"] == a)
    assert "过往对接：通过1次，驳回0次" in a_rec["reasons"]
    assert a_rec["signals"]["feedback"] > 1.0


def test_demand_crud_with_the_upload_rules(world: World) -> None:
    client, h = world.client(), world.token("wangqing")
    body = {"ref": "WQ-9", "city": "延边州", "county": "汪清县", "title": "冬季取暖", "description": "低保户冬季取暖困难",
            "contact_name": "李书记", "contact_phone": "13704339999", "due_date": "2027年3月"}
    r = client.post("/api/v1/demands", headers=h, json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["category"], r.json()["category_inferred"], r.json()["due_date"]) == ("扶弱济困", True,
                                                                                           "2027-03-31")
    assert client.post("/api/v1/demands", headers=h, json=body).status_code == 409
    elsewhere = client.post("/api/v1/demands", headers=h, json={**body, "ref": "X", "county": "延吉市"})
    assert elsewhere.status_code == 403
    bad = client.post("/api/v1/demands", headers=h, json={**body, "ref": "WQ-10", "contact_phone": "123"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == [{"row": 2, "column": "联系电话", "value": "123",
                                               "reason": "格式不正确：手机号应为11位（1开头），座机应为区号-号码，如0431-88888888"}]
    r = client.patch("/api/v1/demands/WQ-9", headers=h, json={"beneficiaries": 40})
    assert r.json()["beneficiaries"] == 40
    assert client.post("/api/v1/demands/WQ-9/close", headers=h).json()["status"] == "closed"
    public = world.client().get("/api/v1/demands?size=100").json()["items"]
    assert "WQ-9" not in [d["ref"] for d in public]
    assert world.client().get("/api/v1/demands/WQ-9").status_code == 404


def test_organization_update_and_withdraw(world: World) -> None:
    client, b = world.client(), world.codes["B"]
    r = client.patch(f"/api/v1/organizations/{b}", headers=world.token("orgb"), json={"funds": 12.5})
    assert r.status_code == 200
    assert r.json()["funds"] == 12.5
    r = client.patch(f"/api/v1/organizations/{b}", headers=world.token("orgb"), json={"org_type": "公司"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["column"] == "组织类型"
    assert client.post(f"/api/v1/organizations/{b}/withdraw", headers=world.token("yanji")).json()["status"] == \
        "withdrawn"
    rematch(world)
    assert recommended(world, "orgb", b) == []


def test_upload_report_and_region_limits(world: World, tmp_path: Path) -> None:
    client = world.client()
    good = write_csv(tmp_path / "d.csv", [demand_row(21, 需求编号="WQ-21")])
    with good.open("rb") as f:
        r = client.post("/api/v1/uploads/demands", headers=world.token("wangqing"), files={"file": ("d.csv", f)})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["errors"]) == (1, [])
    other = write_csv(tmp_path / "o.csv", [demand_row(22, 需求编号="YJ-22", **{"县（市、区）": "延吉市"})])
    with other.open("rb") as f:
        r = client.post("/api/v1/uploads/demands", headers=world.token("wangqing"), files={"file": ("o.csv", f)})
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [{"row": 2, "column": "县（市、区）", "value": "",
                                             "reason": "不在您负责的地区，不能导入"}]
    bad = write_csv(tmp_path / "b.csv", [demand_row(23, 联系电话="1")])
    with bad.open("rb") as f:
        r = client.post("/api/v1/uploads/demands", headers=world.token("admin"), files={"file": ("b.csv", f)})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "import_rejected"
    with Session(world.engine) as session:
        assert sorted(d.ref for d in session.exec(select(Demand)).all()) == ["CC-1", "WQ-1", "WQ-2", "WQ-21", "YJ-1"]
    with good.open("rb") as f:
        r = client.post("/api/v1/uploads/demands", headers=world.token("orga"), files={"file": ("d.csv", f)})
    assert r.status_code == 403


def test_match_run_via_api(world: World) -> None:
    client = world.client()
    r = client.post("/api/v1/match-runs", headers=world.token("admin"))
    assert r.status_code == 202
    run_id = r.json()["id"]
    for thread in world.app.state.run_threads:  # type: ignore[attr-defined]
        thread.join(timeout=60)
    status = client.get(f"/api/v1/match-runs/{run_id}", headers=world.token("yanbian")).json()
    assert status["status"] == "done"
    assert status["n_demands"] == 4
    assert client.post("/api/v1/match-runs", headers=world.token("yanbian")).status_code == 403


def test_a_match_run_started_from_the_web_runs_in_a_process_of_its_own(world: World) -> None:
    # Without an injected matcher (as deployed), the engine runs outside the web process, so its
    # Python never holds up the requests being served meanwhile.
    app = create_app(world.app.state.settings, clock=world.app.state.clock)  # type: ignore[attr-defined]
    client = TestClient(app)
    r = client.post("/api/v1/match-runs", headers=world.token("admin"))
    assert r.status_code == 202 and r.json()["config_hash"] == own_process_config().config_hash()
    # Nor did the web build a matcher to start it: its dictionary held every request for ~0.8 s.
    assert app.state.matcher.cache_info().currsize == 0
    for thread in app.state.run_threads:
        thread.join(timeout=120)
    (proc,) = app.state.run_processes
    assert proc.exitcode == 0 and proc.pid != os.getpid()
    status = client.get(f"/api/v1/match-runs/{r.json()['id']}", headers=world.token("admin")).json()
    assert status["status"] == "done"
    assert status["n_demands"] == 4 and status["n_recommendations"] > 0


def test_lockout_after_repeated_failures_and_cool_down(world: World) -> None:
    client = world.client()
    for _ in range(5):
        r = client.post("/api/v1/auth/token", data={"username": "wangqing", "password": "wrong-password"})
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "用户名或密码错误"
    r = client.post("/api/v1/auth/token", data={"username": "wangqing", "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["error"]["message"] == "登录失败次数过多，请15分钟后再试"
    world.clock.advance(minutes=16)
    assert client.post("/api/v1/auth/token", data={"username": "wangqing", "password": PASSWORD}).status_code == 200


def test_web_forms_need_the_csrf_token(world: World) -> None:
    client = world.client()
    client.get("/login")
    r = client.post("/login", data={"username": "admin", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    staff = world.web_login("wangqing")
    r = staff.post("/staff/decide", data={"demand_id": 1, "organization_id": 1, "decision": "approve"})
    assert r.status_code == 403


def test_idle_session_times_out(world: World) -> None:
    client = world.web_login("wangqing")
    assert client.get("/staff/queue", follow_redirects=False).status_code == 200
    world.clock.advance(minutes=31)
    r = client.get("/staff/queue", follow_redirects=False)
    assert r.status_code == 303
    assert "登录已超时" in client.get(r.headers["location"]).text


def test_review_queue_page_decides_and_bulk_approves(world: World) -> None:
    client = world.web_login("yanbian")
    html = client.get("/staff/queue?sort=waiting").text
    csrf = page_csrf(html)
    with Session(world.engine) as session:
        wq1 = session.exec(select(Demand).where(Demand.ref == "WQ-1")).one()
        yj1 = session.exec(select(Demand).where(Demand.ref == "YJ-1")).one()
        items = session.exec(select(User)).all()
    assert items
    r = client.post("/staff/decide", headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
                    data={"demand_id": wq1.id, "organization_id": 1, "decision": "reject", "reason_code": "reach"})
    assert r.status_code == 200
    assert "已驳回：不在服务范围或距离过远" in r.text
    r = client.post("/staff/bulk-approve", data={"csrf_token": csrf, "pair": [f"{yj1.id}:2"]},
                    follow_redirects=True)
    assert "已批量通过1条对接" in r.text
    with Session(world.engine) as session:
        statuses = sorted((p.demand_id, p.organization_id, p.status) for p in session.exec(select(Pairing)).all())
    assert statuses == sorted([(wq1.id, 1, "rejected"), (yj1.id, 2, "approved")])


def test_error_shape_is_one_json_in_chinese(world: World) -> None:
    client = world.client()
    r = client.get("/api/v1/demands?size=1000")
    assert r.status_code == 422
    assert r.json() == {"error": {"code": "invalid_input", "message": "请求内容不合法", "details": [
        {"column": "size", "reason": "查询参数「size」不能大于200"}]}}
    assert client.get("/api/v1/nothing").json()["error"]["message"] == "页面或资源不存在"
    r = client.post("/api/v1/pairings/decisions", headers=world.token("admin"), content=b"{not json",
                    )
    assert r.status_code == 422


def test_others_can_write_while_a_rematch_works_and_see_it_running(world: World, shared_matcher: Matcher) -> None:
    seen: list[tuple[str, int]] = []

    def progress(stage: str) -> None:
        if stage != "candidates":
            return
        # Another connection, mid-run: it sees the run as running, and a write does not wait on it.
        with Session(world.engine) as other:
            conn = other.connection()
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout=200")
            else:
                conn.exec_driver_sql("SET lock_timeout = '200ms'")
            running = other.exec(select(MatchRun).where(MatchRun.status == "running")).all()
            conn.exec_driver_sql("UPDATE organization SET name = name WHERE id = 1")
            other.commit()
            seen.append((stage, len(running)))

    with Session(world.engine) as session:
        run = run_rematch(session, shared_matcher, progress=progress)
        session.commit()
        run_id = run.id
    assert seen == [("candidates", 1)]
    with Session(world.engine) as session:
        assert session.get(MatchRun, run_id).status == "done"  # type: ignore[union-attr]


def test_a_demand_deleted_while_a_rematch_works_is_in_no_list(world: World, shared_matcher: Matcher) -> None:
    with Session(world.engine) as session:
        run_rematch(session, shared_matcher)
        session.commit()
        listed = session.exec(select(Recommendation.demand_id).distinct()).all()
        paired = set(session.exec(select(Pairing.demand_id)).all())
    victim = next(i for i in listed if i not in paired)

    def progress(stage: str) -> None:
        if stage == "candidates":  # after the engine read it, before its rows are written
            with Session(world.engine) as other:
                other.exec(select(Demand).where(Demand.id == victim)).one()
                other.connection().exec_driver_sql(f"DELETE FROM demand WHERE id = {victim}")
                other.commit()

    with Session(world.engine) as session:
        run = run_rematch(session, shared_matcher, progress=progress)
        session.commit()
        status, run_id = run.status, run.id
    with Session(world.engine) as session:
        # The run drops what the paused checks let through (PostgreSQL: without the privilege to
        # pause them the run fails instead, tests/api/test_rematch_keys.py).
        assert status == "done"
        assert session.exec(select(func.count()).select_from(Recommendation)
                            .where(Recommendation.demand_id == victim)).one() == 0
        assert session.exec(select(func.count()).select_from(Recommendation)
                            .where(Recommendation.run_id == run_id)).one() > 0
    if world.engine.dialect.name == "sqlite":
        # Every pooled connection, the re-match's included, has its foreign-key checks on again.
        sessions = [Session(world.engine) for _ in range(world.engine.pool.size())]
        try:
            assert [s.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() for s in sessions] == \
                [1] * len(sessions)
        finally:
            for s in sessions:
                s.close()


def test_a_run_whose_process_never_took_it_up_gives_way_after_a_minute(world: World,
                                                                      shared_matcher: Matcher) -> None:
    with Session(world.engine) as session:
        stuck = start_run(session, shared_matcher.config)
        session.commit()
        stuck_id = stuck.id
    with Session(world.engine) as session, pytest.raises(Conflict):
        run_rematch(session, shared_matcher)  # just started: its process may be starting up
    with Session(world.engine) as session:
        old = session.get(MatchRun, stuck_id)
        assert old is not None
        old.started_at = old.started_at - timedelta(seconds=NO_LEASE_GRACE_S + 1)
        session.add(old)
        session.commit()
    with Session(world.engine) as session:
        run = run_rematch(session, shared_matcher)
        session.commit()
        assert run.status == "done"
        old = session.get(MatchRun, stuck_id)
        assert old is not None and old.status == "failed" and "中断" in (old.error or "")


def test_a_rematch_that_fails_is_recorded_as_failed(world: World, shared_matcher: Matcher) -> None:
    def progress(stage: str) -> None:
        if stage == "ranking":
            raise RuntimeError("磁盘已满")

    with Session(world.engine) as session, pytest.raises(RuntimeError):
        run_rematch(session, shared_matcher, progress=progress)
    with Session(world.engine) as session:
        last = session.exec(select(MatchRun).order_by(col(MatchRun.id).desc())).first()
        assert last is not None and last.status == "failed" and "磁盘已满" in (last.error or "")


def _rematch_reporting_priority(url: str, run_id: int, nice: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    rematch_in_process(url, run_id, None, 3, nice)
    out.put(os.nice(0))


def test_the_web_rematch_process_yields_the_cpu_to_requests(world: World, shared_matcher: Matcher) -> None:
    # Its own process at a lower priority: while it works, the web's requests are served first.
    assert world.app.state.settings.rematch_nice > 0  # type: ignore[attr-defined]
    with Session(world.engine) as session:
        run = start_run(session, shared_matcher.config)
        session.commit()
        run_id = run.id
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_rematch_reporting_priority, args=(str(world.engine.url.render_as_string(
        hide_password=False)), run_id, 7, out))
    proc.start()
    niceness = out.get(timeout=120)
    proc.join(timeout=60)
    assert proc.exitcode == 0 and niceness == os.nice(0) + 7
    with Session(world.engine) as session:
        assert session.get(MatchRun, run_id).status == "done"  # type: ignore[union-attr]


def test_old_runs_are_deleted_while_the_engine_works_and_the_latest_lists_stay(world: World,
                                                                               shared_matcher: Matcher) -> None:
    with Session(world.engine) as session:
        run_rematch(session, shared_matcher, keep_runs=2)
        session.commit()
    seen: dict[int, int] = {}

    def progress(stage: str) -> None:
        if stage == "explain":  # its rows written (uncommitted): what does everyone else see?
            with Session(world.engine) as other:
                for run_id, n in other.exec(select(Recommendation.run_id, func.count())
                                            .group_by(col(Recommendation.run_id))).all():
                    seen[run_id] = n

    with Session(world.engine) as session:
        run_rematch(session, shared_matcher, keep_runs=2, progress=progress)
        session.commit()
    assert 3 not in seen and seen[2] > 0  # the latest done run's lists whole, the new run unseen
    if not split_by_run(world):
        assert sorted(seen) == [2]  # run 1 already deleted, beside the engine
    with Session(world.engine) as session:
        kept = session.exec(select(Recommendation.run_id).distinct()).all()
    assert sorted(kept) == [2, 3]


def test_a_run_deletes_each_old_run_once_not_again_at_its_end(world: World, shared_matcher: Matcher) -> None:
    # On PostgreSQL a second delete of a run just deleted visits each of its dead rows again.
    deleted: list[int] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("DELETE FROM recommendation"):
            values = parameters.values() if isinstance(parameters, dict) else parameters
            deleted.extend(v for v in values if isinstance(v, int))

    runs: list[int] = []
    for keep in (3, 3, 3, 2):
        if keep == 2:
            event.listen(world.engine, "before_cursor_execute", seen)
        with Session(world.engine) as session:
            runs.append(run_rematch(session, shared_matcher, keep_runs=keep).id)  # type: ignore[arg-type]
            session.commit()
    event.remove(world.engine, "before_cursor_execute", seen)
    with Session(world.engine) as session:
        assert sorted(session.exec(select(Recommendation.run_id).distinct()).all()) == runs[-2:]
        older = session.exec(select(MatchRun.id).where(col(MatchRun.id) < runs[-2])).all()
    if split_by_run(world):  # old runs' tables dropped whole: no row deleted at all
        assert deleted == [] and run_tables(world) == runs[-2:]
    else:
        assert runs[0] in older and sorted(deleted) == sorted(older)  # early; at the end nothing more


def split_by_run(world: World) -> bool:
    with world.engine.connect() as conn:
        return partitions.partitioned(conn)


def run_tables(world: World) -> list[int]:
    """PostgreSQL: the runs whose partitions are attached."""
    with world.engine.connect() as conn:
        return sorted(int(name.rsplit("_", 1)[1]) for name in partitions.attached(conn))
