"""The lists staff hand upward each half-year (联络清单, 推进成效清单, 项目进展清单) and the
per-organization participation summary for 社会组织评估 and 评优, as .xlsx."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from api.errors import Forbidden, InvalidInput
from api.services import maps
from api.services.auth import Scope
from api.services.importer import safe_cell
from matcher.regions import RegionIndex
from models import Organization, ProgressReport, Project
from models.organization import LEVEL_LABELS
from models.project import LIVE_STATUSES, OVERDUE_DAYS, PROJECT_STATUS_LABELS

KINDS = {"contacts": "联络清单", "results": "推进成效清单", "progress": "项目进展清单", "recognition": "参与情况汇总"}
TITLES = {
    "contacts": "社会组织参与乡村振兴行动联络清单",
    "results": "社会组织参与乡村振兴行动推进成效清单",
    "progress": "社会组织参与乡村振兴行动项目进展清单",
    "recognition": "社会组织参与乡村振兴行动情况汇总（供社会组织评估、评优参考）",
}


# -- period and region -----------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    code: str  # 2025H1 | 2025H2 | 2025
    start: date
    end: date

    @property
    def label(self) -> str:
        year = self.code[:4]
        half = {"H1": "上半年", "H2": "下半年"}.get(self.code[4:], "全年")
        return f"{year}年{half}"


def parse_period(text: str) -> Period:
    """2025H1, 2025H2, 2025 (the year); also 2025年上半年 / 2025年下半年 / 2025年."""
    value = (text or "").strip().upper().replace(" ", "")
    value = value.replace("年上半年", "H1").replace("年下半年", "H2").replace("年全年", "").removesuffix("年")
    m = re.fullmatch(r"(20\d\d)(H[12])?", value)
    if not m:
        raise InvalidInput("期间应写作 2025H1（上半年）、2025H2（下半年）或 2025（全年）")
    year, half = int(m.group(1)), m.group(2)
    if half == "H1":
        return Period(f"{year}H1", date(year, 1, 1), date(year, 6, 30))
    if half == "H2":
        return Period(f"{year}H2", date(year, 7, 1), date(year, 12, 31))
    return Period(str(year), date(year, 1, 1), date(year, 12, 31))


def current_period(today: date) -> Period:
    return parse_period(f"{today.year}H{1 if today.month <= 6 else 2}")


@dataclass(frozen=True)
class Region:
    level: str  # province | city | county
    code: str | None
    name: str

    def holds(self, city_code: str | None, county_code: str | None) -> bool:
        if self.level == "province":
            return True
        if self.level == "city":
            return city_code == self.code
        return county_code is not None and county_code == self.code


def resolve_region(regions: RegionIndex, text: str | None, scope: Scope) -> Region:
    """A region name or code as people write it; empty means the staff member's own region.
    Staff may report on their region or a part of it, never beyond."""
    scope.require_staff()
    text = (text or "").strip()
    if not text:
        if scope.role == "province":
            return Region("province", None, "吉林省")
        text = scope.region_code or ""
    if text in ("吉林省", "全省", "吉林", "220000"):
        region = Region("province", None, "吉林省")
    elif (city := regions.cities.get(text) or regions.resolve_city(text)) is not None:
        region = Region("city", city.code, city.name)
    elif (county := regions.counties.get(text) or regions.resolve_county(text)) is not None:
        region = Region("county", county.code, county.name)
    else:
        raise InvalidInput(f"无法识别的地区：{text}")
    allowed = (scope.role == "province"
               or (scope.role == "city" and region.level == "city" and region.code == scope.region_code)
               or (scope.role == "city" and region.level == "county"
                   and regions.counties[region.code].city_code == scope.region_code)  # type: ignore[index]
               or (scope.role == "county" and region.level == "county" and region.code == scope.region_code))
    if not allowed:
        raise Forbidden("只能导出本人负责地区的报表")
    return region


# -- the report as rows --------------------------------------------------------------------------

@dataclass
class Report:
    kind: str
    region: Region
    period: Period
    headers: list[str]
    rows: list[list[Any]]
    totals: list[Any]
    widths: list[int]
    money_columns: set[int] = field(default_factory=set)  # 0-based, shown with two decimals
    by_county: dict[str, float] = field(default_factory=dict)  # projects per county: the map sheet

    @property
    def title(self) -> str:
        return f"{self.region.name}{TITLES[self.kind]}（{self.period.label}）"


def _project_clause(region: Region) -> Any:
    if region.level == "city":
        return col(Project.city_code) == region.code
    if region.level == "county":
        return col(Project.county_code) == region.code
    return True


# A report's projects with their organizations, and every project's progress reports.
Ran = tuple[list[tuple[Project, Organization]], dict[int, list[ProgressReport]]]


def projects_in(session: Session, region: Region, period: Period) -> Ran:
    """Projects of the region that ran during the period (started by its end, and not
    finished or stopped before it began), and every project's reports in date order."""
    rows = session.exec(
        select(Project, Organization).join(Organization, col(Organization.id) == Project.organization_id)
        .where(_project_clause(region), col(Project.start_date) <= period.end)
        .order_by(col(Project.city_code), col(Project.county_code), col(Project.id))
    ).all()
    reports = _reports_by_project(session, [p.id for p, _ in rows])  # type: ignore[misc]
    kept = []
    for project, org in rows:
        before = [r for r in reports.get(project.id, []) if r.report_date < period.start]  # type: ignore[arg-type]
        in_period = [r for r in reports.get(project.id, []) if period.start <= r.report_date <= period.end]  # type: ignore[arg-type]
        ended_before = bool(before) and before[-1].status not in LIVE_STATUSES and not in_period
        if not ended_before:
            kept.append((project, org))
    return kept, reports


