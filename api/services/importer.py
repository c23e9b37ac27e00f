"""Importing the two forms: read, validate every row, then write all or nothing."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from sqlmodel import Session, col, select

from api.services import privacy
from api.services import validation as v
from api.services.contract import DEMAND_FORM, FORMS, ORG_FORM, FormSpec, header_key
from api.services.pending import enqueue_many
from api.services.workbooks import ImportRejected, RowError, Table, read_table
from matcher import Matcher
from matcher.categories import canonical_action, split_actions
from matcher.regions import RegionIndex
from models import Demand, DemandAlias, Organization, OrganizationAlias
from models.base import utcnow


@dataclass
class ImportReport:
    kind: str
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_file: Path | None = None
    keys: list[str] = field(default_factory=list)
    written: list[tuple[int, bool]] = field(default_factory=list)  # ids created or changed, and whether created

    def summary(self) -> str:
        label = "社会组织" if self.kind == "orgs" else "需求"
        text = (f"{label}导入完成：共{self.rows_total}行，新增{self.created}，"
                f"更新{self.updated}，未变{self.unchanged}")
        if self.rejected:
            text += f"，跳过错误行{self.rejected}（见{self.error_file}）"
        return text


def map_columns(table: Table, form: FormSpec) -> tuple[dict[str, int], list[str]]:
    """Column index of each key; warnings for columns we do not know."""
    by_name = {header_key(n): c for c in form.columns for n in c.names()}
    index: dict[str, int] = {}
    warnings: list[str] = []
    for i, header in enumerate(table.headers):
        if not header:
            continue
        spec = by_name.get(header_key(header))
        if spec is None:
            warnings.append(f"忽略未知列：{header}")
        elif spec.key not in index:
            index[spec.key] = i
    missing = [c.header for c in form.columns if c.required and c.key not in index]
    if missing:
        raise ImportRejected([RowError(table.header_row, m, "", "缺少必填列") for m in missing])
    return index, warnings


# -- validating ------------------------------------------------------------------------

class RowContext:
    """Reads one row's cells by key and collects its errors."""

    def __init__(self, row: int, cells: list[Any], index: dict[str, int], table: Table,
                 form: FormSpec) -> None:
        self.row, self.cells, self.index, self.table, self.form = row, cells, index, table, form
        self.errors: list[RowError] = []

    def header(self, key: str) -> str:
        i = self.index.get(key)
        return self.table.headers[i] if i is not None else self.form.header_of(key)

    def raw(self, key: str) -> Any:
        i = self.index.get(key)
        return self.cells[i] if i is not None and i < len(self.cells) else None

    def text(self, key: str) -> str:
        return v.cell_text(self.raw(key))

    def check_lengths(self) -> None:
        for spec in self.form.columns:
            value = self.text(spec.key)
            if len(value) > spec.max_length:
                self.fail(spec.key, f"过长：最多{spec.max_length}个字符，实际{len(value)}个", value=value[:20] + "…")

    def fail(self, key: str, reason: str, value: str | None = None) -> None:
        self.errors.append(RowError(self.row, self.header(key), self.text(key) if value is None else value, reason))

    def required(self, key: str) -> str:
        value = self.text(key)
        if not value:
            self.fail(key, "必填项为空")
        return value

    def parse(self, key: str, parser: Callable[[Any], Any], *, required: bool = False) -> Any:
        value = self.text(key)
        if not value:
            if required:
                self.fail(key, "必填项为空")
            return None
        try:
            return parser(self.raw(key) if parser is v.parse_due_date else value)
        except v.FieldError as err:
            self.fail(key, err.reason)
            return None


