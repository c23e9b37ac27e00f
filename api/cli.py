"""The ``duijie`` command line."""

from __future__ import annotations

import json
import os
import resource
import socket
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import OperationalError

from api.db import create_tables, make_engine, session_scope
from api.errors import AppError
from api.settings import get_settings
from models.base import utcnow


class _Cli(typer.Typer):
    """The `duijie` command: an expected condition (a run in progress, the database unreachable or
    busy, a file that cannot be read or written) is one line in Chinese and exit code 1, never a
    traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except AppError as err:
            report = getattr(err, "report", None)
            message = report() if callable(report) else err.message
        except OperationalError as err:
            message = ("数据库正忙（被其他进程锁定），请稍后再试" if "locked" in str(err.orig) else
                       "无法连接数据库：请检查 DUIJIE_DATABASE_URL 以及数据库服务是否在运行")
        except OSError as err:
            message = f"无法读写文件{err.filename or ''}：{err.strerror or err}"
        typer.echo(message, err=True)
        raise SystemExit(1)


app = _Cli(help="duijie 对接：社会组织参与乡村振兴供需对接平台", no_args_is_help=True, add_completion=False)
import_app = typer.Typer(help="导入报名表或需求要点（.xlsx / .xls / .csv）", no_args_is_help=True)
export_app = typer.Typer(help="导出", no_args_is_help=True)
user_app = typer.Typer(help="账号管理", no_args_is_help=True)
mail_app = typer.Typer(help="推荐邮件", no_args_is_help=True)
digest_app = typer.Typer(help="每日摘要邮件", no_args_is_help=True)
db_app = typer.Typer(help="数据库结构版本（迁移）", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(user_app, name="user")
app.add_typer(mail_app, name="mail")
app.add_typer(digest_app, name="digest")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """把数据库升级到本程序的结构版本（原地升级，保留全部数据；已是最新则不做任何改动）。"""
    from api import schema

    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        new = schema.is_new(conn)
    if new:
        create_tables(engine)
        typer.echo(f"新建数据库：结构版本 {schema.head()}")
        return
    before, now = schema.upgrade(engine)
    typer.echo(f"数据库结构已是最新：版本 {now}" if before == now else f"数据库结构已从版本 {before} 升级到 {now}")


@db_app.command("current")
def db_current() -> None:
    """显示数据库当前的结构版本，以及本程序需要的版本。"""
    from api import schema

    now = schema.current(make_engine(get_settings().database_url))
    typer.echo(f"数据库结构版本：{now or '（无版本记录：新库，或迁移之前的版本所建）'}；本程序需要：{schema.head()}")


def _jobs():  # type: ignore[no-untyped-def]
    from api.services.engine import get_matcher
    from api.services.jobs import Jobs

    settings = get_settings()
    return Jobs(_engine(), settings, get_matcher, secret=settings.resolved_secret())


@app.command()
def scheduler() -> None:
    """以独立进程运行定时任务（夜间全量匹配、早间邮件、增量匹配、邮件重发）。"""
    from api.services.jobs import build_scheduler

    settings = get_settings()
    if settings.rematch_nice > 0:
        os.nice(settings.rematch_nice)  # all of its work is background: beside a web server, requests come first
    typer.echo(f"定时任务已启动：全量匹配每天{settings.rematch_time}，推荐邮件每天{settings.digest_time}"
               f"（{settings.timezone}），增量匹配每{settings.incremental_seconds}秒")
    build_scheduler(_jobs(), blocking=True).start()


@digest_app.command("send")
def digest_send() -> None:
    """立即执行一次早间邮件任务（今天已发过的不会重发）。"""
    run = _jobs().morning_digest()
    if run is None:
        typer.echo("今天的推荐邮件已经发过，或另一进程正在发送")
        return
    c = run.counts
    typer.echo(f"推荐邮件：写入组织邮件{c['org_mails']}封、工作人员邮件{c['staff_mails']}封，无新推荐{c['nothing_new']}个；"
               f"发送成功{c['sent']}封，待重试{c['deferred']}封，失败{c['failed']}封")


@mail_app.command("preview")
def mail_preview(org: Annotated[str, typer.Option("--org", help="统一社会信用代码")],
                 html: Annotated[bool, typer.Option("--html", help="输出HTML而非纯文本")] = False) -> None:
    """预览某社会组织今天的推荐邮件（不发送）。"""
    from api.services.engine import get_matcher
    from api.services.lookup import find_organization
    from api.services.mail import preview_org_digest

    settings = get_settings()
    try:
        with session_scope(_engine()) as session:
            organization = find_organization(session, org)
            rendered = preview_org_digest(session, organization, settings=settings, regions=get_matcher().regions,
                                          secret=settings.resolved_secret())
    except AppError as err:
        _fail(err)
        return
    if rendered is None:
        typer.echo("没有新的推荐：今天不会给该组织发邮件")
        return
    typer.echo(f"主题：{rendered.subject}\n")
    typer.echo(rendered.html if html else rendered.text)


@app.command()
def jobs(limit: int = 20) -> None:
    """定时任务的运行记录。"""
    from api.services.jobs import recent_runs
    from models.job import JOB_LABELS

    with session_scope(_engine()) as session:
        runs = recent_runs(session, limit=limit)
    if not runs:
        typer.echo("还没有任务运行记录")
    for r in runs:
        took = f"{(r.finished_at - r.started_at).total_seconds():.1f}秒" if r.finished_at else "—"
        status = {"done": "完成", "failed": "失败", "running": "进行中"}.get(r.status, r.status)
        typer.echo(f"{r.id:>4} {JOB_LABELS.get(r.job, r.job):<8} 时段 {r.slot}  {status}  用时{took}  "
                   f"{r.counts if r.counts else ''}{'  ' + r.error if r.error else ''}")


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
    from api.services.runs import run_rematch

    stages = ["tokenize", "vectorize", "candidates", "signals", "ranking", "explain"]
    labels = {"tokenize": "分词", "vectorize": "向量化", "candidates": "候选", "signals": "信号",
              "ranking": "排序", "explain": "理由", "db_write": "写入数据库"}
    from matcher.candidates import prepare_bulk

    settings = get_settings()
    matcher = get_matcher()
    prepare_bulk()  # numba, the compiled top-k, plain pages: before the run's clock starts, as the dictionary
    engine = _engine()
    with typer.progressbar(length=len(stages), label="匹配中") as bar:
        def progress(stage: str) -> None:
            bar.label = labels.get(stage, stage)
            bar.update(1)

        with session_scope(engine) as session:
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
    with_meaning, records = run.config.get("semantic_records", 0), run.config.get("records", 0)
    if not settings.semantic:
        typer.echo("语义相似：已关闭（DUIJIE_SEMANTIC=false），仅按词语匹配")
    elif with_meaning < records:
        typer.echo(f"语义相似：{with_meaning}/{records}条记录已有语义向量，其余本次仅按词语匹配；"
                   "运行 duijie encode（或等待定时任务）补齐后再匹配")
    else:
        typer.echo(f"语义相似：{records}条记录均已有语义向量")


@app.command()
def encode(
    limit: Annotated[int | None, typer.Option(help="本次最多编码多少条文本（默认全部）")] = None,
) -> None:
    """为尚无语义向量的需求与社会组织文本计算向量并保存（已保存的不再计算）。"""
    from api.services.records import load_demands, load_organizations
    from api.services.vectors import default_encoder, encode_missing

    if not get_settings().semantic:
        typer.echo("语义相似已关闭（DUIJIE_SEMANTIC=false），无需编码")
        return
    engine = _engine()
    with session_scope(engine) as session:
        orgs, dems = load_organizations(session), load_demands(session)[0]

        def progress(done: int, to_do: int) -> None:
            typer.echo(f"已编码 {done}/{to_do}")

        report = encode_missing(session, orgs, dems, encoder=default_encoder(), limit=limit, progress=progress)
    typer.echo(f"编码完成：新编码{report.encoded}条，此前已有{report.already}条，共{report.total}条文本；"
               f"用时{report.seconds:.1f}秒（{report.rate:.1f}条/秒）")


@app.command()
def doctor(
    workers: Annotated[int, typer.Option(help="网页服务的工作进程数（与 duijie serve --workers 相同）")] = 1,
    backup_dir: Annotated[Path, typer.Option("--backup-dir", help="备份目录")] = Path("/var/backups/duijie"),
    min_free_gb: Annotated[float, typer.Option("--min-free-gb", help="备份目录所在磁盘至少应剩余的空间（GB）")] = 5.0,
) -> None:
    """检查本机安装是否正常：数据库、密钥、邮件服务器、定时任务、磁盘空间，并给出处理办法。"""
    from api.services.doctor import run_checks

    checks = run_checks(get_settings(), workers=workers, backup_dir=backup_dir, min_free_gb=min_free_gb)
    for check in checks:
        typer.echo(check.line())
    bad = [c for c in checks if not c.ok]
    typer.echo(f"共{len(checks)}项检查，{len(bad)}项有问题" if bad else f"共{len(checks)}项检查，全部正常")
    if bad:
        raise typer.Exit(code=1)


@app.command()
def explain(
    demand: Annotated[str, typer.Option("--demand", help="需求编号")],
    org: Annotated[str, typer.Option("--org", help="统一社会信用代码")],
    county: Annotated[str | None, typer.Option(help="县（市、区），需求编号重复时用")] = None,
) -> None:
    """某个社会组织为什么被（或没有被）推荐给某个需求：各项信号、双方排名、未推荐的原因。"""
    from api.services.engine import get_matcher
    from api.services.explain import explain_pair
    from api.services.lookup import find_demand, find_organization

    matcher = get_matcher()
    county_code = None
    if county:
        found = matcher.regions.resolve_county(county)
        county_code = found.code if found else county
    try:
        with session_scope(_engine()) as session:
            explanation = explain_pair(session, matcher, demand=find_demand(session, demand, county_code),
                                       organization=find_organization(session, org), today=date.today())
    except AppError as err:
        _fail(err)
        return
    typer.echo("\n".join(explanation.lines()))


@app.command()
def recommend(
    demand: Annotated[str | None, typer.Option("--demand", help="需求编号")] = None,
    org: Annotated[str | None, typer.Option("--org", help="统一社会信用代码")] = None,
    county: Annotated[str | None, typer.Option(help="县（市、区），需求编号重复时用")] = None,
    top: int = 10,
) -> None:
    """查看某个需求的推荐社会组织，或某个社会组织的推荐需求。"""
    from api.services.engine import get_matcher
    from api.services.listings import recommendations_for_demand, recommendations_for_organization
    from api.services.lookup import find_demand, find_organization

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
    from api.services.listings import export_recommendations as export

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


@export_app.command("report")
def export_report(
    kind: Annotated[str, typer.Argument(help="contacts（联络清单）| results（推进成效清单）| progress（项目进展清单）"
                                             "| recognition（参与情况汇总）")],
    out: Annotated[Path, typer.Option("--out", help="输出文件 .xlsx")],
    period: Annotated[str, typer.Option(help="期间：2025H1、2025H2 或 2025（全年）")],
    region: Annotated[str, typer.Option(help="市（州）或县（市、区），默认全省")] = "",
) -> None:
    """导出半年报表（.xlsx，含标题行、地区与期间、合计行）。"""
    from api.services import audit, auth, reports
    from api.services.engine import get_matcher
    from api.services.projects import local_today

    try:
        with session_scope(_engine()) as session:
            report = reports.build(session, kind, reports.resolve_region(get_matcher().regions, region,
                                                                          auth.Scope("province")),
                                   reports.parse_period(period), get_matcher().regions,
                                   local_today(utcnow, get_settings().timezone))
            reports.write_xlsx(report, out, generated_at=utcnow(), regions=get_matcher().regions)
            audit.record(session, "export", username="命令行", target=report.title, detail={"rows": len(report.rows)})
    except AppError as err:
        _fail(err)
        return
    typer.echo(f"已导出《{report.title}》{len(report.rows)}行到 {out}")


def _row_summary(rows: dict[str, int]) -> str:
    return (f"社会组织{rows.get('organization', 0)}个，需求{rows.get('demand', 0)}个，"
            f"推荐{rows.get('recommendation', 0)}条，帮扶项目{rows.get('project', 0)}个")


@app.command()
def backup(out: Annotated[Path, typer.Option("--out", help="备份文件（SQLite 数据库文件或 pg_dump 文件）")]) -> None:
    """备份数据库：应用运行时也可进行，得到一致的快照。"""
    from api.services import backup as snapshots

    try:
        snap = snapshots.backup(get_settings().database_url, out)
    except AppError as err:
        _fail(err)
        return
    typer.echo(f"已备份到 {snap.path}（{snap.kind}，{snap.size / 2**20:.1f} MB）：{_row_summary(snap.rows)}")


@app.command()
def restore(file: Path, yes: Annotated[bool, typer.Option("--yes", help="确认覆盖当前数据库")] = False) -> None:
    """从备份恢复数据库（覆盖现有数据；请先停止网站与定时任务）。"""
    from api.services import backup as snapshots

    if not yes:
        typer.confirm("恢复将覆盖当前数据库中的全部数据，是否继续？", abort=True)
    try:
        rows = snapshots.restore(get_settings().database_url, file)
    except AppError as err:
        _fail(err)
        return
    typer.echo(f"已从 {file} 恢复：{_row_summary(rows)}")


@app.command()
def partition_recommendations(
        yes: Annotated[bool, typer.Option("--yes", help="确认已停止网站与定时任务")] = False) -> None:
    """PostgreSQL：把此前建立的推荐表改为按匹配批次分区（一次事务；请先停止网站与定时任务）。"""
    from api.services import partitions

    if not yes:
        typer.confirm("转换期间推荐表被锁定，请确认网站与定时任务已停止。是否继续？", abort=True)
    try:
        runs = partitions.convert(_engine())
    except AppError as err:
        _fail(err)
        return
    typer.echo(f"已分区：{len(runs)}次匹配的推荐各成一表" if runs else "推荐表已是分区表，无需转换")


@app.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option(help="演示文件目录")] = None,
    organizations: int = 320,
    demands: int = 2400,
    seed: int = 7,
    history: Annotated[bool, typer.Option(help="模拟过去一年半的审核、帮扶项目与进展报告")] = True,
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

    matcher = get_matcher()
    with session_scope(_engine()) as session:
        accounts = ensure_demo_accounts(session, matcher.regions)
    if history:
        from api.services.demo import simulate_history
        from api.services.projects import local_today
        from api.services.runs import run_rematch

        with session_scope(_engine()) as session:
            run_rematch(session, matcher)
        with session_scope(_engine()) as session:
            c = simulate_history(session, matcher.regions, today=local_today(utcnow, get_settings().timezone),
                                 seed=seed)
        typer.echo(f"演示历史：通过对接{c['approved']}条、驳回{c['rejected']}条，帮扶项目{c['projects']}个，"
                   f"进展报告{c['reports']}份")
    typer.echo("演示账号（每种角色一个，登录 http://127.0.0.1:8000/login ）：")
    for a in accounts:
        typer.echo(f"  {a['role']:<8} 用户名 {a['username']:<20} 密码 {a['password']}  {a['note']}")


@app.command("eval")
def evaluate(
    k: int = 10,
    data: Annotated[Path | None, typer.Option(help="开发集目录（默认 data/eval）")] = None,
) -> None:
    """在标注开发集上评估：本引擎与纯 BM25 的 NDCG@k、Recall@k（双向），默认两个开发集都评。"""
    from api.services.evaluation import dev_sets, evaluate_devset

    started = time.perf_counter()
    for i, (name, folder) in enumerate([("", data)] if data else dev_sets()):
        if i:
            typer.echo("")
        if name:
            typer.echo(f"【{name}】")
        typer.echo(evaluate_devset(folder, k=k).table())
    typer.echo(f"（用时{time.perf_counter() - started:.1f}秒）")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          workers: Annotated[int, typer.Option(help="工作进程数（PostgreSQL 部署可多于1）")] = 1) -> None:
    """运行网页与 API。"""
    import uvicorn

    settings = get_settings()
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        # Several workers: run `duijie scheduler` as its own process instead of one per worker.
        settings.resolved_secret()  # every worker must sign with the same key
        config = uvicorn.Config("api.app:served_app", factory=True, host=host, port=port, workers=workers)
        typer.echo(f"网页与 API：http://{host}:{port}（{workers}个工作进程）")
        Multiprocess(config, sockets=[tcp_listener(host, port)]).run()
        return
    from api.app import create_app

    uvicorn.run(create_app(settings, start_scheduler=settings.scheduler_in_web, settle_heap=True), host=host,
                port=port)


def tcp_listener(host: str, port: int) -> socket.socket:
    """The listening socket for several workers, marked as TCP. uvicorn's own leaves proto at 0, so
    asyncio never sets TCP_NODELAY on the connections it accepts and every keep-alive request
    waits ~40 ms on a delayed ACK (Kludex/uvicorn#3149)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


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
    from api.services.lookup import find_organization

    regions = get_matcher().regions
    try:
        with session_scope(_engine()) as session:
            organization = find_organization(session, org) if org else None
            user = auth.create_user(session, username=username, password=password, role=role,
                                    region_code=auth.resolve_region(regions, role, region), organization=organization,
                                    regions=regions, policy=auth.AccountPolicy.of(get_settings()))
            from api.services import audit

            audit.record(session, "account_create", username="命令行", ip="cli", target=username,
                         detail={"role": role, "region": region, "org": org})
            label = auth.user_public(user, session, regions)
    except AppError as err:
        _fail(err)
        return
    typer.echo(f"已创建账号 {label.username}（{label.role_label}{'，' + label.region_name if label.region_name else ''}"
               f"{'，' + (organization.name if organization else '') if organization else ''}）")


def _account_change(username: str, action: str) -> str | None:
    from api.services import audit, auth

    try:
        with session_scope(_engine()) as session:
            user = auth.get_user(session, username)
            secret = None
            if action == "password_reset":
                secret = auth.reset_password(session, user)
            else:
                user.is_active = action == "account_enable"
                session.add(user)
            audit.record(session, action, username="命令行", ip="cli", target=username)
    except AppError as err:
        _fail(err)
    return secret


@user_app.command("disable")
def user_disable(username: str) -> None:
    """停用账号（其令牌和登录会话随即失效）。"""
    _account_change(username, "account_disable")
    typer.echo(f"已停用账号 {username}")


@user_app.command("enable")
def user_enable(username: str) -> None:
    """重新启用账号。"""
    _account_change(username, "account_enable")
    typer.echo(f"已启用账号 {username}")


@user_app.command("reset-password")
def user_reset_password(username: str) -> None:
    """重置为随机密码（下次登录须修改），并解除锁定。"""
    password = _account_change(username, "password_reset")
    typer.echo(f"账号 {username} 的新初始密码：{password}（登录后须修改）")


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


@app.command()
def bench(
    scale: Annotated[list[str] | None, typer.Option(
        help="quick | demo | jilin | national | national-mini（可多次指定；national：10万×100万，分省流式）；"
             "加“:形态”换数据形态：plain | boilerplate | offtopic | lengths，如 jilin:boilerplate",
    )] = None,
    out: Annotated[Path | None, typer.Option(help="结果写入的文件")] = Path("bench-results.md"),
) -> None:
    """性能基准：各规模的分阶段用时、内存峰值，与 BM25 和朴素实现同场对比。"""
    from api.bench.engine import SCALES, run, split_spec, table
    from api.services.demo_shapes import SHAPES

    scales = scale or ["quick"]
    unknown = [s for s in scales if split_spec(s)[0] not in SCALES or split_spec(s)[1] not in SHAPES]
    if unknown:
        typer.echo(f"未知规模：{'、'.join(unknown)}（可选：{'、'.join(SCALES)}）", err=True)
        raise typer.Exit(code=2)
    rows = run(scales, out)
    typer.echo(table(rows))
    if out:
        typer.echo(f"已写入 {out}")


@app.command("dump-config")
def dump_config() -> None:
    """打印匹配引擎当前配置及其哈希。"""
    from matcher import MatchConfig

    cfg = MatchConfig()
    typer.echo(json.dumps({"hash": cfg.config_hash(), **cfg.to_dict()}, ensure_ascii=False, indent=2))


