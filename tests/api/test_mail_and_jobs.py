"""Morning digests through a real SMTP server on loopback, the outbox's exactly-once promise,
scheduled jobs run once per slot across processes, and incremental matching."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, func, select

from api.services.jobs import build_scheduler, slot_of
from matcher import Matcher
from models import Demand, JobRun, MatchRun, OutboxMessage, PendingMatch, Recommendation, User
from tests.inbox import Inbox, free_port, make_jobs
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]
PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-\d{7,8}")


def test_morning_digest_as_received(world: World, inbox: Inbox, smtp_port: int, tmp_path: Path) -> None:
    run = make_jobs(world, smtp_port).morning_digest()
    assert run is not None
    assert run.status == "done"
    assert set(inbox.recipients()) == {"a@example.org", "b@example.org", "c@example.org", "d@example.org"}
    assert set(inbox.recipients().values()) == {1}
    raw = next(r for r in inbox.raw if b"a@example.org" in r)
    (tmp_path / "digest.eml").write_bytes(raw)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert b"Subject: =?utf-8?" in raw  # RFC 2047: the Chinese subject travels encoded
    assert re.fullmatch(r"【乡村振兴供需对接】今日为您推荐\d+个村屯需求", str(msg["Subject"]))
    assert "乡村振兴供需对接平台" in str(msg["From"])
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "空巢老人义诊" in text
    assert "空巢老人义诊" in html
    assert "推荐理由：类别一致：医护康养" in text
    assert "http://testserver/demand/222424/WQ-1" in html
    assert not PHONE.search(text)
    assert not PHONE.search(html)
    unsubscribe = str(msg["List-Unsubscribe"]).strip().strip("<>")
    assert unsubscribe.startswith("http://testserver/unsubscribe/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page = world.client().get(unsubscribe.removeprefix("http://testserver"))
    assert page.status_code == 200
    assert "汪清县仁爱医院今后不会再收到推荐邮件" in page.text
    assert world.client().get("/unsubscribe/forged-token").status_code == 404


def test_only_new_recommendations_and_nothing_when_nothing_is_new(world: World, inbox: Inbox,
                                                                  smtp_port: int) -> None:
    jobs = make_jobs(world, smtp_port)
    jobs.morning_digest()
    first = len(inbox.raw)
    assert first == 4
    assert jobs.morning_digest() is None  # the same slot never runs twice
    world.clock.advance(days=1)
    run = jobs.morning_digest()
    assert run is not None
    assert (run.counts["org_mails"], run.counts["nothing_new"]) == (0, 4)
    assert len(inbox.raw) == first


def test_crash_midway_then_restart_sends_exactly_one_mail_each(world: World, inbox: Inbox, smtp_port: int) -> None:
    def crash_after_two(sent: int) -> None:
        if sent == 2:
            raise RuntimeError("进程被杀死（测试注入）")

    with pytest.raises(RuntimeError):
        make_jobs(world, smtp_port, after_send=crash_after_two).morning_digest()
    assert len(inbox.raw) == 2
    with Session(world.engine) as session:
        statuses = Counter(m.status for m in session.exec(select(OutboxMessage)).all())
        assert statuses == Counter({"sent": 2, "pending": 2})
        assert session.exec(select(JobRun)).one().status == "failed"
    world.clock.advance(minutes=5)
    run = make_jobs(world, smtp_port).morning_digest()  # the restarted process resumes the slot
    assert run is not None
    assert run.status == "done"
    assert inbox.recipients() == Counter({"a@example.org": 1, "b@example.org": 1, "c@example.org": 1,
                                          "d@example.org": 1})


def test_smtp_down_loses_nothing(world: World, tmp_path: Path) -> None:
    port = free_port()  # nobody listens here yet
    jobs = make_jobs(world, port)
    run = jobs.morning_digest()
    assert run is not None
    assert (run.counts["sent"], run.counts["deferred"]) == (0, 4)
    staff = world.web_login("admin")
    overview = staff.get("/staff/overview").text
    assert overview.count("<td>待重试</td>") == 4
    assert "无法连接邮件服务器" in overview
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert jobs.outbox_flush()["sent"] == 0  # the backoff has not passed yet
        world.clock.advance(minutes=2)
        assert jobs.outbox_flush()["sent"] == 4
        assert jobs.outbox_flush() == {"sent": 0, "deferred": 0, "failed": 0}
    finally:
        controller.stop()
    assert set(handler.recipients().values()) == {1}
    assert len(handler.raw) == 4


def test_two_scheduler_processes_run_each_job_once(world: World, inbox: Inbox, smtp_port: int, db_url: str) -> None:
    slot = "2026-11-29T07:30+08:00"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.api.scheduler_worker", db_url, str(smtp_port), slot],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(out.strip())
    assert sorted(outputs) == ["ran", "skipped"]
    with Session(world.engine) as session:
        runs = session.exec(select(JobRun).where(JobRun.job == "morning_digest")).all()
    assert [(r.slot, r.status) for r in runs] == [(slot, "done")]
    assert set(inbox.recipients().values()) == {1}
    assert len(inbox.raw) == 4


def test_staff_digest_lists_waiting_pairings_oldest_first(world: World, inbox: Inbox, smtp_port: int) -> None:
    with Session(world.engine) as session:
        user = session.exec(select(User).where(User.username == "wangqing")).one()
        user.email = "wq-staff@example.org"
        session.add(user)
        session.commit()
    make_jobs(world, smtp_port).morning_digest()
    msg = next(m for m in inbox.messages() if str(m["To"]) == "wq-staff@example.org")
    assert str(msg["Subject"]).startswith("【乡村振兴供需对接】汪清县：")
    text = msg.get_body(("plain",)).get_content()
    assert "待审核的对接" in text
    assert "空巢老人义诊" in text
    assert "木耳滞销" in text
    assert not PHONE.search(text)


def test_weekly_means_mondays(world: World, inbox: Inbox, smtp_port: int) -> None:
    client = world.web_login("orga")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/org").text).group(1)  # type: ignore[union-attr]
    r = client.post("/settings/mail", data={"frequency": "weekly", "csrf_token": csrf})
    assert "邮件设置已保存：每周一" in r.text
    jobs = make_jobs(world, smtp_port)
    jobs.morning_digest()  # 2026-11-29 is a Sunday
    assert "a@example.org" not in inbox.recipients()
    world.clock.advance(days=1)
    jobs.morning_digest()
    assert inbox.recipients()["a@example.org"] == 1


def test_incremental_match_without_a_full_run(world: World, smtp_port: int) -> None:
    client, h = world.client(), world.token("wangqing")
    body = {"ref": "WQ-7", "city": "延边州", "county": "汪清县", "title": "老人健康体检",
            "description": "为空巢老人义诊体检，测血压血糖", "contact_name": "李书记", "contact_phone": "13704339998"}
    assert client.post("/api/v1/demands", headers=h, json=body).status_code == 201
    with Session(world.engine) as session:
        assert [p.kind for p in session.exec(select(PendingMatch)).all()] == ["demand"]
        runs_before = len(session.exec(select(MatchRun)).all())
    counts = make_jobs(world, smtp_port).incremental_match()
    assert counts == {"demands": 1, "organizations": 0}
    recs = client.get("/api/v1/demands/WQ-7/recommendations", headers=h).json()
    assert recs["items"][0]["organization"]["credit_code"] == world.codes["A"]
    a_list = client.get(f"/api/v1/organizations/{world.codes['A']}/recommendations", headers=world.token("orga"))
    assert "WQ-7" in [item["demand"]["ref"] for item in a_list.json()["items"]]
    client.post("/api/v1/demands/WQ-7/close", headers=h)
    make_jobs(world, smtp_port).incremental_match()
    with Session(world.engine) as session:
        assert len(session.exec(select(MatchRun)).all()) == runs_before
        assert session.exec(select(PendingMatch)).all() == []
        demand_ids = {r.demand_id for r in session.exec(select(Recommendation)).all()}
    assert recs["items"]
    assert client.get("/api/v1/demands/WQ-7/recommendations", headers=h).json()["items"] == []
    assert len(demand_ids) == 4


def test_the_encode_job_gives_every_text_its_meaning_once(world: World, smtp_port: int) -> None:
    from models import TextVector

    jobs = make_jobs(world, smtp_port)
    first = jobs.encode_texts()
    assert first["encoded"] == first["texts"] > 0
    assert jobs.encode_texts() == {"encoded": 0, "texts": first["texts"]}  # nothing computed twice
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(TextVector)).one() == first["texts"]


def test_a_new_demand_is_encoded_when_it_is_matched_alone(world: World, smtp_port: int) -> None:
    from models import TextVector

    jobs = make_jobs(world, smtp_port)
    jobs.encode_texts()  # the organizations' meaning is there, as after the background job
    client, h = world.client(), world.token("wangqing")
    body = {"ref": "WQ-8", "city": "延边州", "county": "汪清县", "title": "屯里老人血压高",
            "description": "好些老人血压高、血糖高，没人给量，也不按时吃药", "contact_name": "李书记",
            "contact_phone": "13704339998"}
    assert client.post("/api/v1/demands", headers=h, json=body).status_code == 201
    with Session(world.engine) as session:
        before = session.exec(select(func.count()).select_from(TextVector)).one()
    assert jobs.incremental_match() == {"demands": 1, "organizations": 0}
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(TextVector)).one() == before + 1
        recs = session.exec(select(Recommendation).join(Demand, Demand.id == Recommendation.demand_id)
                            .where(Demand.ref == "WQ-8")).all()
    assert recs and any(r.signals["semantic"] > 0 for r in recs)


def test_nightly_rematch_job_and_job_history(world: World, smtp_port: int) -> None:
    jobs = make_jobs(world, smtp_port)
    run = jobs.nightly_rematch()
    assert run is not None
    assert run.counts["recommendations"] > 0
    assert run.slot == "2026-11-29T02:00+08:00"  # 16:00 Beijing time belongs to that night's slot
    assert jobs.nightly_rematch() is None
    html = world.web_login("admin").get("/staff/overview").text
    assert "夜间全量匹配" in html


def test_the_web_schedulers_full_runs_go_to_a_process_of_their_own(world: World, smtp_port: int) -> None:
    # As deployed with `make run`: the web process runs the scheduler, and a nightly re-match in
    # it would hold the interpreter lock its requests need.
    jobs = make_jobs(world, smtp_port, full_runs_in_own_process=True)
    built: list[Matcher] = []

    def counted() -> Matcher:
        built.append(world.app.state.matcher())  # type: ignore[attr-defined]
        return built[-1]

    jobs.matcher_factory = counted
    run = jobs.nightly_rematch()
    assert built == []  # the run's process builds its own; this one needs none to start it
    assert run is not None and run.status == "done"
    (proc,) = jobs.processes
    assert proc.exitcode == 0 and proc.pid != os.getpid()
    with Session(world.engine) as session:
        match_run = session.get(MatchRun, run.counts["match_run"])
        assert match_run is not None and match_run.status == "done"
        assert run.counts["recommendations"] == match_run.n_recommendations > 0
        assert session.exec(select(func.count()).select_from(Recommendation)
                            .where(Recommendation.run_id == match_run.id)).one() == match_run.n_recommendations


def test_scheduler_defaults_survive_downtime(world: World, smtp_port: int) -> None:
    scheduler = build_scheduler(make_jobs(world, smtp_port))
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"nightly_rematch", "morning_digest", "incremental_match", "outbox_flush", "encode_texts"}
    assert str(jobs["encode_texts"].trigger) == "interval[0:05:00]"
    assert str(jobs["nightly_rematch"].trigger) == "cron[hour='2', minute='0']"
    assert str(jobs["morning_digest"].trigger) == "cron[hour='7', minute='30']"
    assert str(jobs["morning_digest"].trigger.timezone) == "Asia/Shanghai"
    defaults = scheduler._job_defaults
    assert (defaults["coalesce"], defaults["max_instances"], defaults["misfire_grace_time"]) == (True, 1, 3600)


@pytest.mark.parametrize(("utc", "expected"), [
    (datetime(2026, 11, 29, 0, 0, tzinfo=UTC), "2026-11-29T07:30+08:00"),  # 08:00 in Jilin
    (datetime(2026, 11, 28, 23, 0, tzinfo=UTC), "2026-11-28T07:30+08:00"),  # 07:00: yesterday's slot
])
def test_slot_of(utc: datetime, expected: str) -> None:
    assert slot_of(utc, "07:30", "Asia/Shanghai") == expected


def test_incremental_lists_stay_ranked_and_full(world: World) -> None:
    """After a new demand is matched alone, every list is ranked 1..k by score, and an
    organization whose list is full takes the demand only when it beats its k-th."""
    from api.services.incremental import match_pending
    from api.services.runs import run_rematch
    from matcher import MatchConfig, Matcher

    matcher = Matcher(MatchConfig(top_k=2))
    with Session(world.engine) as session:
        run_id = run_rematch(session, matcher).id
        session.commit()
    with Session(world.engine) as session:
        before = {(r.organization_id, r.demand_id): r.score for r in session.exec(
            select(Recommendation).where(Recommendation.run_id == run_id,
                                         Recommendation.organization_rank.is_not(None))).all()}
    client, h = world.client(), world.token("wangqing")
    body = {"ref": "WQ-8", "city": "延边州", "county": "汪清县", "title": "老人义诊",
            "description": "为空巢老人义诊体检，送常用药上门", "contact_name": "李书记", "contact_phone": "13704339997"}
    assert client.post("/api/v1/demands", headers=h, json=body).status_code == 201
    with Session(world.engine) as session:
        match_pending(session, matcher)
        session.commit()
        rows = session.exec(select(Recommendation).where(Recommendation.run_id == run_id)).all()
        new_id = session.exec(select(Demand.id).where(Demand.ref == "WQ-8")).one()
    by_org: dict[int, list] = {}
    by_demand: dict[int, list] = {}
    for r in rows:
        if r.organization_rank:
            by_org.setdefault(r.organization_id, []).append(r)
        if r.demand_rank:
            by_demand.setdefault(r.demand_id, []).append(r)
        assert r.organization_rank or r.demand_rank  # no row outside every list
    for lists in (by_org, by_demand):
        for items in lists.values():
            assert len(items) <= 2
    for org_id, items in by_org.items():
        ranked = sorted(items, key=lambda r: r.organization_rank)
        assert [r.organization_rank for r in ranked] == list(range(1, len(ranked) + 1))
        assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
        old = sorted((s for (o, _d), s in before.items() if o == org_id), reverse=True)
        new = [r for r in ranked if r.demand_id == new_id]
        if new and len(old) == 2:
            assert new[0].score > old[1]  # it displaced the old second
    assert by_demand[new_id]


def test_a_changed_organization_is_matched_alone_against_the_demand_index(world: World, smtp_port: int) -> None:
    c = world.codes["C"]  # the e-commerce association: nothing to do with health checks so far
    before = world.client().get(f"/api/v1/organizations/{c}/recommendations", headers=world.token("admin")).json()
    r = world.client().patch(f"/api/v1/organizations/{c}", headers=world.token("admin"),
                             json={"capability": "组织医生下乡义诊巡诊，为空巢老人免费体检，送常用药上门"})
    assert r.status_code == 200
    assert make_jobs(world, smtp_port).incremental_match() == {"demands": 0, "organizations": 1}
    after = world.client().get(f"/api/v1/organizations/{c}/recommendations", headers=world.token("admin")).json()
    refs = [item["demand"]["ref"] for item in after["items"]]
    assert refs and refs != [item["demand"]["ref"] for item in before["items"]]
    assert refs[0] in ("WQ-1", "CC-1")  # now the health-check demands come first
    assert any("义诊" in " ".join(item["reasons"]) for item in after["items"][:1])
    with Session(world.engine) as session:
        rows = session.exec(select(Recommendation)).all()
    for key in ("demand_id", "organization_id"):
        rank = "demand_rank" if key == "demand_id" else "organization_rank"
        lists: dict[int, list[int]] = {}
        for row in rows:
            if getattr(row, rank):
                lists.setdefault(getattr(row, key), []).append(getattr(row, rank))
        assert all(sorted(v) == list(range(1, len(v) + 1)) for v in lists.values())
