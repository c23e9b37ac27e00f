"""Reading what staff upload: .xlsx, .xls (Excel 97–2003, WPS's default in many offices) and CSV in
UTF-8 or GBK; the form on whichever sheet holds it, its header among the first rows (two header rows
when cells were merged above sub-headers), trailing 合计 and notes rows set aside with a warning."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import xlrd

from api.errors import InvalidInput
from api.services import validation as v
from api.services.contract import FormSpec, header_key

ENCODINGS = ("utf-8-sig", "gb18030")
MAX_ROWS = 50_000  # far above a province's forms; a larger file is refused, not half-read
MAX_COLUMNS = 100
MAX_UNZIPPED_BYTES = 200 * 2**20  # an .xlsx inflating beyond this is refused before it is read
MAX_ZIP_RATIO = 200  # real workbooks compress about 5-20 times; zip bombs by thousands
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of every .xls
HEADER_SEARCH_ROWS = 10
# The first cell of a row that sums up or explains the form rather than being one of its records.
_TOTAL_OR_NOTE = re.compile(r"^\s*(?:合\s*计|总\s*计|小\s*计|共\s*计|注\s*[:：]|注\s*\d|备注|说明|填表说明|填报说明"
                            r"|填表人|填报人|审核人|制表人|制表|负责人[:：]|联系人[:：])")


@dataclass(frozen=True)
class RowError:
    row: int  # as the spreadsheet shows it; 0 for the file as a whole
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"第{self.row}行" if self.row else "文件"
        value = f"（值：{self.value}）" if self.value else ""
        column = f"「{self.column}」" if self.column else ""
        return f"{where}{column}{value}：{self.reason}"


class ImportRejected(InvalidInput):
    """The file was refused as a whole; nothing was written."""

    code = "import_rejected"

    def __init__(self, errors: list[RowError], *, rows_total: int = 0, sheet: str | None = None) -> None:
        bad_rows = len({e.row for e in errors if e.row})
        where = f"工作表「{sheet}」中" if sheet else ""
        summary = (f"文件被拒绝，未写入任何数据：{where}{bad_rows}行有错误" if bad_rows
                   else "文件被拒绝，未写入任何数据")
        super().__init__(summary)
        self.errors = errors
        self.rows_total = rows_total

    def report(self) -> str:
        return "\n".join([self.message, *(f"  {e}" for e in self.errors)])




@dataclass
class Sheet:
    name: str | None  # None for a CSV
    rows: list[list[Any]]


@dataclass
class Table:
    headers: list[str]
    header_row: int
    rows: list[tuple[int, list[Any]]]
    sheet: str | None = None  # named when the workbook has several sheets
    warnings: list[str] = field(default_factory=list)  # rows set aside, and why


def read_table(path: Path, form: FormSpec) -> Table:
    """The form from the file: the one sheet whose header matches (several are refused, by name),
    its header row found among the first rows, blank rows dropped, trailing totals set aside."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        sheets = _read_xlsx(path)
    elif suffix == ".xls":
        sheets = _read_xls(path)
    elif suffix == ".csv":
        sheets = [Sheet(None, _read_csv(path.read_bytes()))]
    else:
        raise _refuse("只接受 .xlsx、.xls 或 .csv 文件", path.name)
    known = {header_key(n) for c in form.columns for n in c.names()}
    found = [(s, i) for s in sheets if (i := _header_at(s.rows, known)) is not None]
    if len(found) > 1:
        names = "、".join(f"「{s.name}」" for s, _ in found)
        raise ImportRejected([RowError(0, "", names, f"工作簿中有{len(found)}个工作表都是《{form.title}》："
                                       "请每次只上传一个（删去其余工作表，或分别另存后上传）")])
    if not found:
        names = "、".join(f"「{s.name}」" for s in sheets)
        where = f"（已查看{len(sheets)}个工作表：{names}）" if len(sheets) > 1 else ""
        raise ImportRejected([RowError(0, "", "", f"未找到表头：这不像一份《{form.title}》"
                                       f"（前{HEADER_SEARCH_ROWS}行中没有找到规定的列名）{where}")])
    sheet, i = found[0]
    table = _table(sheet.rows, i, known)
    table.sheet = sheet.name if len(sheets) > 1 else None
    return table


def _header_at(rows: list[list[Any]], known: set[str]) -> int | None:
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if sum(1 for cell in row if header_key(cell) in known) >= 2:
            return i
    return None


