"""The files offices really send, written by real libraries: .xls (xlwt, as Excel 97–2003 and WPS
save it), workbooks with several sheets, merged header cells, trailing 合计 and notes rows —
through the CLI and the upload page."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import xlwt
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app
from api.db import make_engine
from models import Demand, Organization
from tests.factories import demand_row, org_row
from tests.world import World, page_csrf

runner = CliRunner()


def write_xls(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    wb = xlwt.Workbook(encoding="utf-8")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, date):
                    ws.write(r, c, value, day)  # a real date cell, as a spreadsheet program stores it
                else:
                    ws.write(r, c, value)
    wb.save(str(path))
    return path


def write_book(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def form(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [list(rows[0]), *[list(r.values()) for r in rows]]


def cli(db_url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_an_xls_with_a_title_row_and_date_cells_imports_from_the_cli(cli_env: str, tmp_path: Path) -> None:
    rows = [demand_row(1, 期望完成时间=date(2027, 6, 30)), demand_row(2, 期望完成时间="2027年9月")]
    path = write_xls(tmp_path / "需求要点.xls", {"需求要点": [["汪清县乡村振兴帮扶需求要点"], *form(rows)]})
    code, out = cli(cli_env, "import", "demands", str(path))
    assert code == 0, out
    assert "需求导入完成：共2行，新增2" in out
    with Session(make_engine(cli_env)) as session:
        due = dict(session.exec(select(Demand.ref, Demand.due_date)).all())
    assert due == {"WQ-001": date(2027, 6, 30), "WQ-002": date(2027, 9, 30)}


def test_the_form_is_read_from_whichever_sheet_holds_it(cli_env: str, tmp_path: Path) -> None:
    path = write_book(tmp_path / "报名表.xlsx", {
        "填表说明": [["填表说明"], ["1. 统一社会信用代码18位"], ["2. 联系电话填手机或座机"]],
        "报名表": form([org_row(1), org_row(2)]),
    })
    code, out = cli(cli_env, "import", "orgs", str(path))
    assert code == 0, out
    assert "社会组织导入完成：共2行，新增2" in out


def test_two_sheets_holding_the_form_are_refused_by_name(cli_env: str, tmp_path: Path) -> None:
    path = write_xls(tmp_path / "报名表.xls", {"第一批": form([org_row(1)]), "第二批": form([org_row(2)])})
    code, out = cli(cli_env, "import", "orgs", str(path))
    assert code == 1
    assert "「第一批」、「第二批」" in out and "工作簿中有2个工作表都是《社会组织参与乡村振兴行动报名表》" in out
    with Session(make_engine(cli_env)) as session:
        assert session.exec(select(Organization)).all() == []


def merged_header_book(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A county's form as offices lay it out: a merged title, 联系方式 merged over 联系人 and 联系电话,
    the other headers merged down over both header rows, a 合计 row and a note under the records."""
    headers = list(rows[0])
    top = [h if h not in ("联系人", "联系电话") else None for h in headers]
    top[headers.index("联系人")] = "联系方式"
    sub = [h if h in ("联系人", "联系电话") else None for h in headers]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "需求要点"
    ws.append(["汪清县乡村振兴帮扶需求要点（2026年下半年）"])
    ws.append(top)
    ws.append(sub)
    for r in rows:
        ws.append(list(r.values()))
    ws.append(["合计", None, None, None, None, None, None, None, 240, 4])
    ws.append(["注：资金需求以万元计。"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    contact = headers.index("联系人") + 1
    ws.merge_cells(start_row=2, start_column=contact, end_row=2, end_column=contact + 1)
    for c in range(1, len(headers) + 1):
        if c not in (contact, contact + 1):
            ws.merge_cells(start_row=2, start_column=c, end_row=3, end_column=c)
    wb.save(path)
    return path


def test_merged_header_cells_over_sub_headers_and_trailing_totals(cli_env: str, tmp_path: Path) -> None:
    rows = [demand_row(1), demand_row(2)]
    path = merged_header_book(tmp_path / "需求要点.xlsx", rows)
    code, out = cli(cli_env, "import", "demands", str(path))
    assert code == 0, out
    assert "需求导入完成：共2行，新增2" in out
    assert "提示：第6行「合计」是合计或说明行，未导入" in out
    assert "提示：第7行「注：资金需求以万元计。」是合计或说明行，未导入" in out
    with Session(make_engine(cli_env)) as session:
        contacts = session.exec(select(Demand.contact_name, Demand.contact_phone)).all()
    assert contacts == [("李书记", "0433-8888888")] * 2


def test_a_bad_row_is_named_with_its_sheet_row_and_column(cli_env: str, tmp_path: Path) -> None:
    path = write_xls(tmp_path / "报名表.xls", {
        "说明": [["本表由各县民政局汇总"]], "报名表": form([org_row(1), org_row(2, 联系电话="12")])})
    code, out = cli(cli_env, "import", "orgs", str(path))
    assert code == 1
    assert "文件被拒绝，未写入任何数据：工作表「报名表」中1行有错误" in out
    assert "第3行「联系电话」（值：12）" in out


def test_an_xls_that_is_a_web_page_gets_a_clear_answer(cli_env: str, tmp_path: Path) -> None:
    path = tmp_path / "报名表.xls"
    path.write_text("<html><body><table><tr><td>组织名称</td></tr></table></body></html>", encoding="utf-8")
    code, out = cli(cli_env, "import", "orgs", str(path))
    assert code == 1
    assert "不是Excel 97-2003（.xls）格式" in out


def test_the_upload_page_takes_an_xls_workbook(world: World, tmp_path: Path) -> None:
    path = write_xls(tmp_path / "需求要点.xls", {
        "说明": [["各乡镇汇总后报县民政局"]],
        "需求要点": [*form([demand_row(5, 需求编号="WQ-X1"), demand_row(6, 需求编号="WQ-X2")]), ["合计"]]})
    c = world.web_login("wangqing")
    page = c.get("/staff/upload")
    r = c.post("/staff/upload", data={"kind": "demands", "csrf_token": page_csrf(page.text)},
               files={"file": ("需求要点.xls", path.read_bytes(), "application/vnd.ms-excel")})
    assert r.status_code == 200, r.text
    assert "需求导入完成：共2行，新增2" in r.text
    assert "第4行「合计」是合计或说明行，未导入" in r.text


def test_the_upload_page_takes_a_workbook_with_merged_header_cells(world: World, tmp_path: Path) -> None:
    path = merged_header_book(tmp_path / "需求要点.xlsx", [demand_row(7, 需求编号="WQ-M1"), demand_row(8, 需求编号="WQ-M2")])
    c = world.web_login("wangqing")
    r = c.post("/staff/upload", data={"kind": "demands", "csrf_token": page_csrf(c.get("/staff/upload").text)},
               files={"file": ("需求要点.xlsx", path.read_bytes(),
                               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    assert r.status_code == 200, r.text
    assert "需求导入完成：共2行，新增2" in r.text
    assert "第6行「合计」是合计或说明行，未导入" in r.text


def test_the_upload_page_names_the_sheets_it_refuses(world: World, tmp_path: Path) -> None:
    path = write_xls(tmp_path / "报名表.xls", {"第一批": form([org_row(11)]), "第二批": form([org_row(12)])})
    c = world.web_login("admin")
    r = c.post("/staff/upload", data={"kind": "orgs", "csrf_token": page_csrf(c.get("/staff/upload").text)},
               files={"file": ("报名表.xls", path.read_bytes(), "application/vnd.ms-excel")})
    assert r.status_code == 422
    assert "「第一批」、「第二批」" in r.text
