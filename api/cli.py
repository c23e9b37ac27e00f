"""The ``duijie`` command line."""

from __future__ import annotations

import json
import resource
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from api.db import create_tables, make_engine, session_scope
from api.errors import AppError
from api.settings import get_settings

app = typer.Typer(help="duijie 对接：社会组织参与乡村振兴供需对接平台", no_args_is_help=True,
                  add_completion=False)
import_app = typer.Typer(help="导入报名表或需求要点（.xlsx / .csv）", no_args_is_help=True)
export_app = typer.Typer(help="导出", no_args_is_help=True)
user_app = typer.Typer(help="账号管理", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(user_app, name="user")


def _engine():  # type: ignore[no-untyped-def]
    engine = make_engine(get_settings().database_url)
    create_tables(engine)
    return engine


def _fail(err: AppError) -> None:
    report = getattr(err, "report", None)
    typer.echo(report() if callable(report) else err.message, err=True)
    raise typer.Exit(code=1)


def _import(kind: str, file: Path, skip_invalid: bool, error_file: Path | None,
            create_accounts: bool = False) -> None:
    from api.services.auth import Scope
    from api.services.engine import get_matcher
    from api.services.uploads import import_for_scope

    if not file.exists():
        typer.echo(f"文件不存在：{file}", err=True)
        raise typer.Exit(code=2)
    try:
        with session_scope(_engine()) as session:
            # The CLI is run by the province's operators: the whole of Jilin.
            report, accounts = import_for_scope(session, file, kind, scope=Scope("province"), matcher=get_matcher(),
                                                skip_invalid=skip_invalid, error_file=error_file,
                                                create_accounts=create_accounts)
    except AppError as err:
        _fail(err)
        return
    for warning in report.warnings:
        typer.echo(f"提示：{warning}")
    for error in report.errors:
        typer.echo(f"  跳过：{error}")
    typer.echo(report.summary())
    if accounts:
        typer.echo(f"新开通社会组织账号{len(accounts)}个（首次登录须修改密码）：")
        for a in accounts:
            typer.echo(f"  {a['name']}  用户名 {a['username']}  初始密码 {a['initial_password']}")


SkipOpt = Annotated[bool, typer.Option("--skip-invalid", help="导入正确的行，错误行写入错误文件")]
ErrOpt = Annotated[Path | None, typer.Option("--error-file", help="错误行文件（默认：原文件名.errors）")]


@import_app.command("orgs")
def import_orgs(
    file: Path, skip_invalid: SkipOpt = False, error_file: ErrOpt = None,
    create_accounts: Annotated[bool, typer.Option("--create-accounts", help="为新组织开通账号并打印初始密码")] = False,
) -> None:
    """导入《社会组织参与乡村振兴行动报名表》。"""
    _import("orgs", file, skip_invalid, error_file, create_accounts)


@import_app.command("demands")
def import_demands(file: Path, skip_invalid: SkipOpt = False, error_file: ErrOpt = None) -> None:
    """导入《乡村振兴帮扶需求要点》。"""
    _import("demands", file, skip_invalid, error_file)


@app.command()
def rematch(
    today: Annotated[str | None, typer.Option(help="以该日期判断需求是否过期（默认今天）")] = None,
) -> None:
    """重新匹配全部社会组织与需求，保存推荐结果。"""
    from api.services.engine import get_matcher
    from api.services.matching import run_rematch

    stages = ["tokenize", "vectorize", "candidates", "signals", "ranking", "explain"]
    labels = {"tokenize": "分词", "vectorize": "向量化", "candidates": "候选", "signals": "信号",
              "ranking": "排序", "explain": "理由"}
    settings = get_settings()
    matcher = get_matcher()
    with typer.progressbar(length=len(stages), label="匹配中") as bar:
        def progress(stage: str) -> None:
            bar.label = labels.get(stage, stage)
            bar.update(1)

        with session_scope(_engine()) as session:
            run = run_rematch(session, matcher, today=date.fromisoformat(today) if today else date.today(),
                              keep_runs=settings.keep_runs, progress=progress)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    typer.echo(
        f"匹配完成（第{run.id}次）：社会组织{run.n_organizations}个，有效需求{run.n_demands}个，"
        f"推荐{run.n_recommendations}条；覆盖率{run.coverage:.1%}"
        f"（{run.demands_without_candidates}个需求无候选）；用时{run.duration_s:.2f}秒，"
        f"进程内存峰值{peak_mb:.0f} MB"
    )
    typer.echo("各阶段用时（秒）：" + "，".join(f"{labels.get(k, k)} {v:.2f}" for k, v in run.timings.items()))


@app.command()
def recommend(
    demand: Annotated[str | None, typer.Option("--demand", help="需求编号")] = None,
    org: Annotated[str | None, typer.Option("--org", help="统一社会信用代码")] = None,
    county: Annotated[str | None, typer.Option(help="县（市、区），需求编号重复时用")] = None,
    top: int = 10,
) -> None:
    """查看某个需求的推荐社会组织，或某个社会组织的推荐需求。"""
    from api.services.engine import get_matcher
    from api.services.matching import (
        find_demand,
        find_organization,
        recommendations_for_demand,
        recommendations_for_organization,
    )

    if bool(demand) == bool(org):
        typer.echo("请指定 --demand 或 --org 其中之一", err=True)
        raise typer.Exit(code=2)
    regions = get_matcher().regions
    try:
        with session_scope(_engine()) as session:
            if demand:
                county_code = None
                if county:
                    found = regions.resolve_county(county)
                    county_code = found.code if found else county
                d = find_demand(session, demand, county_code)
                views = recommendations_for_demand(session, d, top=top)
                typer.echo(f"需求 {d.ref}｜{regions.place_name(d.city_code, d.county_code)}"
                           f"{d.township}{d.village}｜{d.category}｜{d.title}")
                rows = [(v.recommendation.demand_rank, v.recommendation.score, v.organization.name,
                         v.recommendation.reasons) for v in views]
            else:
                o = find_organization(session, org or "")
                views = recommendations_for_organization(session, o, top=top)
                typer.echo(f"社会组织 {o.name}｜{o.credit_code}｜{'、'.join(o.actions)}")
                rows = [(v.recommendation.organization_rank, v.recommendation.score,
                         f"{v.demand.ref} {regions.place_name(v.demand.city_code, v.demand.county_code)}"
                         f"{v.demand.village} {v.demand.title}", v.recommendation.reasons) for v in views]
    except AppError as err:
        _fail(err)
        return
    if not rows:
        typer.echo("暂无推荐（请先运行 duijie rematch）")
    for rank, score, label, reasons in rows:
        typer.echo(f"{rank:>3}. {score:.3f}  {label}")
        typer.echo(f"       {'；'.join(reasons)}")


@export_app.command("recommendations")
def export_recommendations(
    out: Annotated[Path, typer.Option("--out", help="输出文件 .jsonl")],
    side: Annotated[str, typer.Option("--for", help="demands 或 organizations")] = "demands",
    top: Annotated[int | None, typer.Option(help="每个对象最多几条")] = None,
) -> None:
    """导出最近一次匹配的推荐结果，每行一个 JSON 对象。"""
    from api.services.matching import export_recommendations as export

    if side not in ("demands", "organizations"):
        typer.echo("--for 应为 demands 或 organizations", err=True)
        raise typer.Exit(code=2)
    try:
        with session_scope(_engine()) as session:
            n = export(session, out, side=side, top=top)
    except AppError as err:
        _fail(err)
        return
    typer.echo(f"已导出{n}条推荐到 {out}")


@app.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option(help="演示文件目录")] = None,
    organizations: int = 320,
    demands: int = 2400,
    seed: int = 7,
) -> None:
    """生成演示数据（报名表 .xlsx 与需求要点 .csv）并导入。"""
    from api.services.demo import generate

    folder = out_dir or Path(get_settings().demo_dir)
    files = generate(folder, organizations=organizations, demands=demands, seed=seed)
    typer.echo(f"演示文件：{files.organizations}，{files.demands}")
    _import("orgs", files.organizations, False, None)
    _import("demands", files.demands, False, None)
    from api.services.demo import ensure_demo_accounts
    from api.services.engine import get_matcher

    with session_scope(_engine()) as session:
        accounts = ensure_demo_accounts(session, get_matcher().regions)
    typer.echo("演示账号（每种角色一个，登录 http://127.0.0.1:8000/login ）：")
    for a in accounts:
        typer.echo(f"  {a['role']:<8} 用户名 {a['username']:<20} 密码 {a['password']}  {a['note']}")


