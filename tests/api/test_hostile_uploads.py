"""Broken and hostile uploads are refused with a clear Chinese reason, write nothing, and are
refused before they can exhaust memory."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from api.services import workbooks
from api.services.engine import get_matcher
from tests.api.test_importer import rejected
from tests.factories import org_row, write_csv, write_xlsx


def test_zip_bomb_is_refused_before_it_is_inflated(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "报名表.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 2**20))  # 60 MB of nothing, packed to ~60 KB
    assert path.stat().st_size < 2**20
    get_matcher()  # the dictionary loads once per process; keep it out of the measurement
    tracemalloc.start()
    err = rejected(engine, path, "orgs")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "解压后体积过大" in err.errors[0].reason
    assert peak < 20 * 2**20  # refused from the archive's directory, never inflated


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("报名表.xlsx", "组织名称,统一社会信用代码\n甲,乙\n".encode(), "文件内容不是Excel（.xlsx）格式"),
    ("报名表.xlsx", b"PK\x03\x04" + b"garbage" * 100, "Excel文件已损坏"),
    ("报名表.csv", b"\x00\x01\x02binary\x00", "文件内容不是文本CSV"),
])
def test_files_that_are_not_what_they_say(engine: Engine, tmp_path: Path, name: str, content: bytes,
                                          reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert reason in rejected(engine, path, "orgs").errors[0].reason


def test_a_workbook_named_csv(engine: Engine, tmp_path: Path) -> None:
    real = write_xlsx(tmp_path / "real.xlsx", [org_row(1)])
    fake = tmp_path / "报名表.csv"
    fake.write_bytes(real.read_bytes())
    assert "这是Excel文件，不是CSV" in rejected(engine, fake, "orgs").errors[0].reason


def test_too_many_rows_or_columns(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbooks, "MAX_ROWS", 20)
    many = write_csv(tmp_path / "many.csv", [org_row(i) for i in range(1, 40)])
    assert "行数过多：一次最多导入20行" in rejected(engine, many, "orgs").errors[0].reason
    wide = {**org_row(1), **{f"多余{i}": "x" for i in range(120)}}
    path = write_xlsx(tmp_path / "wide.xlsx", [wide])
    assert "列数过多" in rejected(engine, path, "orgs").errors[0].reason


def test_broken_csv_quoting(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    buf = io.StringIO()
    buf.write(",".join(org_row(1)) + "\n")
    buf.write('"' + "长" * 200_000 + "\n")  # an unclosed quote swallowing the rest: beyond csv's field limit
    path.write_text(buf.getvalue(), encoding="utf-8")
    err = rejected(engine, path, "orgs")
    assert "CSV格式错误" in err.errors[0].reason or "过长" in err.errors[0].reason


@pytest.mark.parametrize("tail", [
    b"\xff\xfe\x80\x80",  # neither UTF-8 nor GB18030 (0xFF and a lone 0x80 are invalid in both)
    "延吉市".encode("gb18030") + b"\x81",  # GB18030 cut in the middle of a character
])
def test_malformed_encodings_are_refused(engine: Engine, tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "报名表.csv"
    head = ",".join(org_row(1)).encode("utf-8") + b"\n" + ",".join(org_row(1).values()).encode("utf-8")
    path.write_bytes(head + tail + b"\n")
    assert rejected(engine, path, "orgs").errors[0].reason == "无法识别文件编码：请保存为UTF-8或GBK编码的CSV"


def test_very_long_cells_are_named_and_refused(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", [org_row(1, 帮扶能力="很长" * 30_000)])
    err = rejected(engine, path, "orgs").errors[0]
    assert (err.row, err.column) == (2, "帮扶能力")
    assert err.reason.startswith("过长：最多") and "实际60000个" in err.reason
    assert len(err.value) <= 21  # the report quotes the start, not sixty thousand characters
