"""The duijie CLI end to end on a real database: import → rematch → recommend → export."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.cli import app
from api.db import make_engine
from api.services.demo import generate
from models import Demand, MatchRun, Organization, Recommendation
from tests.factories import org_row, write_csv

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_demo_rematch_recommend_export(cli_env: str, tmp_path: Path) -> None:
    out = invoke("demo", "--organizations", "60", "--demands", "300", "--seed", "11", "--no-history")
    assert "社会组织导入完成：共60行，新增60" in out
    assert "需求导入完成：共300行，新增300" in out
    out = invoke("rematch", "--today", "2026-11-29")
    assert "匹配完成（第1次）" in out
    assert "覆盖率" in out
    assert "写入数据库" in out and "db_write" not in out  # every stage named in Chinese

    engine = make_engine(cli_env)
    with Session(engine) as session:
        run = session.exec(select(MatchRun)).one()
        open_valid = session.exec(select(func.count()).select_from(Demand)).one()
        n_recs = session.exec(select(func.count()).select_from(Recommendation)).one()
    assert run.status == "done"
    assert run.n_organizations == 60
    assert run.n_demands <= open_valid  # expired demands are left out
    assert n_recs == run.n_recommendations > 0
    assert set(run.timings) >= {"tokenize", "vectorize", "candidates", "signals", "ranking", "db_write"}

    demands_file = tmp_path / "d.jsonl"
    invoke("export", "recommendations", "--for", "demands", "--out", str(demands_file), "--top", "3")
    lines = read_jsonl(demands_file)
    assert lines
    assert {"demand_ref", "credit_code", "rank", "score", "signals", "reasons"} <= set(lines[0])
    by_demand: dict[str, list[int]] = {}
    for line in lines:
        by_demand.setdefault(f"{line['county_code']}|{line['demand_ref']}", []).append(line["rank"])
        assert line["reasons"]
    assert all(ranks == list(range(1, len(ranks) + 1)) and len(ranks) <= 3 for ranks in by_demand.values())

    orgs_file = tmp_path / "o.jsonl"
    invoke("export", "recommendations", "--for", "organizations", "--out", str(orgs_file))
    org_lines = read_jsonl(orgs_file)
    assert len({line["credit_code"] for line in org_lines}) == 60

    first = lines[0]
    out = invoke("recommend", "--demand", first["demand_ref"], "--county", first["county_code"])
    assert f"需求 {first['demand_ref']}" in out
    assert "  1. " in out
    out = invoke("recommend", "--org", org_lines[0]["credit_code"], "--top", "2")
    assert "  2. " in out
    assert "  3. " not in out


def test_rematch_keeps_only_recent_runs(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.settings import get_settings

    invoke("demo", "--organizations", "20", "--demands", "60", "--no-history")
    monkeypatch.setenv("DUIJIE_KEEP_RUNS", "2")
    get_settings.cache_clear()
    for _ in range(3):
        invoke("rematch")
    with Session(make_engine(cli_env)) as session:
        runs = session.exec(select(Recommendation.run_id).distinct()).all()
    assert sorted(runs) == [2, 3]


def test_fresh_contract_corpus_end_to_end(cli_env: str, tmp_path: Path) -> None:
    """A corpus the engine has never seen (the dev set's files), without touching any file."""
    invoke("import", "orgs", str(ROOT / "data/eval/orgs.csv"))
    invoke("import", "demands", str(ROOT / "data/eval/demands.csv"))
    invoke("rematch")
    out_file = tmp_path / "r.jsonl"
    invoke("export", "recommendations", "--for", "demands", "--out", str(out_file), "--top", "5")
    lines = read_jsonl(out_file)
    assert len({line["demand_ref"] for line in lines}) == 120
    top = next(line for line in lines if line["demand_ref"] == "DEV-001" and line["rank"] == 1)
    assert top["reasons"][0].startswith("类别一致")


def test_bad_file_is_refused_with_a_report_and_nothing_written(cli_env: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", [org_row(1), org_row(2, 统一社会信用代码="123")])
    result = runner.invoke(app, ["import", "orgs", str(path)])
    assert result.exit_code == 1
    assert "文件被拒绝，未写入任何数据：1行有错误" in result.output
    assert "第3行「统一社会信用代码」（值：123）：应为18位，实际3位" in result.output
    with Session(make_engine(cli_env)) as session:
        assert session.exec(select(func.count()).select_from(Organization)).one() == 0


def test_skip_invalid_from_the_cli(cli_env: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", [org_row(1), org_row(2, 统一社会信用代码="123")])
    out = invoke("import", "orgs", str(path), "--skip-invalid")
    assert "新增1" in out
    assert "跳过错误行1" in out
    assert (tmp_path / "o.errors.csv").exists()


def test_unknown_demand_ref(cli_env: str) -> None:
    result = runner.invoke(app, ["recommend", "--demand", "NOPE"])
    assert result.exit_code == 1
    assert "未找到需求编号为NOPE的需求" in result.output


def test_export_before_any_run(cli_env: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "recommendations", "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1
    assert "还没有完成的匹配" in result.output


def test_eval_engine_beats_bm25_by_a_wide_margin() -> None:
    from api.services.evaluation import evaluate_devset

    report = evaluate_devset()
    assert report.engine_demands.ndcg >= report.bm25_demands.ndcg + 0.1
    assert report.engine_orgs.ndcg >= report.bm25_orgs.ndcg + 0.1
    assert report.engine_demands.queries == 101
    # The share of first suggestions graded 0, over the 120 demands given any.
    assert 0 < report.engine_demands.first_irrelevant < report.bm25_demands.first_irrelevant
    out = invoke("eval")
    assert out.count("bm25") == 4 and out.count("engine") == 4  # both dev sets, both directions
    assert "开发集一" in out and "开发集二" in out
    assert "首条不相关" in out
    assert "类别推断准确率" in out


def test_the_second_dev_set_is_harder_and_holds_what_the_issue_asks() -> None:
    import csv

    from api.services.evaluation import dev_sets, evaluate_devset

    folder = dev_sets()[1][1]
    with (folder / "orgs.csv").open(encoding="utf-8") as f:
        orgs = list(csv.DictReader(f))
    with (folder / "demands.csv").open(encoding="utf-8") as f:
        demands = list(csv.DictReader(f))
    assert len(demands) >= 150 and len(orgs) >= 80
    declaring_all = [o for o in orgs if len(o["参与行动"].split("、")) == 6]
    assert len(declaring_all) >= 30
    assert sum(1 for d in demands if not d["需求类别"]) >= 20  # blank categories
    assert any("屯" in d["需求内容"] or "俺" in d["需求内容"] for d in demands)
    assert any(ch in d["需求内容"] for d in demands for ch in "們給說歲")  # traditional characters
    report = evaluate_devset(folder)
    assert report.n_demands == len(demands)
    # the engine still beats BM25 on ranking quality on it
    assert report.engine_demands.ndcg > report.bm25_demands.ndcg
    assert report.engine_orgs.ndcg > report.bm25_orgs.ndcg


def test_demo_files_are_contract_format(tmp_path: Path) -> None:
    files = generate(tmp_path, organizations=30, demands=70, seed=3)
    assert files.organizations.suffix == ".xlsx"
    raw = files.demands.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # saved as GBK, as Excel on Chinese Windows does
    assert "需求名称" in raw.decode("gb18030")


def test_user_add_and_list(cli_env: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", [org_row(1)])
    out = invoke("import", "orgs", str(path), "--create-accounts")
    assert "新开通社会组织账号1个" in out
    assert f"用户名 {org_row(1)['统一社会信用代码']}  初始密码 " in out
    out = invoke("user", "add", "yb", "--role", "city", "--region", "延边州", "--password", "long-enough-1")
    assert out.strip() == "已创建账号 yb（市州工作人员，延边朝鲜族自治州）"
    out = invoke("user", "add", "wq", "--role", "county", "--region", "汪清", "--password", "long-enough-1")
    assert "县区工作人员，汪清县" in out
    bad = runner.invoke(app, ["user", "add", "x", "--role", "county", "--region", "火星县", "--password", "abcdefgh1"])
    assert bad.exit_code == 1
    assert "无法识别的县（市、区）：火星县" in bad.output
    short = runner.invoke(app, ["user", "add", "y", "--role", "province", "--password", "short"])
    assert "密码至少10位" in short.output
    listing = invoke("user", "list")
    assert [line.split()[0] for line in listing.strip().splitlines()] == [org_row(1)["统一社会信用代码"], "yb", "wq"]


def test_demo_prints_one_account_per_role(cli_env: str) -> None:
    out = invoke("demo", "--organizations", "30", "--demands", "70")
    for role in ("province", "city", "county", "org"):
        assert f"  {role}" in out


def test_mail_preview_digest_send_and_jobs(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller

    from api.settings import get_settings
    from tests.inbox import Inbox, free_port

    invoke("demo", "--organizations", "30", "--demands", "120")
    invoke("rematch")
    with Session(make_engine(cli_env)) as session:
        org = session.exec(select(Organization).where(col(Organization.email).is_not(None))
                           .order_by(Organization.id)).first()
    assert org is not None
    preview = invoke("mail", "preview", "--org", org.credit_code)
    assert preview.startswith("主题：【乡村振兴供需对接】今日为您推荐")
    assert "推荐理由：" in preview
    port = free_port()
    monkeypatch.setenv("DUIJIE_SMTP_PORT", str(port))
    get_settings.cache_clear()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        out = invoke("digest", "send")
    finally:
        controller.stop()
    assert "发送成功" in out
    assert len(inbox.raw) > 0
    assert set(inbox.recipients().values()) == {1}
    assert invoke("digest", "send").strip() == "今天的推荐邮件已经发过，或另一进程正在发送"
    after = invoke("mail", "preview", "--org", org.credit_code)
    links = re.compile(r"/demand/\d+/[\w-]+")
    mailed = set(links.findall(preview))
    assert len(mailed) == 5
    # What was mailed is never announced again: the preview now holds only what is still new.
    assert mailed.isdisjoint(links.findall(after))
    jobs = invoke("jobs")
    assert "早间推荐邮件" in jobs
    assert "完成" in jobs


def test_the_workers_listener_gives_its_connections_tcp_nodelay() -> None:
    # With Nagle's algorithm on, each keep-alive response of `duijie serve --workers N` waited ~40 ms.
    from api.cli import tcp_listener

    listener = tcp_listener("127.0.0.1", 0)
    seen: list[int] = []

    async def main() -> None:
        done = asyncio.Event()

        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()
            done.set()

        server = await asyncio.start_server(accepted, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        await done.wait()
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert listener.proto == socket.IPPROTO_TCP
    assert seen and seen[0] != 0


def test_partition_recommendations_from_the_cli(cli_env: str) -> None:
    # A new PostgreSQL database is partitioned already; SQLite has nothing to partition and says so.
    result = runner.invoke(app, ["partition-recommendations", "--yes"])
    if cli_env.startswith("sqlite"):
        assert result.exit_code == 1
        assert "只有 PostgreSQL 14 及以上版本的推荐表可以按匹配批次分区" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "推荐表已是分区表，无需转换" in result.output