@app.command("eval")
def evaluate(
    k: int = 10,
    data: Annotated[Path | None, typer.Option(help="开发集目录（默认 data/eval）")] = None,
) -> None:
    """在标注开发集上评估：本引擎与纯 BM25 的 NDCG@k、Recall@k（双向）。"""
    from api.services.evaluation import evaluate_devset

    started = time.perf_counter()
    report = evaluate_devset(data, k=k)
    typer.echo(report.table())
    typer.echo(f"（用时{time.perf_counter() - started:.1f}秒）")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          workers: Annotated[int, typer.Option(help="工作进程数（PostgreSQL 部署可多于1）")] = 1) -> None:
    """运行网页与 API。"""
    import uvicorn

    if workers > 1:
        get_settings().resolved_secret()  # every worker must sign with the same key
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers)
        return
    from api.app import create_app

    uvicorn.run(create_app(get_settings()), host=host, port=port)


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="province|city|county|org")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    region: Annotated[str | None, typer.Option(help="市州或县区，如 延边州、汪清县")] = None,
    org: Annotated[str | None, typer.Option("--org", help="社会组织的统一社会信用代码")] = None,
) -> None:
    """新建账号。"""
    from api.services import auth
    from api.services.engine import get_matcher
    from api.services.matching import find_organization

    regions = get_matcher().regions
    try:
        with session_scope(_engine()) as session:
            organization = find_organization(session, org) if org else None
            user = auth.create_user(session, username=username, password=password, role=role,
                                    region_code=auth.resolve_region(regions, role, region), organization=organization,
                                    regions=regions)
            label = auth.user_public(user, session, regions)
    except AppError as err:
        _fail(err)
        return
    typer.echo(f"已创建账号 {label.username}（{label.role_label}{'，' + label.region_name if label.region_name else ''}"
               f"{'，' + (organization.name if organization else '') if organization else ''}）")


@user_app.command("list")
def user_list() -> None:
    """列出账号。"""
    from sqlmodel import select

    from api.services.auth import user_public
    from api.services.engine import get_matcher
    from models import User

    regions = get_matcher().regions
    with session_scope(_engine()) as session:
        for user in session.exec(select(User).order_by(User.id)).all():
            u = user_public(user, session, regions)
            status = "" if u.is_active else "（已停用）"
            typer.echo(f"{u.username:<20} {u.role_label:<8} {u.region_name or u.credit_code or ''} {status}")


@app.command("dump-config")
def dump_config() -> None:
    """打印匹配引擎当前配置及其哈希。"""
    from matcher import MatchConfig

    cfg = MatchConfig()
    typer.echo(json.dumps({"hash": cfg.config_hash(), **cfg.to_dict()}, ensure_ascii=False, indent=2))