def _place(ctx: RowContext, regions: RegionIndex, *, county_required: bool) -> tuple[str | None, str | None]:
    city_text = ctx.required("city")
    county_text = ctx.required("county") if county_required else ctx.text("county")
    city = regions.resolve_city(city_text) if city_text else None
    if city_text and city is None:
        found = regions.resolve_county(county_text) if county_text else None
        hint = [regions.city_name(found.city_code)] if found else regions.suggest(city_text)
        ctx.fail("city", "不是吉林省的市（州）、梅河口市或长白山管委会"
                 + (f"，是否应为：{'、'.join(hint)}" if hint else ""))
    county_code = None
    if county_text and city is not None:
        county = regions.resolve_county(county_text, city.code)
        if county is not None and county.city_code == city.code:
            county_code = county.code
        elif county is not None:
            note = "（公主岭市自2020年起由长春市代管）" if county.name == "公主岭市" else ""
            ctx.fail("county", f"不在{city.name}辖区内，属于{regions.city_name(county.city_code)}{note}")
        else:
            hint = regions.suggest(county_text, city_code=city.code)
            ctx.fail("county", f"不是{city.name}的县（市、区）"
                     + (f"，是否应为：{'、'.join(hint)}" if hint else ""))
    return (city.code if city else None), county_code


def _clean_name(text: str) -> str:
    return "".join(text.split())


def validate_org(ctx: RowContext, regions: RegionIndex) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    rec["name"] = _clean_name(ctx.required("name"))
    rec["credit_code"] = ctx.parse("credit_code", v.parse_credit_code, required=True)
    rec["org_type"] = ctx.parse("org_type", v.parse_org_type, required=True)
    registrar = ctx.required("registrar")
    rec["registrar"] = _clean_name(registrar)
    if registrar:
        place = regions.registrar_place(registrar)
        if place is None:
            ctx.fail("registrar", "无法识别登记管理机关的级别（应如：吉林省民政厅、长春市民政局、九台区民政局）")
        else:
            rec["registrar_level"] = place[0]
    rec["city_code"], rec["county_code"] = _place(ctx, regions, county_required=False)
    actions_text = ctx.required("actions")
    if actions_text:
        actions, unknown = split_actions(actions_text)
        if unknown:
            ctx.fail("actions", f"无法识别的行动：{'、'.join(unknown)}（应为创业就业、人才培育、扶弱济困、"
                     "医护康养、社会治理、消费帮扶之一或多项）")
        elif not actions:
            ctx.fail("actions", "至少填写一项行动")
        rec["actions"] = actions
    rec["scope"] = ctx.text("scope")
    rec["capability"] = ctx.required("capability")
    rec["service_area"] = ctx.text("service_area")
    rec["funds"] = ctx.parse("funds", v.parse_amount)
    rec["staff"] = ctx.parse("staff", v.parse_count)
    rec["contact_name"] = ctx.required("contact_name")
    rec["contact_phone"] = ctx.parse("contact_phone", v.parse_phone, required=True)
    rec["email"] = ctx.parse("email", v.parse_email)
    return rec


def validate_demand(ctx: RowContext, regions: RegionIndex, matcher: Matcher,
                    warnings: list[str]) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    rec["city_code"], rec["county_code"] = _place(ctx, regions, county_required=True)
    rec["township"] = _clean_name(ctx.text("township"))
    rec["village"] = _clean_name(ctx.text("village"))
    rec["title"] = ctx.required("title")
    rec["description"] = ctx.required("description")
    rec["beneficiaries"] = ctx.parse("beneficiaries", v.parse_count)
    rec["funding_needed"] = ctx.parse("funding_needed", v.parse_amount)
    rec["due_date"] = ctx.parse("due_date", v.parse_due_date)
    rec["contact_name"] = ctx.required("contact_name")
    rec["contact_phone"] = ctx.parse("contact_phone", v.parse_phone, required=True)
    ref = v.nfkc(ctx.text("ref")).replace(" ", "")
    rec["ref_generated"] = not ref
    if not ref and rec["county_code"] and rec["title"]:
        basis = "|".join([rec["county_code"], rec["township"], rec["village"], rec["title"]])
        ref = "G" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:10].upper()
    rec["ref"] = ref
    category_text = ctx.text("category")
    category = canonical_action(category_text)
    rec["category_inferred"] = category is None
    if category is None and rec["title"] and rec["description"]:
        category = matcher.infer_action(f"{rec['title']} {rec['description']}").action
        if category_text:
            warnings.append(f"第{ctx.row}行「{ctx.header('category')}」「{category_text}」"
                            f"不是六项行动之一，已按内容推断为{category}")
    rec["category"] = category
    return rec


