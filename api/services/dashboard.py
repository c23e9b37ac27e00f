"""The staff dashboard: demands, pairings, projects and money by area and by action, the match
rate, time to pairing, coverage gaps; and the server-made SVG charts that show them."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from html import escape

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.services import pairings
from api.services.auth import Scope
from api.services.projects import is_overdue, project_clause
from api.services.runs import latest_run
from matcher.categories import ACTIONS
from matcher.regions import RegionIndex
from models import Demand, Pairing, Project, Recommendation


@dataclass
class Cell:
    open_demands: int = 0
    approved: int = 0
    projects: int = 0
    funds: float = 0.0
    beneficiaries: int = 0


@dataclass
class Gap:
    county: str
    action: str
    open_demands: int
    without_candidates: int
    projects: int


@dataclass
class Dashboard:
    area_label: str  # 市（州） for the province, 县（市、区） below it
    by_area: dict[str, Cell]
    by_action: dict[str, Cell]
    totals: Cell
    waiting: int
    rejected: int
    suggested: int
    match_rate: float | None
    days_to_pairing_median: float | None
    days_to_pairing_p90: float | None
    overdue: int
    gaps: list[Gap] = field(default_factory=list)


def build(session: Session, scope: Scope, regions: RegionIndex, today: date) -> Dashboard:
    scope.require_staff()
    by_city = scope.role == "province"

    def area(city: str, county: str) -> str:
        return (regions.city_name(city) if by_city else regions.county_name(county)) or "未知"

    by_area: dict[str, Cell] = defaultdict(Cell)
    by_action: dict[str, Cell] = {a: Cell() for a in ACTIONS}
    totals = Cell()
    open_cells: dict[tuple[str, str], int] = defaultdict(int)
    for city, county, action, n in session.exec(
            select(Demand.city_code, Demand.county_code, Demand.category, func.count())
            .where(Demand.status == "open", scope.demand_clause())
            .group_by(Demand.city_code, Demand.county_code, Demand.category)).all():
        by_area[area(city, county)].open_demands += n
        by_action.setdefault(action, Cell()).open_demands += n
        totals.open_demands += n
        open_cells[(county, action)] += n

    status_counts: dict[str, int] = defaultdict(int)
    for city, county, action, status, n in session.exec(
            select(Demand.city_code, Demand.county_code, Demand.category, Pairing.status, func.count())
            .join(Pairing, col(Pairing.demand_id) == Demand.id).where(scope.demand_clause())
            .group_by(Demand.city_code, Demand.county_code, Demand.category, Pairing.status)).all():
        status_counts[status] += n
        if status == "approved":
            by_area[area(city, county)].approved += n
            by_action.setdefault(action, Cell()).approved += n
            totals.approved += n

    project_cells: dict[tuple[str, str], int] = defaultdict(int)
    overdue = 0
    for p in session.exec(select(Project).where(project_clause(scope))).all():
        for cell in (by_area[area(p.city_code, p.county_code)], by_action.setdefault(p.action, Cell()), totals):
            cell.projects += 1
            cell.funds += p.funds_in
            cell.beneficiaries += p.beneficiaries
        project_cells[(p.county_code, p.action)] += 1
        overdue += is_overdue(p, today)

    queue = pairings.queue_keys(session, scope)
    engine_waiting = sum(1 for k in queue if k.status == "suggested")
    # Every pair put before staff: decided, requested, or waiting in the queue as a suggestion.
    suggested = status_counts["approved"] + status_counts["rejected"] + status_counts["requested"] + engine_waiting
    rate = status_counts["approved"] / suggested if suggested else None

    days = [max(0.0, (decided - created).total_seconds() / 86400) for decided, created in session.exec(
        select(Pairing.decided_at, Demand.created_at).join(Demand, col(Demand.id) == Pairing.demand_id)
        .where(Pairing.status == "approved", scope.demand_clause())).all() if decided is not None]
    median = statistics.median(days) if days else None
    p90 = statistics.quantiles(days, n=10)[-1] if len(days) >= 2 else (days[0] if days else None)

    return Dashboard(
        area_label="市（州）" if by_city else "县（市、区）",
        by_area=dict(sorted(by_area.items(), key=lambda kv: -kv[1].open_demands)),
        by_action={k: v for k, v in by_action.items() if k in ACTIONS or v.open_demands or v.projects},
        totals=totals, waiting=len(queue), rejected=status_counts["rejected"], suggested=suggested,
        match_rate=rate, days_to_pairing_median=median, days_to_pairing_p90=p90, overdue=overdue,
        gaps=_gaps(session, scope, regions, open_cells, project_cells))


def _gaps(session: Session, scope: Scope, regions: RegionIndex, open_cells: dict[tuple[str, str], int],
          project_cells: dict[tuple[str, str], int]) -> list[Gap]:
    """(county, action) cells with open demands where some demand has no candidate at all,
    or where no project has started yet."""
    without: dict[tuple[str, str], int] = defaultdict(int)
    run = latest_run(session)
    if run is not None:
        with_candidates = select(Recommendation.demand_id).where(
            Recommendation.run_id == run.id, col(Recommendation.demand_rank).is_not(None))
        for county, action, n in session.exec(
                select(Demand.county_code, Demand.category, func.count())
                .where(Demand.status == "open", scope.demand_clause(), col(Demand.id).not_in(with_candidates))
                .group_by(Demand.county_code, Demand.category)).all():
            without[(county, action)] = n
    gaps = [Gap(regions.county_name(county) or county, action, n, without.get((county, action), 0),
                project_cells.get((county, action), 0))
            for (county, action), n in open_cells.items()
            if without.get((county, action), 0) > 0 or project_cells.get((county, action), 0) == 0]
    gaps.sort(key=lambda g: (-g.without_candidates, -g.open_demands, g.county, g.action))
    return gaps[:15]


# -- the county map ------------------------------------------------------------------------------

# figure → (label, unit, decimals)
MAP_FIGURES = {
    "open": ("在办需求", "条", 0),
    "no_candidates": ("无候选组织的需求", "条", 0),
    "approved": ("通过对接", "对", 0),
    "projects": ("帮扶项目", "个", 0),
    "funds": ("投入资金物资", "万元", 1),
}


def county_figures(session: Session, scope: Scope, figure: str) -> dict[str, float]:
    """One figure per county code, inside what ``scope`` may see."""
    scope.require_staff()
    if figure == "open":
        rows = session.exec(select(Demand.county_code, func.count()).where(
            Demand.status == "open", scope.demand_clause()).group_by(Demand.county_code)).all()
    elif figure == "no_candidates":
        run = latest_run(session)
        with_candidates = select(Recommendation.demand_id).where(
            Recommendation.run_id == (run.id if run else -1), col(Recommendation.demand_rank).is_not(None))
        rows = session.exec(select(Demand.county_code, func.count()).where(
            Demand.status == "open", scope.demand_clause(), col(Demand.id).not_in(with_candidates))
            .group_by(Demand.county_code)).all() if run else []
    elif figure == "approved":
        rows = session.exec(select(Demand.county_code, func.count()).join(
            Pairing, col(Pairing.demand_id) == Demand.id).where(
            Pairing.status == "approved", scope.demand_clause()).group_by(Demand.county_code)).all()
    elif figure == "projects":
        rows = session.exec(select(Project.county_code, func.count()).where(project_clause(scope))
                            .group_by(Project.county_code)).all()
    elif figure == "funds":
        rows = session.exec(select(Project.county_code, func.sum(Project.funds_in)).where(project_clause(scope))
                            .group_by(Project.county_code)).all()
    else:
        raise ValueError(figure)
    return {county: float(n or 0) for county, n in rows if county}


# -- charts -------------------------------------------------------------------------------------

COLORS = ("#2f6f4f", "#d08c2c", "#4a78b0")
FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"


def bar_chart(title: str, labels: list[str], series: list[tuple[str, list[float]]], *, unit: str = "",
              decimals: int = 0) -> str:
    """A horizontal bar chart as inline SVG, one group of bars per label, with a legend when
    there is more than one series. Text is real text (selectable, read by screen readers)."""
    label_w, bar_h, gap, width = 130, 14, 10, 640
    group_h = bar_h * len(series) + gap
    legend_h = 22 if len(series) > 1 else 0
    height = 34 + legend_h + group_h * len(labels) + 6
    top = max((v for _, values in series for v in values), default=0) or 1
    plot_w = width - label_w - 90
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{escape(title)}" '
           f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;font-family:{FONT}">',
           f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>']
    if len(series) > 1:
        x = label_w
        for s, (name, _) in enumerate(series):
            out.append(f'<rect x="{x}" y="28" width="12" height="12" fill="{COLORS[s % len(COLORS)]}"/>'
                       f'<text x="{x + 16}" y="38" font-size="12">{escape(name)}</text>')
            x += 24 + 14 * len(name)
    y0 = 34 + legend_h
    for i, label in enumerate(labels):
        y = y0 + i * group_h
        out.append(f'<text x="{label_w - 8}" y="{y + bar_h * len(series) / 2 + 4}" font-size="12" '
                   f'text-anchor="end">{escape(label)}</text>')
        for s, (_, values) in enumerate(series):
            value = values[i]
            w = plot_w * value / top
            by = y + s * bar_h
            shown = f"{value:.{decimals}f}{escape(unit)}"
            out.append(f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                       f'fill="{COLORS[s % len(COLORS)]}"><title>{escape(label)}：{shown}</title></rect>'
                       f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h - 4}" font-size="11">'
                       f'{shown}</text>')
    out.append("</svg>")
    return "".join(out)


def charts(d: Dashboard) -> list[str]:
    areas = list(d.by_area)
    actions = list(d.by_action)
    return [
        bar_chart(f"在办需求与已立项目（按{d.area_label}）", areas,
                  [("在办需求", [float(d.by_area[a].open_demands) for a in areas]),
                   ("帮扶项目", [float(d.by_area[a].projects) for a in areas])]),
        bar_chart(f"投入资金物资（按{d.area_label}）", areas, [("万元", [d.by_area[a].funds for a in areas])],
                  unit="万元", decimals=1),
        bar_chart("在办需求、通过对接与帮扶项目（按行动）", actions,
                  [("在办需求", [float(d.by_action[a].open_demands) for a in actions]),
                   ("通过对接", [float(d.by_action[a].approved) for a in actions]),
                   ("帮扶项目", [float(d.by_action[a].projects) for a in actions])]),
    ]
