"""The half-yearly lists as .xlsx: written, read back with openpyxl and checked cell by cell
against the database; scoped to the staff member's region; formula-like text stays text."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.cli import app as cli
from api.db import make_engine
from api.services import auth, maps, projects
from models import Demand, Organization, ProgressReport, Project
from models.project import PROJECT_STATUS_LABELS
from tests.world import World

EVIL = '=HYPERLINK("http://evil.example","点我")'
H1 = (date(2026, 1, 1), date(2026, 6, 30))

RESULTS_HEADERS = ["序号", "市（州）", "县（市、区）", "村（社区）", "社会组织", "统一社会信用代码", "参与行动", "项目名称",
                   "开始日期", "计划投入（万元）", "本期投入资金物资（万元）", "累计投入资金物资（万元）", "计划受益人数",
                   "受益人数", "状态", "村级评价", "进展与成效"]
PROGRESS_HEADERS = ["序号", "市（州）", "县（市、区）", "村（社区）", "社会组织", "参与行动", "项目名称", "报告日期", "状态",
                    "本次投入资金物资（万元）", "受益人数（累计）", "进展说明", "经工作人员更正", "逾期未报告"]
CONTACT_HEADERS = ["序号", "社会组织名称", "统一社会信用代码", "组织类型", "登记管理机关", "登记层级", "所在市（州）",
                   "所在县（市、区）", "参与行动", "联系人", "联系电话", "电子邮箱", "本期帮扶项目数"]


def _approve(world: World, ref: str, org: str, staff: str) -> int:
    r = world.client().post("/api/v1/pairings/decisions", headers=world.token(staff),
                            json={"demand_ref": ref, "credit_code": world.codes[org], "decision": "approve"})
    assert r.status_code == 200, r.text
    return next(p["id"] for p in world.client().get("/api/v1/projects", headers=world.token(staff)).json()
                if p["demand_ref"] == ref)


def _plan(world: World, pid: int, user: str, **body: Any) -> None:
    r = world.client().patch(f"/api/v1/projects/{pid}", headers=world.token(user), json=body)
    assert r.status_code == 200, r.text


def _report(world: World, pid: int, user: str, day: str, status: str, funds: float, people: int, note: str) -> None:
    r = world.client().post(f"/api/v1/projects/{pid}/progress", headers=world.token(user), json={
        "report_date": day, "status": status, "funds_in": funds, "beneficiaries": people, "note": note})
    assert r.status_code == 201, r.text


@pytest.fixture
def history(world: World) -> dict[str, int]:
    """Three projects: 汪清 (A) and 延吉 (B) ran in 2026H1, 南关 (D) only started in H2."""
    a = _approve(world, "WQ-1", "A", "wangqing")
    b = _approve(world, "YJ-1", "B", "yanji")
    d = _approve(world, "CC-1", "D", "changchun")
    _plan(world, a, "orga", start_date="2026-01-05", planned_funds=8, planned_beneficiaries=120)
    _plan(world, b, "orgb", start_date="2026-03-01", planned_funds=5, planned_beneficiaries=50)
    _plan(world, d, "changchun", start_date="2026-07-15", planned_funds=10, reason="按实际开工日期更正")
    _report(world, a, "orga", "2026-02-01", "实施中", 1.5, 20, "首次进村义诊")
    _report(world, a, "orga", "2026-05-10", "实施中", 2.25, 45, EVIL)
    _report(world, a, "orga", "2026-08-01", "已完成", 1.0, 60, "收尾")
    _report(world, b, "orgb", "2026-03-20", "实施中", 0.5, 10, "+1+1")
    with Session(world.engine) as session:  # D's organization has no account: report as it would
        project = session.get(Project, d)
        assert project is not None
        projects.report_progress(session, scope=auth.Scope("org", organization_id=project.organization_id),
                                 user=None, project=project, report_date="2026-09-01", status="in_progress",
                                 funds_in=3, beneficiaries=30, note="", clock=world.clock)
        session.commit()
    return {"A": a, "B": b, "D": d}


def download(world: World, user: str, kind: str, period: str = "2026H1", region: str | None = None):  # type: ignore[no-untyped-def]
    params = {"period": period} | ({"region": region} if region else {})
    return world.client().get(f"/api/v1/reports/{kind}", params=params, headers=world.token(user))


def sheet(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    return openpyxl.load_workbook(io.BytesIO(response.content)).active


def cells(ws: Any, row: int) -> list[Any]:
    return [None if c.value == "" else c.value for c in ws[row]]


def blank(values: list[Any]) -> list[Any]:
    return [None if v == "" else v for v in values]


def expected_results(session: Session, county_codes: set[str] | None, world: World) -> list[list[Any]]:
    """The 推进成效清单 rows as the database holds them, computed here independently."""
    regions = world.app.state.regions  # type: ignore[attr-defined]
    rows = []
    query = select(Project).where(col(Project.start_date) <= H1[1]).order_by(
        col(Project.city_code), col(Project.county_code), col(Project.id))
    for p in session.exec(query).all():
        if county_codes is not None and p.county_code not in county_codes:
            continue
        org = session.get(Organization, p.organization_id)
        reports = session.exec(select(ProgressReport).where(ProgressReport.project_id == p.id)
                               .order_by(col(ProgressReport.report_date))).all()
        upto = [r for r in reports if r.report_date <= H1[1]]
        inside = [r for r in upto if r.report_date >= H1[0]]
        rows.append([len(rows) + 1, regions.city_name(p.city_code), regions.county_name(p.county_code), p.village,
                     org.name, org.credit_code, p.action, p.title, p.start_date.isoformat(), p.planned_funds,  # type: ignore[union-attr]
                     sum(r.funds_in for r in inside), sum(r.funds_in for r in upto), p.planned_beneficiaries,
                     upto[-1].beneficiaries, PROJECT_STATUS_LABELS[upto[-1].status], "未确认", inside[-1].note])
    return rows


def test_results_list_matches_the_database_cell_by_cell(world: World, history: dict[str, int]) -> None:
    ws = sheet(download(world, "admin", "results"))
    assert ws["A1"].value == "吉林省社会组织参与乡村振兴行动推进成效清单（2026年上半年）"
    assert ws["A2"].value.startswith("地区：吉林省    期间：2026年上半年（2026-01-01至2026-06-30）")
    assert "A1:Q1" in {str(r) for r in ws.merged_cells.ranges}
    assert cells(ws, 3) == RESULTS_HEADERS
    assert ws.freeze_panes == "A4"
    assert all(ws.column_dimensions[c].width >= 6 for c in "ABCDEFGHIJKLMNOPQ")
    assert ws.column_dimensions["Q"].width == 50
    with Session(world.engine) as session:
        expected = expected_results(session, None, world)
    assert len(expected) == 2  # 南关 started in H2: not in this half-year's list
    body = [cells(ws, r) for r in range(4, 4 + len(expected))]
    for got, want in zip(body, expected, strict=True):
        assert got[:10] == want[:10]
        assert got[10:12] == pytest.approx(want[10:12])
        assert got[12:] == want[12:]
    totals = cells(ws, 4 + len(expected))
    assert totals[:2] == ["合计", "2个项目"]
    assert totals[9:14] == pytest.approx([13, 4.25, 4.25, 170, 55])  # 8+5; 1.5+2.25+0.5; 120+50; 45+10
    assert ws.max_row == 4 + len(expected)
    # Texts written by outsiders stay text: the formula is a string cell, not a formula.
    evil = next(c for row in ws.iter_rows() for c in row if c.value == EVIL)
    assert evil.data_type == "s"
    plus = next(c for row in ws.iter_rows() for c in row if c.value == "+1+1")
    assert plus.data_type == "s"


def test_progress_list_names_every_report_and_the_overdue(world: World, history: dict[str, int]) -> None:
    ws = sheet(download(world, "admin", "progress"))
    assert cells(ws, 3) == PROGRESS_HEADERS
    with Session(world.engine) as session:
        reports = session.exec(select(ProgressReport, Project).join(Project, col(Project.id) == ProgressReport.project_id)
                               .where(col(ProgressReport.report_date) >= H1[0],
                                      col(ProgressReport.report_date) <= H1[1])
                               .order_by(col(Project.county_code), col(ProgressReport.report_date))).all()
    assert [r.report_date for r, _ in reports] == [date(2026, 3, 20), date(2026, 2, 1), date(2026, 5, 10)]
    body = [cells(ws, r) for r in range(4, 4 + len(reports))]
    assert [(row[7], row[8], row[9], row[10], row[11]) for row in body] == [
        (r.report_date.isoformat(), PROJECT_STATUS_LABELS[r.status], r.funds_in, r.beneficiaries, r.note)
        for r, _ in reports]
    # 延吉's last report was on 03-20: 102 days of silence by 06-30, past the 90 allowed.
    assert [row[13] for row in body] == ["是", None, "否"]
    assert cells(ws, 4 + len(reports))[:2] == ["合计", "3份报告"]
    assert cells(ws, 4 + len(reports))[9] == pytest.approx(4.25)
    assert cells(ws, 4 + len(reports))[13] == "1个逾期"


def test_a_county_report_holds_only_its_county(world: World, history: dict[str, int]) -> None:
    ws = sheet(download(world, "wangqing", "results"))
    assert ws["A1"].value.startswith("汪清县")
    with Session(world.engine) as session:
        expected = expected_results(session, {"222424"}, world)
    assert [cells(ws, r)[2] for r in range(4, 4 + len(expected))] == ["汪清县"]
    assert cells(ws, 4)[4:6] == expected[0][4:6]
    assert cells(ws, 5)[:2] == ["合计", "1个项目"]
    assert ws.max_row == 5
    # A county may not ask for another county; a city may ask for a county of its own, not beyond.
    assert download(world, "wangqing", "results", region="延吉市").status_code == 403
    assert download(world, "wangqing", "results", region="吉林省").status_code == 403
    city = sheet(download(world, "yanbian", "progress", region="汪清县"))
    assert {cells(city, r)[2] for r in range(4, city.max_row)} == {"汪清县"}
    assert download(world, "yanbian", "results", region="长春市").status_code == 403
    assert download(world, "orga", "results").status_code == 403
    assert download(world, "admin", "results", period="2026Q3").status_code == 422
    h2 = sheet(download(world, "changchun", "results", period="2026H2"))
    assert [cells(h2, r)[2] for r in range(4, h2.max_row)] == ["南关区"]


def test_contact_list_and_recognition_summary(world: World, history: dict[str, int]) -> None:
    ws = sheet(download(world, "yanbian", "contacts"))
    assert ws["A1"].value == "延边朝鲜族自治州社会组织参与乡村振兴行动联络清单（2026年上半年）"
    assert cells(ws, 3) == CONTACT_HEADERS
    with Session(world.engine) as session:
        orgs = sorted(session.exec(select(Organization).where(Organization.city_code == "222400",
                                                              Organization.status == "active")).all(),
                      key=lambda o: (o.city_code, o.county_code or "", o.name))
        counts = {o.id: sum(1 for p in session.exec(select(Project).where(Project.organization_id == o.id)).all()
                            if p.start_date <= H1[1]) for o in orgs}
    rows = [cells(ws, r) for r in range(4, 4 + len(orgs))]
    assert [(r[1], r[2], r[9], r[10], r[11], r[12]) for r in rows] == [
        (o.name, o.credit_code, o.contact_name, o.contact_phone, o.email, counts[o.id]) for o in orgs]
    assert cells(ws, 4 + len(orgs))[:2] == ["合计", f"{len(orgs)}个组织"]
    assert cells(ws, 4 + len(orgs))[12] == sum(counts.values()) == 2

    rec = sheet(download(world, "admin", "recognition"))
    body = [cells(rec, r) for r in range(4, rec.max_row)]
    # Sorted by money put in: A (1.5+2.25) before B (0.5). A's second report came 98 days after
    # its first, B fell silent after 03-20: each has one report on time out of two due.
    assert [(r[1], r[4], r[5], r[7], r[10]) for r in body] == [
        ("汪清县仁爱医院", 1, 0, 45, "50%"), ("延吉市爱心志愿者协会", 1, 0, 10, "50%")]
    assert [r[6] for r in body] == pytest.approx([3.75, 0.5])


def test_staff_download_a_report_from_the_pages_and_it_is_audited(world: World, history: dict[str, int]) -> None:
    c = world.web_login("wangqing")
    page = c.get("/staff/reports")
    assert page.status_code == 200 and "汪清县" in page.text and "延吉市" not in page.text
    r = c.get("/staff/reports/download", params={"kind": "progress", "period": "2026H1", "region": "汪清县"})
    ws = sheet(r)
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    assert ws["A1"].value == "汪清县社会组织参与乡村振兴行动项目进展清单（2026年上半年）"
    audit = world.client().get("/api/v1/audit", params={"action": "export"}, headers=world.token("admin")).json()
    assert any(e["username"] == "wangqing" and "项目进展清单" in e["target"] for e in audit)


def test_the_cli_writes_the_same_lists_for_the_demo_history(cli_env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["demo", "--organizations", "80", "--demands", "400", "--seed", "5"],
                        catch_exceptions=False).output
    assert "演示历史：通过对接" in out
    engine = make_engine(cli_env)
    with Session(engine) as session:
        live = session.exec(select(Project).where(Project.city_code == "222400")).all()
        demands_in = {d.id for d in session.exec(select(Demand).where(Demand.city_code == "222400")).all()}
    assert live and all(p.demand_id in demands_in for p in live)
    for kind in ("contacts", "results", "progress", "recognition"):
        target = tmp_path / f"{kind}.xlsx"
        result = runner.invoke(cli, ["export", "report", kind, "--region", "延边州", "--period", "2026",
                                     "--out", str(target)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        ws = openpyxl.load_workbook(target).active
        assert ws["A1"].value.startswith("延边朝鲜族自治州") and ws.freeze_panes == "A4"
        assert ws.cell(row=ws.max_row, column=1).value == "合计"
    results = openpyxl.load_workbook(tmp_path / "results.xlsx").active
    body = [cells(results, r) for r in range(4, results.max_row)]
    assert {r[1] for r in body} == {"延边朝鲜族自治州"}
    assert cells(results, results.max_row)[10] == pytest.approx(sum(r[10] for r in body))
    bad = runner.invoke(cli, ["export", "report", "results", "--period", "去年", "--out", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 1 and "期间应写作" in bad.output


def test_a_report_carries_a_map_of_its_projects_by_county(world: World, history: dict[str, int]) -> None:
    from PIL import Image

    response = download(world, "admin", "results")
    wb = openpyxl.load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == ["推进成效清单", "项目分布图"]
    main, mapped = wb["推进成效清单"], wb["项目分布图"]
    assert mapped["A1"].value == "吉林省帮扶项目分布（2026年上半年）"
    # the figures beside the picture are the report's own rows counted by county
    listed: dict[str, int] = {}
    for r in range(4, main.max_row):
        listed[main.cell(row=r, column=3).value] = listed.get(main.cell(row=r, column=3).value, 0) + 1
    start = next(r for r in range(1, mapped.max_row + 1) if mapped.cell(row=r, column=12).value == "县（市、区）")
    figures = {mapped.cell(row=r, column=12).value: mapped.cell(row=r, column=13).value
               for r in range(start + 1, mapped.max_row + 1)}
    assert len(figures) == 63
    assert {k: v for k, v in figures.items() if v} == listed
    legend = [mapped.cell(row=r, column=13).value for r in range(4, start) if mapped.cell(row=r, column=13).value]
    assert legend[0] == "0" and legend[-1].endswith("个")
    # a real picture: the county with projects is painted in a colour of the scale
    images = mapped._images
    assert len(images) == 1
    picture = Image.open(io.BytesIO(images[0]._data()))
    assert picture.format == "PNG" and picture.width == 640
    colours = {"#{:02x}{:02x}{:02x}".format(*c[1][:3]) for c in picture.getcolors(1 << 20)}
    assert colours & set(maps.PALETTE)
    # a county's report frames its own county
    county = openpyxl.load_workbook(io.BytesIO(download(world, "wangqing", "results").content))["项目分布图"]
    assert county["A1"].value.startswith("汪清县帮扶项目分布")