def _reports_by_project(session: Session, ids: list[int]) -> dict[int, list[ProgressReport]]:
    out: dict[int, list[ProgressReport]] = defaultdict(list)
    for start in range(0, len(ids), 500):  # keep IN lists short on every database
        for r in session.exec(select(ProgressReport).where(col(ProgressReport.project_id).in_(ids[start:start + 500]))
                              .order_by(col(ProgressReport.report_date), col(ProgressReport.id))).all():
            out[r.project_id].append(r)
    return out


@dataclass
class StateAt:
    """A project as it stood at a day, from the reports up to it."""

    status: str
    funds_total: float
    funds_period: float
    beneficiaries: int
    last_note: str
    reports_in_period: list[ProgressReport]
    overdue: bool


def state_at(project: Project, reports: list[ProgressReport], period: Period, today: date) -> StateAt:
    cut = min(period.end, today)
    upto = [r for r in reports if r.report_date <= cut]
    in_period = [r for r in upto if r.report_date >= period.start]
    last = upto[-1] if upto else None
    status = last.status if last else "not_started"
    since = last.report_date if last else project.start_date
    return StateAt(
        status=status,
        funds_total=round(sum(r.funds_in for r in upto), 4),
        funds_period=round(sum(r.funds_in for r in in_period), 4),
        beneficiaries=last.beneficiaries if last else 0,
        last_note=next((r.note for r in reversed(in_period) if r.note), ""),
        reports_in_period=in_period,
        overdue=status in LIVE_STATUSES and (cut - since).days > OVERDUE_DAYS,
    )


def _place(regions: RegionIndex, project: Project) -> list[str]:
    return [regions.city_name(project.city_code) or "", regions.county_name(project.county_code) or "",
            project.village]


def build(session: Session, kind: str, region: Region, period: Period, regions: RegionIndex,
          today: date) -> Report:
    if kind not in KINDS:
        raise InvalidInput(f"报表种类应为：{'、'.join(f'{k}（{v}）' for k, v in KINDS.items())}")
    ran = projects_in(session, region, period)
    report = {"contacts": _contacts, "results": _results, "progress": _progress,
              "recognition": _recognition}[kind](session, region, period, regions, today, ran)
    for project, _org in ran[0]:
        report.by_county[project.county_code] = report.by_county.get(project.county_code, 0) + 1
    return report


