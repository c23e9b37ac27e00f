"""Every bad-input rule of the data contract: the Chinese message, and nothing written."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.db import session_scope
from api.services.engine import get_matcher
from api.services.importer import ImportRejected, ImportReport, import_file
from models import Demand, Organization
from tests.factories import credit_code, demand_row, org_row, write_csv, write_xlsx


def run_import(engine: Engine, path: Path, kind: str, **kw: Any) -> ImportReport:
    with session_scope(engine) as session:
        return import_file(session, path, kind, matcher=get_matcher(), **kw)


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def rejected(engine: Engine, path: Path, kind: str) -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        run_import(engine, path, kind)
    assert count(engine, Organization) == 0
    assert count(engine, Demand) == 0
    return info.value


ORG_CASES = [
    ("组织名称", "", "必填项为空"),
    ("统一社会信用代码", "5122242", "应为18位，实际7位"),
    ("统一社会信用代码", "51222424MJ000000IO", "含有不允许的字符：I、O"),
    ("统一社会信用代码", credit_code(1)[:17] + ("0" if credit_code(1)[17] != "0" else "1"), "校验位错误"),
    ("组织类型", "公司", "应为社会团体、基金会或社会服务机构"),
    ("登记管理机关", "民政局", "无法识别登记管理机关的级别"),
    ("所在市（州）", "哈尔滨市", "不是吉林省的市（州）"),
    ("所在县（市、区）", "九台区", "不在延边朝鲜族自治州辖区内，属于长春市"),
    ("所在县（市、区）", "汪晴县", "是否应为：汪清县"),
    ("参与行动", "环境保护", "无法识别的行动：环境保护"),
    ("参与行动", "", "必填项为空"),
    ("帮扶能力", "", "必填项为空"),
    ("可投入资金（万元）", "-3", "不能为负数"),
    ("可投入资金（万元）", "五万", "应为数字"),
    ("可投入人员（人）", "2.5", "应为整数"),
    ("联系人", "", "必填项为空"),
    ("联系电话", "1390433", "格式不正确"),
    ("联系电话", "", "必填项为空"),
    ("电子邮箱", "wq@example", "电子邮箱格式不正确"),
]


@pytest.mark.parametrize(("column", "value", "reason"), ORG_CASES)
def test_bad_organization_field_rejects_file(engine: Engine, tmp_path: Path, column: str, value: str,
                                             reason: str) -> None:
    path = write_csv(tmp_path / "orgs.csv", [org_row(1), org_row(2, **{column: value})])
    err = rejected(engine, path, "orgs")
    assert [(e.row, e.column) for e in err.errors] == [(3, column)]
    assert reason in err.errors[0].reason
    assert "未写入任何数据" in err.message


def test_gongzhuling_under_siping_gets_a_hint(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orgs.csv", [org_row(1, **{"所在市（州）": "四平市", "所在县（市、区）": "公主岭市",
                                                          "登记管理机关": "公主岭市民政局"})])
    err = rejected(engine, path, "orgs")
    assert "公主岭市自2020年起由长春市代管" in err.errors[0].reason


def test_duplicate_credit_code_in_file(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orgs.csv", [org_row(1), org_row(1, 组织名称="另一个名字")])
    err = rejected(engine, path, "orgs")
    assert [(e.row, e.column, e.reason) for e in err.errors] == [(3, "统一社会信用代码", "与第2行重复")]


DEMAND_CASES = [
    ("县（市、区）", "", "必填项为空"),
    ("县（市、区）", "农安县", "不在延边朝鲜族自治州辖区内，属于长春市"),
    ("市（州）", "", "必填项为空"),
    ("需求名称", "", "必填项为空"),
    ("需求内容", "", "必填项为空"),
    ("受益人数", "-1", "不能为负数"),
    ("资金需求（万元）", "很多", "应为数字"),
    ("期望完成时间", "明年春天", "日期格式应为"),
    ("期望完成时间", "2027-02-30", "日期不存在"),
    ("联系电话", "12345", "格式不正确"),
    ("联系人", "", "必填项为空"),
]


@pytest.mark.parametrize(("column", "value", "reason"), DEMAND_CASES)
def test_bad_demand_field_rejects_file(engine: Engine, tmp_path: Path, column: str, value: str,
                                       reason: str) -> None:
    path = write_csv(tmp_path / "demands.csv", [demand_row(1), demand_row(2, **{column: value})])
    err = rejected(engine, path, "demands")
    assert [(e.row, e.column) for e in err.errors] == [(3, column)]
    assert reason in err.errors[0].reason


def test_duplicate_demand_ref_in_same_county(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [demand_row(1), demand_row(1, 需求名称="另一个")])
    err = rejected(engine, path, "demands")
    assert [(e.row, e.column, e.reason) for e in err.errors] == [(3, "需求编号", "与第2行重复")]


def test_missing_required_column(engine: Engine, tmp_path: Path) -> None:
    rows = [{k: v for k, v in org_row(1).items() if k != "帮扶能力"}]
    err = rejected(engine, write_csv(tmp_path / "o.csv", rows), "orgs")
    assert [(e.row, e.column, e.reason) for e in err.errors] == [(1, "帮扶能力", "缺少必填列")]


def test_every_bad_row_is_reported(engine: Engine, tmp_path: Path) -> None:
    rows = [org_row(1, 联系电话="abc"), org_row(2), org_row(3, 组织类型="x", 联系人="")]
    err = rejected(engine, write_csv(tmp_path / "o.csv", rows), "orgs")
    assert [(e.row, e.column) for e in err.errors] == [(2, "联系电话"), (4, "组织类型"), (4, "联系人")]
    assert "2行有错误" in err.message
    assert "第4行「组织类型」（值：x）" in err.report()


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("orgs.txt", b"abc", "只接受 .xlsx、.xls 或 .csv 文件"),
    ("orgs.xlsx", b"this is not a zip", "文件内容不是Excel（.xlsx）格式"),
    ("orgs.csv", "名称,地址\n甲,乙\n".encode(), "未找到表头"),
])
def test_unreadable_files(engine: Engine, tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    err = rejected(engine, path, "orgs")
    assert reason in err.errors[0].reason


def test_header_only_file(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(",".join(org_row(1)) + "\n", encoding="utf-8")
    err = rejected(engine, path, "orgs")
    assert err.errors[0].reason == "文件中没有数据行"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(engine: Engine, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "o.csv", [org_row(1), org_row(2)], encoding=encoding)
    report = run_import(engine, path, "orgs")
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    with Session(engine) as session:
        names = sorted(o.name for o in session.exec(select(Organization)).all())
    assert names == ["汪清县第1志愿者协会", "汪清县第2志愿者协会"]


def test_xlsx_with_title_row_aliases_and_any_column_order(engine: Engine, tmp_path: Path) -> None:
    row = org_row(1)
    aliased = {"信用代码": row["统一社会信用代码"], "单位名称": "\u3000汪清县 爱心 协会 ", "类型": "民办非企业单位",
               "登记机关": row["登记管理机关"], "所在市州": "延边", "县（市、区）": "汪清",
               "行动类别": "扶弱济困行动；医护康养", "拟开展帮扶内容": row["帮扶能力"], "联系人": "王丽",
               "电话": "139 0433 0001", "备注": "无关的列", "资金（万元）": "5万"}
    path = write_xlsx(tmp_path / "o.xlsx", [aliased], title="社会组织参与乡村振兴行动报名表")
    report = run_import(engine, path, "orgs")
    assert report.created == 1
    assert report.warnings == ["忽略未知列：备注"]
    with Session(engine) as session:
        org = session.exec(select(Organization)).one()
    assert (org.name, org.org_type, org.city_code, org.county_code) == ("汪清县爱心协会", "社会服务机构", "222400", "222424")
    assert (org.actions, org.contact_phone, org.funds, org.registrar_level) == (
        ["扶弱济困", "医护康养"], "13904330001", 5.0, "county")


def test_xlsx_numeric_cells(engine: Engine, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "d.xlsx", [demand_row(1, 联系电话=13904330001, 受益人数=120,
                                                        期望完成时间="2027年6月")])
    run_import(engine, path, "demands")
    with Session(engine) as session:
        d = session.exec(select(Demand)).one()
    assert (d.contact_phone, d.beneficiaries, d.due_date.isoformat()) == ("13904330001", 120, "2027-06-30")


def test_blank_or_unknown_category_is_inferred_and_marked(engine: Engine, tmp_path: Path) -> None:
    rows = [demand_row(1, 需求类别=""), demand_row(2, 需求类别="环保", 需求名称="大米滞销",
                                                     需求内容="五万斤大米卖不出去，希望爱心单位认购")]
    report = run_import(engine, write_csv(tmp_path / "d.csv", rows), "demands")
    assert report.warnings == ["第3行「需求类别」「环保」不是六项行动之一，已按内容推断为消费帮扶"]
    with Session(engine) as session:
        got = {d.ref: (d.category, d.category_inferred) for d in session.exec(select(Demand)).all()}
    assert got == {"WQ-001": ("医护康养", True), "WQ-002": ("消费帮扶", True)}


def test_demand_without_ref_gets_a_stable_generated_one(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [demand_row(1, 需求编号="")])
    run_import(engine, path, "demands")
    report = run_import(engine, path, "demands")
    assert (report.created, report.unchanged) == (0, 1)
    with Session(engine) as session:
        d = session.exec(select(Demand)).one()
    assert d.ref.startswith("G")
    assert len(d.ref) == 11
    assert d.ref_generated


def test_reimport_is_idempotent_and_a_corrected_file_updates_in_place(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", [org_row(1), org_row(2)])
    assert run_import(engine, path, "orgs").created == 2
    again = run_import(engine, path, "orgs")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    fixed = write_csv(tmp_path / "o2.csv", [org_row(1, 联系电话="13904339999"), org_row(2)])
    report = run_import(engine, fixed, "orgs")
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    with Session(engine) as session:
        orgs = session.exec(select(Organization).order_by(Organization.credit_code)).all()
    assert [o.contact_phone for o in orgs] == ["13904339999", "13904330001"]
    assert len(orgs) == 2


def test_demand_reimport_updates_in_place(engine: Engine, tmp_path: Path) -> None:
    run_import(engine, write_csv(tmp_path / "d.csv", [demand_row(1)]), "demands")
    report = run_import(engine, write_csv(tmp_path / "d2.csv", [demand_row(1, 受益人数="150")]), "demands")
    assert (report.created, report.updated) == (0, 1)
    with Session(engine) as session:
        assert [d.beneficiaries for d in session.exec(select(Demand)).all()] == [150]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_skip_invalid_imports_good_rows_and_writes_the_bad_ones(engine: Engine, tmp_path: Path,
                                                                suffix: str) -> None:
    rows = [org_row(1), org_row(2, 联系电话="abc"), org_row(3)]
    path = (write_csv if suffix == ".csv" else write_xlsx)(tmp_path / f"o{suffix}", rows)
    report = run_import(engine, path, "orgs", skip_invalid=True)
    assert (report.created, report.rejected) == (2, 1)
    assert count(engine, Organization) == 2
    assert report.error_file == tmp_path / f"o.errors{suffix}"
    if suffix == ".csv":
        with report.error_file.open(encoding="utf-8-sig") as f:
            table = list(csv.reader(f))
    else:
        ws = openpyxl.load_workbook(report.error_file).active
        table = [[("" if c is None else str(c)) for c in r] for r in ws.iter_rows(values_only=True)]
    assert table[0] == [*org_row(1), "错误原因"]
    assert len(table) == 2
    assert table[1][0] == "汪清县第2志愿者协会"
    assert table[1][-1].startswith("「联系电话」格式不正确")
    # The error file, once fixed, imports cleanly.
    fixed = [dict(zip(table[0][:-1], [*table[1][:13], "13904330002", table[1][14]], strict=True))]
    assert run_import(engine, write_csv(tmp_path / "fixed.csv", fixed), "orgs").created == 1


def test_chinese_punctuation_is_kept_and_full_width_codes_are_normalised(engine: Engine, tmp_path: Path) -> None:
    code = org_row(1)["统一社会信用代码"]
    full_width = code.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHJKLMNPQRTUWXY"})
    path = write_csv(tmp_path / "o.csv", [org_row(1, 统一社会信用代码=full_width, 联系电话="１３９０４３３０００１",
                                                 帮扶能力="义诊（免费），送药、体检")])
    run_import(engine, path, "orgs")
    with Session(engine) as session:
        org = session.exec(select(Organization)).one()
    assert (org.credit_code, org.contact_phone, org.capability) == (code, "13904330001", "义诊（免费），送药、体检")


def test_overlong_cells_and_huge_numbers_are_refused(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [demand_row(1, 需求名称="长" * 201, 受益人数="99999999999")])
    err = rejected(engine, path, "demands")
    assert [(e.column, e.reason) for e in err.errors] == [
        ("需求名称", "过长：最多200个字符，实际201个"), ("受益人数", "数值过大")]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_error_files_keep_formula_like_text_inert(engine: Engine, tmp_path: Path, suffix: str) -> None:
    rows = [org_row(1), org_row(2, 组织名称='=HYPERLINK("http://evil.example","点我")', 帮扶能力="+1+1", 联系电话="abc")]
    path = (write_csv if suffix == ".csv" else write_xlsx)(tmp_path / f"o{suffix}", rows)
    report = run_import(engine, path, "orgs", skip_invalid=True)
    assert report.error_file is not None
    if suffix == ".xlsx":
        ws = openpyxl.load_workbook(report.error_file).active
        name, capability = ws.cell(row=2, column=1), ws.cell(row=2, column=9)
        assert (name.data_type, name.value) == ("s", '=HYPERLINK("http://evil.example","点我")')
        assert (capability.data_type, capability.value) == ("s", "+1+1")
    else:
        with report.error_file.open(encoding="utf-8-sig") as f:
            table = list(csv.reader(f))
        assert (table[1][0], table[1][8]) == ('\'=HYPERLINK("http://evil.example","点我")', "'+1+1")