def _table(rows: list[list[Any]], i: int, known: set[str]) -> Table:
    # Kept as written, so a report names the column the way the file does.
    headers = ["" if c is None else str(c).strip() for c in rows[i]]
    first_body = i + 1
    below = rows[i + 1] if i + 1 < len(rows) else []
    named = {header_key(h) for h in headers}
    # A header cell merged across sub-headers ("联系方式" over 联系人 and 联系电话): the row below
    # names columns the header row does not.
    if any(header_key(c) in known and header_key(c) not in named for c in below):
        headers += [""] * (len(below) - len(headers))
        for j, cell in enumerate(below):
            if header_key(cell) in known:
                headers[j] = str(cell).strip()
        first_body = i + 2
    body = [(first_body + j + 1, list(r)) for j, r in enumerate(rows[first_body:])]
    body = [(n, r) for n, r in body if any(v.cell_text(c) for c in r)]
    warnings = []
    while body and _TOTAL_OR_NOTE.match(_first_text(body[-1][1])):
        n, r = body.pop()
        warnings.insert(0, f"第{n}行「{_first_text(r)[:30]}」是合计或说明行，未导入")
    return Table(headers, first_body, body, warnings=warnings)


def _first_text(row: list[Any]) -> str:
    return next((t for c in row if (t := v.cell_text(c))), "")


def _refuse(reason: str, value: str = "") -> ImportRejected:
    return ImportRejected([RowError(0, "", value, reason)])


def _check_xlsx_container(path: Path) -> None:
    """A real .xlsx is a zip: check that, and what it would inflate to, before openpyxl reads it."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise _refuse("文件内容不是Excel（.xlsx）格式：请在Excel或WPS中另存为.xlsx后再上传", path.name)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise _refuse("Excel文件已损坏，无法读取", path.name) from exc
    unzipped = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if unzipped > MAX_UNZIPPED_BYTES or unzipped / packed > MAX_ZIP_RATIO:
        raise _refuse("文件异常：解压后体积过大，已拒绝（可能是恶意构造的文件）", path.name)


def _read_xlsx(path: Path) -> list[Sheet]:
    _check_xlsx_container(path)
    try:
        # data_only=False: a formula comes in as its text ("=..."), never as a value computed
        # somewhere else (or as nothing, in a file no spreadsheet program has saved).
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as exc:
        raise ImportRejected([RowError(0, "", path.name, "无法读取该Excel文件，请确认是.xlsx格式")]) from exc
    try:
        sheets = []
        for ws in wb.worksheets:
            rows: list[list[Any]] = []
            for row in ws.iter_rows(values_only=True):  # streamed: stop at the limit, never load it all
                rows.append(_within_limits(list(row), len(rows)))
            sheets.append(Sheet(ws.title, rows))
        return sheets
    finally:
        wb.close()


def _read_xls(path: Path) -> list[Sheet]:
    """Excel 97–2003 (.xls), still the default of many offices' WPS: every sheet, dates as dates."""
    with path.open("rb") as f:
        magic = f.read(8)
    if magic[:4] == b"PK\x03\x04":
        raise _refuse("这是.xlsx文件：请把扩展名改为.xlsx后再上传", path.name)
    if magic != OLE2_MAGIC:
        raise _refuse("文件内容不是Excel 97-2003（.xls）格式（可能是网页或文本另存的）："
                      "请在Excel或WPS中另存为.xlsx后再上传", path.name)
    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:  # xlrd raises many kinds on a damaged file; all mean the same to staff
        raise _refuse("Excel文件（.xls）已损坏，无法读取", path.name) from exc
    try:
        sheets = []
        for sh in book.sheets():
            rows: list[list[Any]] = []
            for r in range(sh.nrows):
                cells: list[Any] = []
                for cell in sh.row(r):
                    if cell.ctype == xlrd.XL_CELL_DATE:
                        cells.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
                    elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                        cells.append(None)
                    else:
                        cells.append(cell.value)
                rows.append(_within_limits(cells, len(rows)))
            sheets.append(Sheet(sh.name, rows))
        return sheets
    finally:
        book.release_resources()


def _within_limits(row: list[Any], seen: int) -> list[Any]:
    if seen >= MAX_ROWS + 10:  # the header may sit under a few title rows
        raise _refuse(f"行数过多：一次最多导入{MAX_ROWS}行，请拆分文件")
    while row and (row[-1] is None or row[-1] == ""):
        row.pop()
    if len(row) > MAX_COLUMNS:
        raise _refuse(f"列数过多：第{seen + 1}行有{len(row)}列，最多{MAX_COLUMNS}列")
    return row


def _read_csv(data: bytes) -> list[list[Any]]:
    if data.startswith(b"PK\x03\x04"):
        raise _refuse("这是Excel文件，不是CSV：请把扩展名改为.xlsx，或另存为CSV")
    if b"\x00" in data[:65536]:
        raise _refuse("文件内容不是文本CSV（含有二进制数据）")
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        rows: list[list[Any]] = []
        try:
            for r in csv.reader(io.StringIO(text, newline="")):
                rows.append(_within_limits(list(r), len(rows)))
        except csv.Error as exc:
            raise _refuse(f"CSV格式错误（第{len(rows) + 1}行附近）：请用Excel或WPS重新另存为CSV") from exc
        return rows
    raise ImportRejected([RowError(0, "", "", "无法识别文件编码：请保存为UTF-8或GBK编码的CSV")])