def _contacts(session: Session, region: Region, period: Period, regions: RegionIndex, today: date,
              ran: Ran) -> Report:
    projects, _reports = ran
    per_org: dict[int, int] = defaultdict(int)
    for project, _ in projects:
        per_org[project.organization_id] += 1
    # Organizations registered in the region and active now (contacts are current ones), and every
    # organization that ran a project here in the period, wherever it is registered.
    query = select(Organization).where(Organization.status == "active")
    if region.level == "city":
        query = query.where(Organization.city_code == region.code)
    elif region.level == "county":
        query = query.where(Organization.county_code == region.code)
    found = {o.id: o for o in session.exec(query).all()}
    missing = [i for i in per_org if i not in found]
    for start in range(0, len(missing), 500):
        found.update({o.id: o for o in session.exec(select(Organization).where(
            col(Organization.id).in_(missing[start:start + 500]))).all()})
    orgs = sorted(found.values(), key=lambda o: (o.city_code, o.county_code or "", o.name))
    headers = ["序号", "社会组织名称", "统一社会信用代码", "组织类型", "登记管理机关", "登记层级", "所在市（州）",
               "所在县（市、区）", "参与行动", "联系人", "联系电话", "电子邮箱", "本期帮扶项目数"]
    rows = [[i, o.name, o.credit_code, o.org_type, o.registrar, LEVEL_LABELS.get(o.registrar_level, ""),
             regions.city_name(o.city_code) or "", regions.county_name(o.county_code) if o.county_code else "",
             "、".join(o.actions), o.contact_name, o.contact_phone, o.email or "", per_org.get(o.id, 0)]  # type: ignore[arg-type]
            for i, o in enumerate(orgs, start=1)]
    totals = ["合计", f"{len(orgs)}个组织", *[""] * 10, sum(r[-1] for r in rows)]
    return Report("contacts", region, period, headers, rows, totals,
                  [6, 32, 22, 12, 24, 10, 16, 16, 26, 10, 16, 26, 14])


