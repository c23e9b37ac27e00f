"""Where each organization can work: a weight per county, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matcher.config import MatchConfig
from matcher.records import OrganizationRecord
from matcher.regions import RegionIndex

# Why an organization reaches a county; stored as small ints beside the weights.
NONE, HOME, DECLARED, CITY, DECLARED_NEIGHBOR, PROVINCE, NEIGHBOR = range(7)
KIND_NAMES = {
    NONE: "out_of_reach",
    HOME: "home_county",
    DECLARED: "declared_area",
    CITY: "home_city",
    DECLARED_NEIGHBOR: "declared_neighbor",
    PROVINCE: "province",
    NEIGHBOR: "neighbor",
}


@dataclass
class ReachTable:
    """``weight[o, c]`` in [0, 1] and ``kind[o, c]`` for organization o and county column c."""

    weight: np.ndarray
    kind: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


def build_reach(
    organizations: Sequence[OrganizationRecord], regions: RegionIndex, config: MatchConfig
) -> ReachTable:
    n_c = len(regions.county_codes)
    weight = np.zeros((len(organizations), n_c), dtype=np.float32)
    kind = np.zeros((len(organizations), n_c), dtype=np.int8)
    lon = np.zeros(len(organizations))
    lat = np.zeros(len(organizations))
    pos = regions.county_pos
    neighbor_cache: dict[str, list[str]] = {}

    def neighbors(code: str) -> list[str]:
        if code not in neighbor_cache:
            neighbor_cache[code] = regions.neighbors(code, config.neighbor_km)
        return neighbor_cache[code]

    memo: dict[tuple[str, str, str | None, str], int] = {}  # same level, place and area: same row
    for i, org in enumerate(organizations):
        key = (org.level, org.city_code, org.county_code, org.service_area)
        if key in memo:
            j = memo[key]
            weight[i], kind[i], lon[i], lat[i] = weight[j], kind[j], lon[j], lat[j]
            continue
        memo[key] = i
        lon[i], lat[i] = regions.location(org.city_code, org.county_code)
        dist = regions.distances_from(lon[i], lat[i])
        decay = 1.0 - config.distance_decay * np.minimum(dist, config.distance_scale_km) / config.distance_scale_km
        row_w, row_k = weight[i], kind[i]

        def grant(codes: list[str], w: float, k: int, *, decayed: bool = False,
                  row_w: np.ndarray = row_w, row_k: np.ndarray = row_k,
                  decay: np.ndarray = decay) -> None:
            for code in codes:
                c = pos[code]
                value = w * decay[c] if decayed else w
                if value > row_w[c]:
                    row_w[c], row_k[c] = value, k

        area = regions.parse_area(org.service_area)
        home_city = org.city_code
        home_county = org.county_code
        if area.empty:
            # Blank or unreadable: reach follows the registrar level.
            if org.level == "province":
                grant(regions.county_codes, config.reach_province, PROVINCE, decayed=True)
            elif org.level == "city" or home_county is None:
                grant(regions.counties_of[home_city], config.reach_city, CITY, decayed=True)
            else:
                grant(neighbors(home_county), config.reach_default_neighbor, NEIGHBOR)
            if area.neighbors and home_county:
                grant(neighbors(home_county), config.reach_declared_neighbor, DECLARED_NEIGHBOR)
        else:
            if area.province:
                grant(regions.county_codes, config.reach_province, PROVINCE, decayed=True)
            if area.home_city:
                grant(regions.counties_of[home_city], config.reach_city, CITY, decayed=True)
            for city in area.cities:
                grant(regions.counties_of[city], config.reach_declared, DECLARED)
            named = list(area.counties)
            if area.home_county and home_county:
                named.append(home_county)
            grant(named, config.reach_declared, DECLARED)
            if area.neighbors:
                bases = named or ([home_county] if home_county else [])
                for base in bases:
                    grant(neighbors(base), config.reach_declared_neighbor, DECLARED_NEIGHBOR)
        if home_county is not None and (area.empty or area.home_county):
            grant([home_county], config.reach_home_county, HOME)
    return ReachTable(weight, kind, lon, lat)
