from __future__ import annotations

import pytest

from matcher.regions import RegionIndex


def test_table_has_every_county_level_unit(regions: RegionIndex) -> None:
    assert len(regions.cities) == 11
    assert len([c for c in regions.counties.values() if c.official]) == 60
    assert sorted(regions.counties[c].name for c in regions.counties_of["229900"]) == ["池北区", "池南区", "池西区"]


@pytest.mark.parametrize(("text", "expected"), [
    ("延边州", "延边朝鲜族自治州"), ("延边", "延边朝鲜族自治州"), ("长白山", "长白山管委会"),
    ("长春", "长春市"), ("梅河口市", "梅河口市"), ("吉林市", "吉林市"),
])
def test_city_aliases(regions: RegionIndex, text: str, expected: str) -> None:
    city = regions.resolve_city(text)
    assert city is not None
    assert city.name == expected


def test_gongzhuling_lies_under_changchun(regions: RegionIndex) -> None:
    county = regions.resolve_county("公主岭")
    assert county is not None
    assert (county.code, county.city_code) == ("220184", "220100")


def test_county_short_form_within_city(regions: RegionIndex) -> None:
    county = regions.resolve_county("延吉", "222400")
    assert county is not None
    assert county.name == "延吉市"


@pytest.mark.parametrize(("text", "province", "cities", "counties", "neighbors"), [
    ("全省", True, set(), set(), False),
    ("延边州", False, {"222400"}, set(), False),
    ("长春市九台区、农安县", False, set(), {"220113", "220122"}, False),
    ("九台，农安", False, set(), {"220113", "220122"}, False),
    ("珲春市及周边", False, set(), {"222404"}, True),
    ("吉林省内各地", True, set(), set(), False),
])
def test_parse_area(regions: RegionIndex, text: str, province: bool, cities: set[str],
                    counties: set[str], neighbors: bool) -> None:
    spec = regions.parse_area(text)
    assert (spec.province, spec.cities, spec.counties, spec.neighbors) == (province, cities, counties, neighbors)


def test_parse_area_home_county(regions: RegionIndex) -> None:
    spec = regions.parse_area("本县及相邻县")
    assert spec.home_county
    assert spec.neighbors


def test_fuzzy_place_name_is_resolved(regions: RegionIndex) -> None:
    spec = regions.parse_area("浑春市")  # a common slip for 珲春市
    assert spec.counties == {"222404"}


@pytest.mark.parametrize(("registrar", "level"), [
    ("吉林省民政厅", "province"), ("长春市民政局", "city"), ("九台区民政局", "county"),
    ("延边朝鲜族自治州民政局", "city"), ("梅河口市民政局", "city"), ("长白山管委会民政局", "city"),
    ("公主岭市民政局", "county"),
])
def test_registrar_level(regions: RegionIndex, registrar: str, level: str) -> None:
    place = regions.registrar_place(registrar)
    assert place is not None
    assert place[0] == level


def test_unknown_registrar(regions: RegionIndex) -> None:
    assert regions.registrar_place("民政局") is None


def test_neighbors_are_near_and_exclude_self(regions: RegionIndex) -> None:
    near = regions.neighbors("222401")  # 延吉市
    assert "222405" in near  # 龙井市, 15 km away
    assert "222401" not in near
    assert "220102" not in near  # 长春 is 350 km away