def _end_of(period: Period) -> datetime:
    from datetime import UTC

    return datetime.combine(period.end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def _results(session: Session, region: Region, period: Period, regions: RegionIndex, today: date,
             ran: Ran) -> Report:
    projects, reports = ran
    headers = ["序号", "市（州）", "县（市、区）", "村（社区）", "社会组织", "统一社会信用代码", "参与行动", "项目名称",
               "开始日期", "计划投入（万元）", "本期投入资金物资（万元）", "累计投入资金物资（万元）", "计划受益人数",
               "受益人数", "状态", "村级评价", "进展与成效"]
    rows = []
    for i, (p, o) in enumerate(projects, start=1):
        s = state_at(p, reports.get(p.id, []), period, today)  # type: ignore[arg-type]
        confirmed = p.village_confirmed_at is not None and p.village_confirmed_at < _end_of(period)
        rows.append([i, *_place(regions, p), o.name, o.credit_code, p.action, p.title, p.start_date.isoformat(),
                     p.planned_funds, s.funds_period, s.funds_total, p.planned_beneficiaries, s.beneficiaries,
                     PROJECT_STATUS_LABELS[s.status], f"{p.village_rating}分" if confirmed else "未确认",
                     s.last_note])
    totals = ["合计", f"{len(rows)}个项目", *[""] * 7, _sum(rows, 9), _sum(rows, 10), _sum(rows, 11),
              int(_sum(rows, 12)), int(_sum(rows, 13)), "", "", ""]
    return Report("results", region, period, headers, rows, totals,
                  [6, 14, 16, 14, 30, 22, 10, 30, 12, 12, 14, 14, 12, 10, 8, 10, 50], {9, 10, 11})


def _progress(session: Session, region: Region, period: Period, regions: RegionIndex, today: date,
              ran: Ran) -> Report:
    projects, reports = ran
    headers = ["序号", "市（州）", "县（市、区）", "村（社区）", "社会组织", "参与行动", "项目名称", "报告日期", "状态",
               "本次投入资金物资（万元）", "受益人数（累计）", "进展说明", "经工作人员更正", "逾期未报告"]
    rows: list[list[Any]] = []
    for p, o in projects:
        s = state_at(p, reports.get(p.id, []), period, today)  # type: ignore[arg-type]
        base = [*_place(regions, p), o.name, p.action, p.title]
        for r in s.reports_in_period:
            rows.append([len(rows) + 1, *base, r.report_date.isoformat(), PROJECT_STATUS_LABELS[r.status],
                         r.funds_in, r.beneficiaries, r.note, "是" if r.corrected else "否", ""])
        # A project without a report this period is named too: the silence is what staff chase.
        if not s.reports_in_period:
            rows.append([len(rows) + 1, *base, "", PROJECT_STATUS_LABELS[s.status], 0.0, s.beneficiaries,
                         "本期无进展报告", "", ""])
        rows[-1][13] = "是" if s.overdue else "否"
    n_reports = sum(1 for r in rows if r[7])
    totals = ["合计", f"{n_reports}份报告", *[""] * 7, _sum(rows, 9), "", "", "",
              f"{sum(1 for r in rows if r[13] == '是')}个逾期"]
    return Report("progress", region, period, headers, rows, totals,
                  [6, 14, 16, 14, 30, 10, 30, 12, 8, 14, 12, 50, 10, 10], {9})


def _recognition(session: Session, region: Region, period: Period, regions: RegionIndex, today: date,
                 ran: Ran) -> Report:
    projects, reports = ran
    acc: dict[int, dict[str, Any]] = {}
    for p, o in projects:
        s = state_at(p, reports.get(p.id, []), period, today)  # type: ignore[arg-type]
        a = acc.setdefault(o.id, {"org": o, "projects": 0, "done": 0, "funds": 0.0, "people": 0,  # type: ignore[arg-type]
                                  "ratings": [], "on_time": 0, "due": 0, "cases": 0})
        a["projects"] += 1
        a["done"] += s.status == "done"
        a["funds"] += s.funds_period
        a["people"] += s.beneficiaries
        if p.village_rating and p.village_confirmed_at and p.village_confirmed_at < _end_of(period):
            a["ratings"].append(p.village_rating)
        a["cases"] += p.is_case
        # A report is on time when it came within 90 days of the one before (or of the start);
        # a project overdue at the period's end counts as one report missed.
        previous = max([r.report_date for r in reports.get(p.id, []) if r.report_date < period.start],  # type: ignore[arg-type]
                       default=p.start_date)
        for r in s.reports_in_period:
            a["due"] += 1
            a["on_time"] += (r.report_date - previous).days <= OVERDUE_DAYS
            previous = r.report_date
        a["due"] += s.overdue
    headers = ["序号", "社会组织名称", "统一社会信用代码", "登记层级", "帮扶项目数", "已完成项目数",
               "本期投入资金物资（万元）", "受益人数", "村级评价均分", "村级评价项目数", "按时报告率", "典型案例数"]
    ordered = sorted(acc.values(), key=lambda a: (-a["funds"], a["org"].name))
    rows = [[i, a["org"].name, a["org"].credit_code, LEVEL_LABELS.get(a["org"].registrar_level, ""), a["projects"],
             a["done"], round(a["funds"], 4), a["people"],
             round(sum(a["ratings"]) / len(a["ratings"]), 2) if a["ratings"] else "",
             len(a["ratings"]), f"{a['on_time'] / a['due']:.0%}" if a["due"] else "", a["cases"]]
            for i, a in enumerate(ordered, start=1)]
    totals = ["合计", f"{len(rows)}个组织", "", "", int(_sum(rows, 4)), int(_sum(rows, 5)), _sum(rows, 6),
              int(_sum(rows, 7)), "", int(_sum(rows, 9)), "", int(_sum(rows, 11))]
    return Report("recognition", region, period, headers, rows, totals,
                  [6, 32, 22, 10, 12, 12, 16, 10, 12, 14, 12, 10], {6})


def _sum(rows: list[list[Any]], column: int) -> float:
    return round(sum(r[column] for r in rows if isinstance(r[column], int | float)), 4)


# -- the workbook -------------------------------------------------------------------------------

def write_xlsx(report: Report, path: Path, *, generated_at: datetime, regions: RegionIndex | None = None) -> None:
    """Title row, a row naming region, period and export time, the header frozen under them,
    totals last. Text cells are written as text: texts come from outsiders. With ``regions``, a
    second sheet 项目分布图 maps the report's projects by county."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = KINDS[report.kind]
    n = len(report.headers)
    ws.cell(row=1, column=1, value=report.title).font = Font(size=16, bold=True)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    ws.cell(row=2, column=1, value=f"地区：{report.region.name}    期间：{report.period.label}（{report.period.start}至"
                                   f"{report.period.end}）    导出时间：{generated_at:%Y-%m-%d %H:%M}")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=n)
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for c, header in enumerate(report.headers, start=1):
        cell = ws.cell(row=3, column=c, value=header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
    for r, row in enumerate([*report.rows, report.totals], start=4):
        for c, value in enumerate(row, start=1):
            cell = safe_cell(ws, r, c, value)
            if c - 1 in report.money_columns:
                cell.number_format = "0.00"
            cell.border = border
    for c in range(1, n + 1):
        ws.cell(row=3 + len(report.rows) + 1, column=c).font = Font(bold=True)
    for c, width in enumerate(report.widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.freeze_panes = "A4"
    ws.print_title_rows = "3:3"
    if regions is not None:
        _map_sheet(wb, report, regions)
    wb.save(path)


def _map_sheet(wb: openpyxl.Workbook, report: Report, regions: RegionIndex) -> None:
    """The projects of the report by county: the map as a picture, its legend and the figures as cells."""
    from openpyxl.drawing.image import Image as SheetImage

    ws = wb.create_sheet("项目分布图")
    view = maps.region_counties(regions, report.region.level, report.region.code)
    ws.cell(row=1, column=1, value=f"{report.region.name}帮扶项目分布（{report.period.label}）").font = \
        Font(size=14, bold=True)
    picture = SheetImage(io.BytesIO(maps.png(regions, report.by_county, region=view, width=640)))
    ws.add_image(picture, "A3")
    col0 = 12  # right of the picture (640 px ≈ 11 default columns)
    ws.cell(row=3, column=col0, value="图例（项目数）").font = Font(bold=True)
    for i, (fill, text) in enumerate(maps.legend(regions, report.by_county, region=view, unit="个"), start=4):
        ws.cell(row=i, column=col0).fill = PatternFill("solid", fgColor=fill.lstrip("#").upper())
        ws.cell(row=i, column=col0 + 1, value=text)
    top = 6 + len(maps.PALETTE) + 1
    ws.cell(row=top, column=col0, value="县（市、区）").font = Font(bold=True)
    ws.cell(row=top, column=col0 + 1, value="项目数").font = Font(bold=True)
    codes = view if view is not None else list(regions.counties)
    ranked = sorted(codes, key=lambda c: (-report.by_county.get(c, 0), c))
    for i, code in enumerate(ranked, start=top + 1):
        ws.cell(row=i, column=col0, value=regions.county_name(code))
        ws.cell(row=i, column=col0 + 1, value=int(report.by_county.get(code, 0)))
    ws.column_dimensions[get_column_letter(col0)].width = 16


def filename(report: Report) -> str:
    return f"{report.region.name}_{KINDS[report.kind]}_{report.period.code}.xlsx"
