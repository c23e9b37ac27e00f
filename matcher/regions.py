"""Jilin's divisions: names and aliases, distances, and where an organization can work."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from matcher.resources import data_dir
from matcher.text import normalize

PROVINCE = "220000"
_PROVINCE_WORDS = ("吉林省", "全省", "省内", "全省范围", "省域", "省级")
_NEIGHBOR_WORDS = ("及周边", "周边", "相邻", "邻近", "附近", "毗邻")
_HOME_COUNTY_WORDS = ("本县", "本区", "本市县", "所在县", "县内", "区内")
_HOME_CITY_WORDS = ("本市", "本州", "市内", "州内", "所在市", "全市", "全州")
_SEGMENT_SPLIT = re.compile(r"[、，,;；/\s和与及]+")
_PLACE_SUFFIX = re.compile(r"[市县区州旗]$")


@dataclass(frozen=True, slots=True)
class City:
    code: str
    name: str
    short: str
    lon: float
    lat: float
    official: bool
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class County:
    code: str
    name: str
    type: str
    city_code: str
    lon: float
    lat: float
    official: bool
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Place:
    """A name found in text: a county, a city or the whole province."""

    kind: str  # "province" | "city" | "county"
    code: str
    fuzzy: bool = False


@dataclass
class AreaSpec:
    """What a free-text 拟帮扶地区 says."""

    province: bool = False
    cities: set[str] = field(default_factory=set)
    counties: set[str] = field(default_factory=set)
    neighbors: bool = False
    home_county: bool = False
    home_city: bool = False
    unresolved: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.province or self.cities or self.counties or self.home_county or self.home_city
        )


def haversine_km(lon1: np.ndarray | float, lat1: np.ndarray | float,
                 lon2: np.ndarray | float, lat2: np.ndarray | float) -> np.ndarray:
    """Great-circle distance in km (vectorised).

    >>> round(float(haversine_km(125.32, 43.82, 129.47, 42.91)))
    350
    """
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(x, dtype=float)) for x in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


class RegionIndex:
    """The division table with name lookup, distances and area parsing."""

    def __init__(self, cities: Iterable[City], counties: Iterable[County]) -> None:
        self.cities = {c.code: c for c in cities}
        self.counties = {c.code: c for c in counties}
        self.county_codes: list[str] = list(self.counties)
        self.county_pos = {code: i for i, code in enumerate(self.county_codes)}
        self.counties_of: dict[str, list[str]] = {code: [] for code in self.cities}
        for county in self.counties.values():
            self.counties_of[county.city_code].append(county.code)
        self._lon = np.array([self.counties[c].lon for c in self.county_codes])
        self._lat = np.array([self.counties[c].lat for c in self.county_codes])
        self._city_names: dict[str, str] = {}
        self._county_names: dict[str, list[str]] = {}
        for city in self.cities.values():
            for name in {city.name, city.short, *city.aliases}:
                self._city_names[name] = city.code
        for county in self.counties.values():
            for name in {county.name, *county.aliases}:
                self._county_names.setdefault(name, []).append(county.code)
        self._build_scanner()

    @classmethod
    def from_csv(cls, cities_path: Path, counties_path: Path) -> RegionIndex:
        def aliases(raw: str) -> tuple[str, ...]:
            return tuple(a for a in raw.split("|") if a)

        with cities_path.open(encoding="utf-8") as f:
            cities = [
                City(r["code"], r["name"], r["short"], float(r["lon"]), float(r["lat"]),
                     r["official"] == "1", aliases(r["aliases"]))
                for r in csv.DictReader(f)
            ]
        with counties_path.open(encoding="utf-8") as f:
            counties = [
                County(r["code"], r["name"], r["type"], r["city_code"], float(r["lon"]),
                       float(r["lat"]), r["official"] == "1", aliases(r["aliases"]))
                for r in csv.DictReader(f)
            ]
        return cls(cities, counties)

    @classmethod
    def default(cls) -> RegionIndex:
        base = data_dir()
        return cls.from_csv(base / "cities.csv", base / "counties.csv")

    # -- names -------------------------------------------------------------------------

    def resolve_city(self, name: str | None) -> City | None:
        """A city from its name or any alias people write.

        >>> RegionIndex.default().resolve_city("延边州").name
        '延边朝鲜族自治州'
        """
        key = normalize(name).replace(" ", "")
        code = self._city_names.get(key)
        return self.cities[code] if code else None

    def resolve_county(self, name: str | None, city_code: str | None = None) -> County | None:
        """A county from its name or alias, preferring one inside ``city_code``."""
        key = normalize(name).replace(" ", "")
        codes = self._county_names.get(key, [])
        if city_code is not None:
            inside = [c for c in codes if self.counties[c].city_code == city_code]
            if inside:
                return self.counties[inside[0]]
        return self.counties[codes[0]] if len(codes) == 1 else None

    def suggest(self, name: str, *, city_code: str | None = None, limit: int = 2) -> list[str]:
        """Closest official names to a misspelt one (for error messages)."""
        key = normalize(name).replace(" ", "")
        if city_code is None:
            choices = [c.name for c in self.cities.values()] + [c.name for c in self.counties.values()]
        else:
            choices = [self.counties[c].name for c in self.counties_of.get(city_code, [])]
        found = process.extract(key, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=50)
        return [name for name, _score, _i in found]

    def city_name(self, code: str | None) -> str:
        return self.cities[code].name if code in self.cities else ""

    def county_name(self, code: str | None) -> str:
        return self.counties[code].name if code in self.counties else ""

    def place_name(self, city_code: str | None, county_code: str | None) -> str:
        """Short display name, e.g. ``延边州汪清县``."""
        city = self.cities.get(city_code or "")
        county = self.counties.get(county_code or "")
        if county and city and county.name != city.name:
            return f"{city.short if city.short.endswith('州') else city.name}{county.name}"
        return (county or city).name if (county or city) else ""

    # -- geography ---------------------------------------------------------------------

    def location(self, city_code: str, county_code: str | None) -> tuple[float, float]:
        if county_code in self.counties:
            c = self.counties[county_code]
            return c.lon, c.lat
        city = self.cities[city_code]
        return city.lon, city.lat

    def distances_from(self, lon: float, lat: float) -> np.ndarray:
        """Distance in km from a point to every county seat, in ``county_codes`` order."""
        return haversine_km(lon, lat, self._lon, self._lat)

    def county_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        return self._lon, self._lat

    def neighbors(self, county_code: str, within_km: float = 100.0) -> list[str]:
        """Counties whose seats lie within ``within_km`` (an approximation of sharing a border)."""
        c = self.counties[county_code]
        dist = self.distances_from(c.lon, c.lat)
        return [code for code, d in zip(self.county_codes, dist, strict=True)
                if code != county_code and d <= within_km]

    # -- free text ---------------------------------------------------------------------

    def _build_scanner(self) -> None:
        entries: dict[str, Place] = {}
        for word in _PROVINCE_WORDS:
            entries[word] = Place("province", PROVINCE)
        for name, code in self._city_names.items():
            entries.setdefault(name, Place("city", code))
        for name, codes in self._county_names.items():
            # A city short name (通化) wins over a same-named county only when the county has its full name.
            if len(codes) == 1 and name not in entries:
                entries[name] = Place("county", codes[0])
        self._entries = entries
        ordered = sorted(entries, key=len, reverse=True)
        self._scanner = re.compile("|".join(re.escape(w) for w in ordered))
        self._fuzzy_choices = {c.name: Place("county", c.code) for c in self.counties.values()}
        self._fuzzy_choices.update({c.name: Place("city", c.code) for c in self.cities.values()})

    def find_places(self, text: str | None) -> tuple[list[Place], list[str]]:
        """Every place named in the text (longest name first), and segments left unread.

        >>> idx = RegionIndex.default()
        >>> [p.code for p in idx.find_places("长春市九台区、农安县")[0]]
        ['220100', '220113', '220122']
        """
        norm = normalize(text).replace(" ", "、")
        places: list[Place] = []
        rest = norm
        for m in self._scanner.finditer(norm):
            places.append(self._entries[m.group(0)])
            rest = rest.replace(m.group(0), "、", 1)
        unresolved: list[str] = []
        for segment in _SEGMENT_SPLIT.split(rest):
            segment = segment.strip("()（）")
            if len(segment) < 2 or not _PLACE_SUFFIX.search(segment):
                continue
            found = process.extractOne(segment, list(self._fuzzy_choices), scorer=fuzz.ratio,
                                       score_cutoff=60)
            if found and found[0][-1] == segment[-1]:
                places.append(Place(self._fuzzy_choices[found[0]].kind,
                                    self._fuzzy_choices[found[0]].code, fuzzy=True))
            else:
                unresolved.append(segment)
        return places, unresolved

    def parse_area(self, text: str | None) -> AreaSpec:
        """Read a 拟帮扶地区 cell.

        >>> spec = RegionIndex.default().parse_area("珲春市及周边")
        >>> sorted(spec.counties), spec.neighbors
        (['222404'], True)
        """
        spec = AreaSpec()
        norm = normalize(text)
        if not norm:
            return spec
        places, spec.unresolved = self.find_places(norm)
        for place in places:
            if place.kind == "province":
                spec.province = True
            elif place.kind == "city":
                spec.cities.add(place.code)
            else:
                spec.counties.add(place.code)
        # A county named with its city ("长春市九台区") narrows to the county.
        for county in spec.counties:
            spec.cities.discard(self.counties[county].city_code)
        spec.neighbors = any(w in norm for w in _NEIGHBOR_WORDS)
        spec.home_county = any(w in norm for w in _HOME_COUNTY_WORDS)
        spec.home_city = any(w in norm for w in _HOME_CITY_WORDS)
        return spec

    def registrar_place(self, registrar: str | None) -> tuple[str, str | None, str | None] | None:
        """(level, city code, county code) of a 登记管理机关, or None if it names no place.

        >>> RegionIndex.default().registrar_place("九台区民政局")
        ('county', '220100', '220113')
        >>> RegionIndex.default().registrar_place("吉林省民政厅")
        ('province', None, None)
        """
        norm = normalize(registrar).replace(" ", "")
        if not norm:
            return None
        places, _ = self.find_places(norm)
        exact = [p for p in places if not p.fuzzy]
        if not exact:
            return None
        first = exact[0]
        if first.kind == "province":
            return ("province", None, None)
        if first.kind == "city":
            counties = [p.code for p in exact if p.kind == "county"]
            if counties and self.counties[counties[0]].city_code == first.code:
                return ("county", first.code, counties[0])
            return ("city", first.code, None)
        county = self.counties[first.code]
        if len(self.counties_of[county.city_code]) == 1:
            # 梅河口市 is both: a county-level city that the province treats as a city.
            return ("city", county.city_code, county.code)
        return ("county", county.city_code, county.code)
