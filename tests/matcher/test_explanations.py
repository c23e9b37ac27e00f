"""Reasons built for many pairs at once are the reasons ``explain`` gives pair by pair."""

from __future__ import annotations

import itertools

import numpy as np

from matcher import DemandRecord, OrganizationRecord
from matcher import reach as reach_kinds
from matcher.explanations import Explainer, RecommendationBatch
from matcher.regions import RegionIndex
from matcher.scoring import MAX_KEYWORDS, explain

DEM_TOKENS = [
    ["空巢", "老人", "义诊", "老人", '带"引号"', "送药", "体检", "血压"],
    ["木耳", "直播", "带货", "销路"],
    ["调解", "纠纷"],
]
ORG_TOKENS = [
    ["义诊", "老人", "体检", "血压", "送药", '带"引号"', "空巢"],
    ["直播", "带货", "木耳", "老人"],
    ["培训"],
    ["调解", "老人", "义诊"],
]
# Ties on purpose: equal IDF keeps the demand text's order; a word missing from the IDF counts 0.
IDF = {"空巢": 3.0, "老人": 1.0, "义诊": 2.0, '带"引号"': 3.0, "送药": 2.0, "体检": 2.0, "血压": 2.5,
       "木耳": 2.2, "直播": 2.2, "带货": 1.5, "调解": 4.0, "纠纷": 4.0}


def records(regions: RegionIndex) -> tuple[list[DemandRecord], list[OrganizationRecord]]:
    counties = list(regions.counties.values())
    a, b = counties[0], counties[5]
    dems = [
        DemandRecord("d0", a.city_code, a.code, "老人义诊", "", category="医护康养", funding_needed=5.0),
        DemandRecord("d1", b.city_code, b.code, "木耳销路", "", category=None, funding_needed=None),
        DemandRecord("d2", b.city_code, b.code, "纠纷调解", "", category="社会治理", funding_needed=0.0),
    ]
    orgs = [
        OrganizationRecord("o0", "医院", "county", a.city_code, a.code, ("医护康养",), "", funds=20.0),
        OrganizationRecord("o1", "电商协会", "city", b.city_code, None, ("消费帮扶", "创业就业"), "", funds=None),
        OrganizationRecord("o2", "培训学校", "province", a.city_code, None, (), "", funds=2.5),
        OrganizationRecord("o3", "调解会", "county", b.city_code, b.code, ("社会治理",), "", funds=5.0),
    ]
    return dems, orgs


def shared_words(dem_tokens: list[str], org_tokens: list[str]) -> tuple[str, ...]:
    ordered = sorted(dict.fromkeys(dem_tokens), key=lambda w: -IDF.get(w, 0.0))
    return tuple(w for w in ordered if w in set(org_tokens))[:MAX_KEYWORDS]


def test_batch_reasons_are_those_explain_gives_pair_by_pair(regions: RegionIndex) -> None:
    dems, orgs = records(regions)
    demand_category = ["医护康养", "消费帮扶", "社会治理"]
    inferred = [False, True, False]
    text_action = ["医护康养", "创业就业", "扶弱济困"]
    feedback = {"o1": (2, 1)}
    ratings = {"o1": (4.5, 3), "o3": (2.0, 1)}
    pairs = list(itertools.product(range(len(dems)), range(len(orgs))))
    # Every reach kind, distances on both sides of a half kilometre, scales on both sides of 0.8.
    pairs = pairs + pairs
    a_d = np.array([p[0] for p in pairs])
    a_o = np.array([p[1] for p in pairs])
    kinds = np.array([i % 7 for i in range(len(pairs))])
    distance = np.array([[0.5, 1.5, 2.5, 45.2, 100.6, 7.0][i % 6] for i in range(len(pairs))])
    scale = np.array([[0.8, 0.7999, 0.6, 1.0][i % 4] for i in range(len(pairs))])
    semantic = np.array([[0.0, 0.2499, 0.25, 0.9, 0.1][i % 5] for i in range(len(pairs))])
    place = regions.place_name
    explainer = Explainer(
        dems=dems, orgs=orgs, dem_tokens=DEM_TOKENS, org_tokens=ORG_TOKENS, idf=IDF,
        demand_facts=lambda i: (demand_category[i], inferred[i], text_action[i]), place=place,
        feedback=feedback, ratings=ratings, demands_used=np.unique(a_d), orgs_used=np.unique(a_o))
    # Two chunks, as a run hands them out: the tables of texts carry over.
    recs = []
    for part in (slice(0, 10), slice(10, None)):
        n = len(a_d[part])
        batch = RecommendationBatch(
            demand_keys=np.array([dems[i].key for i in a_d[part]], dtype=object),
            organization_keys=np.array([orgs[i].key for i in a_o[part]], dtype=object),
            score=np.linspace(0.1, 0.9, n), demand_rank=np.arange(n) % 3, organization_rank=np.arange(n) % 2,
            signals={"text": np.full(n, 0.5), "category": np.full(n, 1.0), "reach": np.full(n, 0.8),
                     "distance_km": distance[part], "scale": scale[part], "semantic": semantic[part], "kind": np.zeros(n),
                     "feedback": np.where(np.isin(a_o[part], [1, 3]), 1.05, np.nan)},
            keyword_ids=explainer.keyword_ids(a_d[part], a_o[part]),
            reason_ids=explainer.reason_ids(a_d[part], a_o[part], kinds[part], distance[part], scale[part],
                                           semantic[part]),
            words=explainer.words, parts=explainer.parts)
        recs += batch.recommendations()
    assert len(recs) == len(pairs)
    seen_kinds = set()
    for i, rec in enumerate(recs):
        d, o = dems[a_d[i]], orgs[a_o[i]]
        keywords = shared_words(DEM_TOKENS[a_d[i]], ORG_TOKENS[a_o[i]])
        expected = explain(
            demand_category=demand_category[a_d[i]], demand_category_inferred=inferred[a_d[i]],
            text_action=text_action[a_d[i]], org_actions=o.actions, reach_kind=int(kinds[i]),
            distance_km=float(distance[i]), demand_place=place(d.city_code, d.county_code),
            org_place=place(o.city_code, o.county_code), keywords=keywords, funds=o.funds,
            needed=d.funding_needed, scale=float(scale[i]), semantic=float(semantic[i]))
        if o.key in feedback:
            expected.append("过往对接：通过2次，驳回1次")
        if o.key in ratings:
            expected.append(f"村级评价：{ratings[o.key][1]}个项目平均{ratings[o.key][0]:.1f}分（满分5分）")
        assert rec.keywords == keywords, i
        assert rec.reasons == tuple(expected), i
        assert (rec.demand_key, rec.organization_key) == (d.key, o.key)
        in_chunk = i if i < 10 else i - 10
        assert (rec.demand_rank, rec.organization_rank) == (in_chunk % 3 or None, in_chunk % 2 or None)
        assert ("feedback" in rec.signals) == (o.key in ("o1", "o3"))
        seen_kinds.add(int(kinds[i]))
    assert seen_kinds == set(range(7))
    assert reach_kinds.HOME in seen_kinds
    # The rarest shared words first, ties in the demand's order, at most MAX_KEYWORDS.
    assert recs[0].keywords == ("空巢", '带"引号"', "血压", "义诊")