def validate_table(table: Table, form: FormSpec, index: dict[str, int], matcher: Matcher,
                   warnings: list[str]) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    good: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, ...], int] = {}
    for row, cells in table.rows:
        ctx = RowContext(row, cells, index, table, form)
        ctx.check_lengths()
        if form.kind == "orgs":
            rec = validate_org(ctx, matcher.regions)
            key: tuple[str, ...] | None = (rec["credit_code"],) if rec.get("credit_code") else None
            key_col = "credit_code"
        else:
            rec = validate_demand(ctx, matcher.regions, matcher, warnings)
            key = (rec["county_code"], rec["ref"]) if rec.get("county_code") and rec.get("ref") else None
            key_col = "ref"
        if key is not None and key in seen:
            ctx.fail(key_col, f"与第{seen[key]}行重复", value=key[-1])
        elif key is not None:
            seen[key] = row
        if ctx.errors:
            errors.extend(ctx.errors)
        else:
            good.append((row, rec))
            warnings.extend(f"第{row}行{w}" for w in free_text_warnings(form, rec, ctx.header))
    return good, errors


def free_text_warnings(form: FormSpec, record: Mapping[str, Any], header: Callable[[str], str]) -> list[str]:
    """Personal data found in a record's free-text columns, each named by its column."""
    return [f"「{header(c.key)}」{w}" for c in form.columns if c.free_text
            for w in privacy.warnings(record.get(c.key))]


# -- writing ---------------------------------------------------------------------------

def _upsert(session: Session, model: type[Organization] | type[Demand],
            records: list[dict[str, Any]], key_of: Callable[[Any], tuple[str, ...]],
            report: ImportReport) -> None:
    if model is Organization:
        codes = [r["credit_code"] for r in records]
        existing = session.exec(select(Organization).where(col(Organization.credit_code).in_(codes))).all()
        aliases = session.exec(
            select(OrganizationAlias.credit_code, Organization.credit_code, Organization.name)
            .join(Organization, col(Organization.id) == OrganizationAlias.organization_id)
            .where(col(OrganizationAlias.credit_code).in_(codes))).all()
        merged = {(code,): f"统一社会信用代码{code}已合并到社会组织{kept}（{name}）" for code, kept, name in aliases}
    else:
        refs = list({r["ref"] for r in records})
        existing = session.exec(select(Demand).where(col(Demand.ref).in_(refs))).all()
        aliases = session.exec(
            select(DemandAlias.county_code, DemandAlias.ref, Demand.ref, Demand.title)
            .join(Demand, col(Demand.id) == DemandAlias.demand_id).where(col(DemandAlias.ref).in_(refs))).all()
        merged = {(county, ref): f"需求编号{ref}已合并到需求{kept}（{title}）" for county, ref, kept, title in aliases}
    by_key = {key_of(row): row for row in existing}
    now = utcnow()
    touched: list[Organization | Demand] = []
    created: set[int] = set()
    for rec in records:
        row = by_key.get(key_of(rec))
        if row is None and key_of(rec) in merged:  # staff merged it: the kept record is not overwritten
            report.unchanged += 1
            report.warnings.append(f"{merged[key_of(rec)]}，本行未导入")
            continue
        if row is None:
            row = model(**rec)
            session.add(row)
            touched.append(row)
            created.add(id(row))
            report.created += 1
            continue
        changed = {k: val for k, val in rec.items() if getattr(row, k) != val}
        if changed:
            for k, val in changed.items():
                setattr(row, k, val)
            row.updated_at = now
            session.add(row)
            touched.append(row)
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    report.written = [(row.id, id(row) in created) for row in touched if row.id is not None]
    enqueue_many(session, "organization" if model is Organization else "demand",
                 [row.id for row in touched if row.id is not None])


def _org_key(r: Any) -> tuple[str, ...]:
    return (r["credit_code"],) if isinstance(r, dict) else (r.credit_code,)


