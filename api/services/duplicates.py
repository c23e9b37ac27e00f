"""The same need filed twice, the same organization registered twice: pairs found on plain rows.

Demands are compared only within one village (or one township, when either names no village) of
one county; organizations by name within one 市州, and by phone, e-mail and credit code anywhere.
Each pair is (newer, older): the newer record is the one to review.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from matcher.regions import RegionIndex
from matcher.text import normalize, strip_spaces

DEMAND_THRESHOLD = 80.0  # of 100: the share of the shorter text's (weighted) words found in the other
NEAR_IDENTICAL = 95.0  # character likeness at which two texts are the same whatever their words
ORG_NAME_THRESHOLD = 92.0
ORG_NAME_WITH_CONTACT = 50.0  # a shared phone or e-mail and names at least this alike
ORG_NAME_WITH_CODE = 80.0  # credit codes a keystroke or two apart and names at least this alike
_PUNCT = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class DemandRow:
    id: int
    county_code: str
    township: str
    village: str
    title: str
    description: str


@dataclass(frozen=True)
class OrganizationRow:
    id: int
    name: str
    credit_code: str
    city_code: str
    contact_phone: str
    email: str | None


@dataclass(frozen=True)
class Resemblance:
    newer: int
    older: int
    score: float
    reason: str


def _place(d: DemandRow) -> tuple[str, str] | None:
    """The demand's village, or its township when it names no village; None when it names neither."""
    village, township = strip_spaces(d.village), strip_spaces(d.township)
    if village:
        return d.county_code, f"{township}/{village}"
    return (d.county_code, f"{township}/") if township else None


def demand_likeness(a: DemandRow, b: DemandRow, tokens: Callable[[str], list[str]], *,
                    weight: Callable[[str], float] = lambda _t: 1.0, subjects: frozenset[str] = frozenset()) -> float:
    """0–100: the weighted share of the shorter text's words found in the other (a township rewording a
    village's need keeps its words), or the texts' character likeness where they are near identical.
    ``weight`` favours rare words; ``subjects`` are the domain's terms (products, services, groups)."""
    ta = _PUNCT.sub("", normalize(f"{a.title}{a.description}"))
    tb = _PUNCT.sub("", normalize(f"{b.title}{b.description}"))
    chars = fuzz.ratio(ta, tb)
    wa, wb = set(tokens(f"{a.title} {a.description}")), set(tokens(f"{b.title} {b.description}"))
    if chars >= NEAR_IDENTICAL or min(len(wa), len(wb)) < 3:  # the same text, or too few words to judge by
        return chars
    # One template filled with two products ("十万斤大米卖不出去" / "五万斤木耳卖不出去") is alike in
    # characters and most words: a domain term on each side that the other lacks sets them apart.
    if (wa - wb) & subjects and (wb - wa) & subjects:
        return 0.0
    shared = sum(weight(t) for t in wa & wb)
    return 100.0 * shared / min(sum(weight(t) for t in wa), sum(weight(t) for t in wb))


def similar_demands(rows: Sequence[DemandRow], tokens: Callable[[str], list[str]], *,
                    subjects: frozenset[str] = frozenset(), focus: Iterable[int] | None = None,
                    threshold: float = DEMAND_THRESHOLD) -> list[Resemblance]:
    """Pairs of demands in one village (or township) that read as the same need; with ``focus``,
    only pairs with one of those demands in them. Words are weighted by their rarity in ``rows``."""
    wanted = set(focus) if focus is not None else None
    df = Counter(t for d in rows for t in set(tokens(f"{d.title} {d.description}")))
    n = len(rows)

    def weight(t: str) -> float:
        return math.log((n + 1) / (df.get(t, 0) + 1)) + 1.0

    by_place: dict[tuple[str, str], list[DemandRow]] = defaultdict(list)
    for d in rows:
        place = _place(d)
        if place is not None:
            by_place[place].append(d)
    # A demand naming only its township may be the township's copy of a village's need.
    for (county, key), members in list(by_place.items()):
        if key.endswith("/"):
            for (c2, k2), others in by_place.items():
                if c2 == county and k2 != key and k2.startswith(key):
                    members.extend(others)
    found: dict[tuple[int, int], Resemblance] = {}
    for members in by_place.values():
        members = sorted({d.id: d for d in members}.values(), key=lambda d: d.id)
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if (wanted is not None and a.id not in wanted and b.id not in wanted) or (b.id, a.id) in found:
                    continue
                score = demand_likeness(a, b, tokens, weight=weight, subjects=subjects)
                if score >= threshold:
                    found[(b.id, a.id)] = Resemblance(b.id, a.id, round(score, 1),
                                                      f"同一村（乡镇）的需求内容相似度{score:.0f}%")
    return sorted(found.values(), key=lambda r: (r.newer, r.older))


