"""The fast path (sparse top-k shortlist, vectorised ranking) changes speed, not results."""

from __future__ import annotations

import random

import pytest

from matcher import DemandRecord, MatchConfig, Matcher, OrganizationRecord
from matcher.categories import ACTIONS
from matcher.engine import MatchResult
from matcher.explanations import RecommendationBatch

PHRASES = {
    "创业就业": ["合作社建设冷库", "返乡青年创业指导", "组织外出务工岗位", "木耳种植技术指导", "乡村旅游民宿开发"],
    "人才培育": ["电工焊工技能培训", "电商运营培训", "农业科普讲座", "高素质农民培育"],
    "扶弱济困": ["空巢老人探访关爱", "困难学生助学金", "残疾人轮椅适配", "冬季取暖棉衣棉被", "留守儿童课后陪伴"],
    "医护康养": ["老人义诊体检", "慢病筛查送药", "失能老人上门护理", "康复理疗针灸"],
    "社会治理": ["邻里纠纷调解", "送戏下乡秧歌", "垃圾清理环境整治", "反诈宣传"],
    "消费帮扶": ["大米滞销以购代捐", "木耳直播带货", "杂粮产销对接", "年货展销会"],
}


def corpus(regions, n_orgs: int, n_demands: int, seed: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    counties = list(regions.counties.values())
    orgs, demands = [], []
    for i in range(n_orgs):
        action = rng.choice(ACTIONS)
        county = rng.choice(counties)
        level = rng.choice(["province", "city", "county", "county"])
        orgs.append(OrganizationRecord(
            key=f"o{i}", name=f"协会{i}", level=level, city_code=county.city_code,  # type: ignore[arg-type]
            county_code=county.code if level == "county" else None, actions=(action,),
            capability="，".join(rng.sample(PHRASES[action], 2)), funds=rng.choice([None, 1.0, 20.0, 200.0])))
    for j in range(n_demands):
        action = rng.choice(ACTIONS)
        county = rng.choice(counties)
        demands.append(DemandRecord(
            key=f"d{j}", city_code=county.city_code, county_code=county.code, title=rng.choice(PHRASES[action]),
            description=rng.choice(PHRASES[action]) + "，" + rng.choice(PHRASES[rng.choice(ACTIONS)]),
            category=rng.choice([action, action, None]), funding_needed=rng.choice([None, 2.0, 50.0])))
    return orgs, demands


@pytest.fixture(params=["kernel", "small"])
def product_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the fast path through the compiled kernel (every product, as at scale) and through
    the dense product that small inputs take."""
    import matcher.candidates as candidates

    monkeypatch.setattr(candidates, "SMALL", 0 if request.param == "kernel" else 1 << 40)
    return str(request.param)


def assert_same_lists(a: MatchResult, b: MatchResult, orgs: list[OrganizationRecord],
                      demands: list[DemandRecord]) -> None:
    """Every demand's and every organization's list: the same keys, order and scores."""
    for d in demands:
        assert [(r.organization_key, r.score) for r in a.for_demand(d.key)] == \
            [(r.organization_key, r.score) for r in b.for_demand(d.key)], d.key
    for o in orgs:
        assert [(r.demand_key, r.score) for r in a.for_organization(o.key)] == \
            [(r.demand_key, r.score) for r in b.for_organization(o.key)], o.key


@pytest.mark.parametrize("seed", [1, 2])
def test_shortlist_gives_the_same_rankings_as_scoring_every_pair(matcher: Matcher, seed: int,
                                                                 product_path: str) -> None:
    orgs, demands = corpus(matcher.regions, 300, 400, seed)
    uncapped = MatchConfig(org_cap=10**9)
    fast = Matcher(uncapped, regions=matcher.regions, tokenizer=matcher.tokenizer, lexicon=matcher.lexicon)
    exhaustive = Matcher(uncapped.with_(shortlist=10**6), regions=matcher.regions, tokenizer=matcher.tokenizer,
                         lexicon=matcher.lexicon)
    a, b = fast.match(orgs, demands), exhaustive.match(orgs, demands)
    assert_same_lists(a, b, orgs, demands)


def test_far_away_organizations_sharing_rare_words_are_found_without_scoring_rows_in_full(
        matcher: Matcher, monkeypatch: pytest.MonkeyPatch, product_path: str) -> None:
    # Demands whose words no nearby organization shares, among many nearby ones of their declared
    # action: the candidates are taken by the final score, so the few far-away organizations that do
    # share their words are found in the one pass, and no row is ever scored against every column.
    orgs, demands = corpus(matcher.regions, 400, 300, 7)
    rng = random.Random(7)
    counties = list(matcher.regions.counties.values())
    rare = ["村道路灯安装维修", "自来水管网改造", "村部屋顶防水", "桥梁护栏加固"]
    for i in range(12):
        county = rng.choice(counties)
        orgs.append(OrganizationRecord(
            key=f"r{i}", name=f"工程队{i}", level="county", city_code=county.city_code,  # type: ignore[arg-type]
            county_code=county.code, actions=("社会治理",), capability=rng.choice(rare)))
    for j in range(60):
        county = rng.choice(counties)
        demands.append(DemandRecord(key=f"x{j}", city_code=county.city_code, county_code=county.code,
                                    title=rng.choice(rare), description="", category="创业就业"))
    settled: set[str] = set()
    real = Matcher._best_in_full

    def spy(self: Matcher, side: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        settled.add(side)
        return real(self, side, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Matcher, "_best_in_full", spy)
    uncapped = MatchConfig(org_cap=10**9)
    short = Matcher(uncapped.with_(shortlist=12), regions=matcher.regions, tokenizer=matcher.tokenizer,
                    lexicon=matcher.lexicon)
    a = short.match(orgs, demands)
    assert settled == set()
    found = sum(1 for d in demands[-60:] for r in a.for_demand(d.key)[:3] if r.organization_key.startswith("r"))
    assert found > 30
    b = short.match(orgs, demands, every_pair=True)  # the reference scores every pair, in full
    assert settled == {"demand", "organization"}
    assert_same_lists(a, b, orgs, demands)


@pytest.mark.parametrize("cap", [3, 8])
def test_the_cap_and_rejections_give_what_scoring_every_pair_gives(matcher: Matcher, cap: int,
                                                                   product_path: str) -> None:
    # A tight cap and staff's rejections take many demands' first candidates: those go deeper, once,
    # and the lists are the same whether the kernel found the candidates or every pair was scored.
    orgs, demands = corpus(matcher.regions, 300, 400, 5)
    fast = Matcher(MatchConfig(org_cap=cap, shortlist=12), regions=matcher.regions, tokenizer=matcher.tokenizer,
                   lexicon=matcher.lexicon)
    plain = fast.match(orgs, demands)
    rejected = [(d.key, r.organization_key) for d in demands[::3] for r in plain.for_demand(d.key)[:6]]
    a = fast.match(orgs, demands, excluded_pairs=rejected)
    b = fast.match(orgs, demands, excluded_pairs=rejected, every_pair=True)
    assert_same_lists(a, b, orgs, demands)
    listed = {(r.demand_key, r.organization_key) for r in a.recommendations if r.demand_rank}
    assert not set(rejected) & listed
    used = [r.organization_key for r in a.recommendations if r.demand_rank]
    assert max(used.count(o) for o in set(used)) == cap
    # Demands listed organizations beyond their first 12 by score (the kernel's first answer).
    first = Matcher(MatchConfig(org_cap=10**9, top_k=12, shortlist=12), regions=matcher.regions,
                    tokenizer=matcher.tokenizer, lexicon=matcher.lexicon).match(orgs, demands)
    deeper = sum(1 for d in demands for r in a.for_demand(d.key)
                 if r.organization_key not in {x.organization_key for x in first.for_demand(d.key)})
    assert deeper > 20


def test_a_sink_gets_the_same_recommendations_a_chunk_at_a_time(matcher: Matcher,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import matcher.engine as engine_module

    monkeypatch.setattr(engine_module, "SINK_CHUNK", 97)  # several chunks, the last one short
    orgs, demands = corpus(matcher.regions, 200, 300, 4)
    whole = matcher.match(orgs, demands)
    chunks: list[RecommendationBatch] = []
    streamed = matcher.match(orgs, demands, sink=chunks.append)
    assert streamed.recommendations == []
    assert len(chunks) > 2 and all(len(c) == 97 for c in chunks[:-1])
    assert [r for c in chunks for r in c.recommendations()] == whole.recommendations
    assert streamed.stats.n_recommendations == whole.stats.n_recommendations == len(whole.recommendations)


def meaning_vectors(orgs: list[OrganizationRecord], demands: list[DemandRecord], seed: int):  # type: ignore[no-untyped-def]
    """Vectors as an encoder would place the texts: near their action's direction, each its own way,
    so that cosines fall on both sides of the semantic floor."""
    import numpy as np

    from matcher.semantic import SemanticVectors

    rng = np.random.default_rng(seed)
    base = {a: rng.normal(size=32) for a in ACTIONS}

    def vec(action: str) -> np.ndarray:
        v = base[action] / np.linalg.norm(base[action]) + 0.42 * rng.normal(size=32) / np.sqrt(32)
        return (v / np.linalg.norm(v)).astype(np.float32)

    return SemanticVectors(
        demands={d.key: vec(d.category or ACTIONS[int(d.key[1:]) % 6]) for d in demands},
        organizations={o.key: vec(o.actions[0]) for o in orgs if int(o.key[1:]) % 5})  # some without one


@pytest.mark.parametrize("exact", [True, False])
def test_meaning_joins_the_shortlist_without_changing_the_rankings(matcher: Matcher, exact: bool,
                                                                    product_path: str) -> None:
    # With vectors, each record's nearest texts are candidates too and the bound on what the shortlist
    # left out includes the semantic part: the exact mode gives what scoring every pair gives.
    orgs, demands = corpus(matcher.regions, 300, 400, 3)
    # Needs told in words no organization uses: only their meaning can find them a match.
    demands += [DemandRecord(key=f"d{400 + j}", city_code=d.city_code, county_code=d.county_code,
                             title="孩子放学后没人管", description="爷爷奶奶不识字", category="扶弱济困")
                for j, d in enumerate(demands[:20])]
    vectors = meaning_vectors(orgs, demands, 3)
    uncapped = MatchConfig(org_cap=10**9)
    fast = Matcher(uncapped.with_(shortlist=12, semantic_shortlist=10, exact_top_k=exact), regions=matcher.regions,
                   tokenizer=matcher.tokenizer, lexicon=matcher.lexicon)
    exhaustive = Matcher(uncapped.with_(shortlist=10**6, semantic_shortlist=10**6), regions=matcher.regions,
                         tokenizer=matcher.tokenizer, lexicon=matcher.lexicon)
    a, b = fast.match(orgs, demands, vectors=vectors), exhaustive.match(orgs, demands, vectors=vectors)
    words_only = exhaustive.match(orgs, demands)
    lists = [[r.organization_key for r in res.for_demand(d.key)] for res in (a, b, words_only) for d in demands]
    n = len(demands)
    assert lists[n:2 * n] != lists[2 * n:]  # meaning changes the rankings ...
    told = {d.key for d in demands[-20:]}  # ... and finds pairs that share no word
    assert any(r.signals["semantic"] > 0 and r.signals["text"] == 0 for r in b.recommendations if r.demand_key in told)
    if exact:
        assert_same_lists(a, b, orgs, demands)
    else:
        from matcher.evaluation import topk_recall

        assert min(topk_recall(a, b)) >= 0.98