def _demand_key(r: Any) -> tuple[str, ...]:
    return (r["county_code"], r["ref"]) if isinstance(r, dict) else (r.county_code, r.ref)


def import_file(
    session: Session,
    path: Path,
    kind: str,
    *,
    matcher: Matcher,
    skip_invalid: bool = False,
    error_file: Path | None = None,
    row_check: Callable[[dict[str, Any]], str | None] | None = None,
) -> ImportReport:
    """Import one form. Raises ImportRejected (and writes nothing) on any bad row,
    unless ``skip_invalid``: then good rows are written and bad ones go to ``error_file``."""
    form = FORMS[kind]
    table = read_table(path, form)
    index, warnings = map_columns(table, form)
    warnings = [*table.warnings, *warnings]
    if not table.rows:
        raise ImportRejected([RowError(0, "", "", "文件中没有数据行")])
    good, errors = validate_table(table, form, index, matcher, warnings)
    if row_check is not None:
        # Rows the uploader may not write (another region) are refused like any bad row.
        allowed = []
        for row, rec in good:
            reason = row_check(rec)
            if reason:
                errors.append(RowError(row, form.header_of("county") if "county" in index else "", "", reason))
            else:
                allowed.append((row, rec))
        good = allowed
        errors.sort(key=lambda e: e.row)
    report = ImportReport(kind=kind, rows_total=len(table.rows), warnings=warnings)
    if errors and not skip_invalid:
        raise ImportRejected(errors, rows_total=len(table.rows), sheet=table.sheet)
    if errors:
        report.errors = errors
        report.rejected = len({e.row for e in errors})
        suffix = ".csv" if path.suffix.lower() == ".csv" else ".xlsx"  # an .xls comes back as .xlsx
        report.error_file = error_file or path.with_name(f"{path.stem}.errors{suffix}")
        write_error_file(report.error_file, table, errors)
    records = [rec for _row, rec in good]
    if records:
        if kind == "orgs":
            _upsert(session, Organization, records, _org_key, report)
        else:
            _upsert(session, Demand, records, _demand_key, report)
    report.keys = ["|".join(_org_key(r) if kind == "orgs" else _demand_key(r)) for r in records]
    return report


def write_error_file(path: Path, table: Table, errors: list[RowError]) -> None:
    """The rejected rows in the upload's own format, with a reason column, to fix and re-upload."""
    reasons: dict[int, list[str]] = {}
    for e in errors:
        reasons.setdefault(e.row, []).append(f"「{e.column}」{e.reason}" if e.column else e.reason)
    headers = [*table.headers, "错误原因"]
    rows = [[*(v.cell_text(c) for c in cells), "；".join(reasons[n])]
            for n, cells in table.rows if n in reasons]
    if path.suffix.lower() == ".xlsx":
        write_safe_xlsx(path, "错误行", [headers, *rows])
    else:
        write_safe_csv(path, [headers, *rows])


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_safe_xlsx(path: Path, title: str, rows: list[list[Any]]) -> None:
    """An .xlsx whose text cells are stored as text: one starting like a formula stays inert,
    since texts written by outsiders (organizations, villages) end up in staff's spreadsheets."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            safe_cell(ws, r, c, value)
    wb.save(path)


def safe_cell(ws: Any, row: int, column: int, value: Any) -> Any:
    """Write one cell; text that starts like a formula is stored as a string cell, never a formula."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        cell.data_type = "s"
    return cell


def write_safe_csv(path: Path, rows: list[list[Any]]) -> None:
    """A CSV for Excel (UTF-8 with BOM) where a cell starting like a formula gets a leading
    apostrophe, the usual guard against formula injection in CSV."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        for row in rows:
            writer.writerow([csv_safe(x) for x in row])


def csv_safe(value: Any) -> Any:
    """A CSV value with a leading apostrophe when it starts like a formula."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


__all__ = ["DEMAND_FORM", "ORG_FORM", "ImportRejected", "ImportReport", "RowError", "import_file"]
