"""Why is X (not) suggested for Y: the CLI, the API and the staff page on a real database."""

from __future__ import annotations

from typer.testing import CliRunner

from api.cli import app
from api.db import session_scope
from api.services.runs import run_rematch
from tests.world import World


def explain(world: World, ref: str, org: str, username: str = "wangqing") -> dict:  # type: ignore[type-arg]
    r = world.client().get(f"/api/v1/demands/{ref}/explain", params={"org": world.codes[org], "county": "汪清县"},
                           headers=world.token(username))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_recommended_pair_shows_its_signals_and_ranks(world: World) -> None:
    e = explain(world, "WQ-1", "A")
    assert e["recommended"] is True and e["stored_rank"] == 1 and e["why_not"] == []
    listed = world.client().get("/api/v1/demands/WQ-1/recommendations", params={"county": "汪清县"},
                                headers=world.token("wangqing")).json()["items"][0]
    assert listed["organization"]["credit_code"] == world.codes["A"]
    # Ranked against everything as a single record is (the text's IDF from one side, as the
    # incremental job has it), the pair keeps its place and its category and reach.
    assert e["demand_rank"] == 1 and e["demand_candidates"] == 3  # the fourth has no evidence for it
    assert {k: round(e["signals"][k], 3) for k in ("category", "reach")} == {
        k: round(listed["signals"][k], 3) for k in ("category", "reach")}
    assert e["lines"][1] == f"结论：已推荐，在该需求的推荐中排第1位（第{e['run_id']}次匹配）"
    assert "类别一致：医护康养" in e["reasons"]


def test_why_not_a_rejected_an_unrelated_and_a_held_pair(world: World) -> None:
    r = world.client().post("/api/v1/pairings/decisions", headers=world.token("wangqing"), json={
        "demand_ref": "WQ-1", "credit_code": world.codes["C"], "decision": "reject", "reason_code": "capability"})
    assert r.status_code == 200, r.text
    with session_scope(world.engine) as session:
        run_rematch(session, world.app.state.matcher())  # type: ignore[attr-defined]
    rejected = explain(world, "WQ-1", "C")
    assert rejected["recommended"] is False
    assert rejected["why_not"] == ["该对接已被驳回（能力与需求不符），不再推荐"]
    unrelated = explain(world, "WQ-2", "D")  # a physicians' association of 长春 for 汪清's unsold fungus
    assert unrelated["recommended"] is False
    # No word, no meaning and no kind of its own for selling fungus: below the evidence floor.
    assert [w[:6] for w in unrelated["why_not"]] == ["没有帮扶能力"]
    assert unrelated["score"] == 0
    assert unrelated["demand_rank"] == unrelated["demand_candidates"] == 2  # last, after the one with evidence
    assert world.client().post("/api/v1/demands/WQ-2/close", params={"county": "汪清县"},
                               headers=world.token("wangqing")).status_code == 200
    closed = explain(world, "WQ-2", "C")
    assert closed["why_not"] == ["需求已关闭，不参与匹配"] and closed["signals"] == {}


def test_only_staff_of_the_demand_s_region_may_ask(world: World) -> None:
    r = world.client().get("/api/v1/demands/WQ-1/explain", params={"org": world.codes["A"], "county": "汪清县"},
                           headers=world.token("yanji"))
    assert r.status_code == 403
    r = world.client().get("/api/v1/demands/WQ-1/explain", params={"org": world.codes["A"], "county": "汪清县"},
                           headers=world.token("orga"))
    assert r.status_code == 403


def test_the_cli_and_the_staff_page_say_the_same(world: World, cli_env: str) -> None:
    result = CliRunner().invoke(app, ["explain", "--demand", "WQ-1", "--county", "汪清县", "--org", world.codes["A"]],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"需求 WQ-1「空巢老人义诊」 ← 社会组织 {world.codes['A']}「汪清县仁爱医院」"
    page = world.web_login("wangqing").get("/staff/explain", params={"ref": "WQ-1", "county": "汪清县",
                                                                     "org": world.codes["A"]})
    assert page.status_code == 200
    for line in lines:
        assert line in page.text
    missing = world.web_login("wangqing").get("/staff/explain", params={"ref": "NOPE", "org": world.codes["A"]})
    assert "未找到需求编号为NOPE的需求" in missing.text


def test_with_meaning_stored_the_closest_clauses_are_named(world: World, encoder) -> None:  # type: ignore[no-untyped-def]
    from api.services.records import load_demands, load_organizations
    from api.services.vectors import encode_missing

    with session_scope(world.engine) as session:
        encode_missing(session, load_organizations(session), load_demands(session)[0], encoder=encoder)
    e = explain(world, "WQ-1", "A")
    assert e["signals"]["semantic"] > 0
    named = [line for line in e["lines"] if line.startswith("语义相近：“")]
    assert len(named) == 1 and "相似度" in named[0]