@dataclass(frozen=True)
class Places:
    """Every way a name may start with a place (longest first, as one pattern), with its code."""

    pattern: re.Pattern[str]
    codes: dict[str, str]

    @classmethod
    def of(cls, regions: RegionIndex) -> Places:
        codes = {"吉林省": "22", "吉林": "22"}
        for c in regions.cities.values():
            codes.update({p: c.code for p in (c.name, c.short, *c.aliases) if p})
        for k in regions.counties.values():
            codes.update({p: k.code for p in (k.name, *k.aliases) if p})
        alternatives = "|".join(re.escape(p) for p in sorted(codes, key=len, reverse=True))
        return cls(re.compile(f"(?:{alternatives})"), codes)


def name_parts(name: str, places: Places) -> tuple[str, str]:
    """The most specific place an organization's name starts with (its code, or "") and the rest:
    汪清县爱心志愿者协会 and 汪清爱心志愿者协会 are one name; 二道区康复中心 and 德惠市康复中心 two.

    >>> name_parts("吉林省延边州汪清县 爱心志愿者协会", Places.of(RegionIndex.default()))
    ('222424', '爱心志愿者协会')
    """
    core, place = strip_spaces(name), ""
    while (m := places.pattern.match(core)) and len(core) > m.end() + 1:
        code = places.codes[m.group()]
        place = code if len(code) >= len(place) else place
        core = core[m.end():]
    return place, core


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


def similar_organizations(rows: Sequence[OrganizationRow], regions: RegionIndex, *,
                          focus: Iterable[int] | None = None) -> list[Resemblance]:
    """Pairs that may be one organization registered twice, each with the evidence in Chinese."""
    wanted = set(focus) if focus is not None else None
    places = Places.of(regions)
    parts = {r.id: name_parts(r.name, places) for r in rows}
    cores = {i: core for i, (_place, core) in parts.items()}
    evidence: dict[tuple[int, int], list[str]] = defaultdict(list)
    likeness: dict[tuple[int, int], float] = {}

    def pair(a: int, b: int) -> tuple[int, int] | None:
        if a == b or (wanted is not None and a not in wanted and b not in wanted):
            return None
        return (max(a, b), min(a, b))

    def name_score(key: tuple[int, int]) -> float:
        """Names of two different places are two names, however alike the rest."""
        if key not in likeness:
            (pa, ca), (pb, cb) = parts[key[0]], parts[key[1]]
            likeness[key] = fuzz.ratio(ca, cb) if not pa or not pb or pa == pb else 0.0
        return likeness[key]

    # Names and codes, within a 市州.
    by_city: dict[str, list[OrganizationRow]] = defaultdict(list)
    for r in rows:
        by_city[r.city_code].append(r)
    for members in by_city.values():
        queries = [r for r in members if wanted is None or r.id in wanted]
        if not queries:
            continue
        names = process.cdist([cores[r.id] for r in queries], [cores[r.id] for r in members], scorer=fuzz.ratio,
                              score_cutoff=ORG_NAME_THRESHOLD, workers=-1)
        codes = process.cdist([r.credit_code for r in queries], [r.credit_code for r in members],
                              scorer=Levenshtein.distance, score_cutoff=2, workers=-1)
        for i, j in zip(*np.nonzero(names >= ORG_NAME_THRESHOLD), strict=True):
            key = pair(queries[i].id, members[j].id)
            if key is not None and name_score(key) >= ORG_NAME_THRESHOLD:
                evidence[key].append(f"名称相近（{name_score(key):.0f}%）")
        for i, j in zip(*np.nonzero(codes <= 2), strict=True):
            key = pair(queries[i].id, members[j].id)
            if key is not None and name_score(key) >= ORG_NAME_WITH_CODE:
                evidence[key].append(f"统一社会信用代码仅差{codes[i, j]}位")
    # Phone, e-mail and the code without its registrar's segment, anywhere in the province.
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in rows:
        if len(_digits(r.contact_phone)) >= 7:
            groups[("联系电话相同", _digits(r.contact_phone))].append(r.id)
        if r.email:
            groups[("电子邮箱相同", r.email.strip().lower())].append(r.id)
        if len(r.credit_code) == 18:
            groups[("统一社会信用代码仅登记管理机关段不同", r.credit_code[:2] + r.credit_code[8:17])].append(r.id)
    for (label, _value), ids in groups.items():
        if len(ids) < 2:
            continue
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                key = pair(a, b)
                if key is None:
                    continue
                if label.startswith("统一") or name_score(key) >= ORG_NAME_WITH_CONTACT:
                    evidence[key].append(label)
    return [Resemblance(newer, older, round(name_score((newer, older)), 1), "；".join(dict.fromkeys(reasons)))
            for (newer, older), reasons in sorted(evidence.items())]
