"""Ranking properties on small hand-made cases."""

from __future__ import annotations

from collections import Counter
from datetime import date

from matcher import DemandRecord, MatchConfig, Matcher, OrganizationRecord

CLINIC = "组织医生下乡义诊巡诊，为老年人免费体检，送常用药上门"
ECOMMERCE = "会员开网店做直播带货，帮助农户销售木耳大米等农副产品"


def org(key: str, county: str, city: str, capability: str, actions: tuple[str, ...] = ("医护康养",),
        *, level: str = "county", funds: float | None = None, area: str = "",
        active: bool = True) -> OrganizationRecord:
    return OrganizationRecord(key=key, name=f"{key}协会", level=level, city_code=city,  # type: ignore[arg-type]
                              county_code=county if level == "county" else None, actions=actions,
                              capability=capability, funds=funds, service_area=area, active=active)


def demand(key: str, county: str, city: str, title: str, description: str,
           category: str | None = "医护康养", **kw: object) -> DemandRecord:
    return DemandRecord(key=key, city_code=city, county_code=county, title=title,
                        description=description, category=category, **kw)  # type: ignore[arg-type]


def ranked(result, key: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.organization_key for r in result.for_demand(key)]


def test_local_organization_beats_far_one_with_same_text(matcher: Matcher) -> None:
    orgs = [org("far", "220822", "220800", CLINIC), org("local", "222424", "222400", CLINIC)]
    dems = [demand("d", "222424", "222400", "老人义诊", "为空巢老人开展义诊体检")]
    assert ranked(matcher.match(orgs, dems), "d")[0] == "local"


def test_wrongly_filed_demand_still_finds_the_right_organizations(matcher: Matcher) -> None:
    orgs = [
        org("shop", "222424", "222400", ECOMMERCE, ("消费帮扶",)),
        org("clinic", "222424", "222400", CLINIC, ("医护康养",)),
        org("school", "222424", "222400", "开办电工焊工家政职业技能培训班", ("人才培育",)),
    ]
    # A sales demand filed under 人才培育 by mistake.
    dems = [demand("d", "222424", "222400", "木耳滞销", "合作社五万斤黑木耳卖不出去，想开网店直播带货",
                   category="人才培育")]
    assert ranked(matcher.match(orgs, dems), "d")[0] == "shop"


def test_hospital_that_declared_only_health_fits_a_disabled_elders_visit(matcher: Matcher) -> None:
    orgs = [
        org("hospital", "222424", "222400", "医生上门巡诊，为残疾老人和失能老人体检康复", ("医护康养",)),
        org("culture", "222424", "222400", "送戏下乡，组织秧歌队和广场舞", ("社会治理", "扶弱济困")),
    ]
    dems = [demand("d", "222424", "222400", "残疾老人上门巡诊", "为村里残疾老人上门体检、康复指导",
                   category="扶弱济困")]
    assert ranked(matcher.match(orgs, dems), "d")[0] == "hospital"


def test_closed_and_expired_demands_and_withdrawn_orgs_are_never_recommended(matcher: Matcher) -> None:
    orgs = [org("a", "222424", "222400", CLINIC), org("gone", "222424", "222400", CLINIC, active=False)]
    dems = [
        demand("open", "222424", "222400", "义诊", "老人义诊体检"),
        demand("closed", "222424", "222400", "义诊", "老人义诊体检", open=False),
        demand("expired", "222424", "222400", "义诊", "老人义诊体检", due_date=date(2025, 1, 1)),
    ]
    result = matcher.match(orgs, dems, today=date(2026, 6, 1))
    pairs = {(r.demand_key, r.organization_key) for r in result.recommendations}
    assert pairs == {("open", "a")}


def test_excluded_pairs_drop_out(matcher: Matcher) -> None:
    orgs = [org("a", "222424", "222400", CLINIC), org("b", "222424", "222400", CLINIC)]
    dems = [demand("d", "222424", "222400", "义诊", "老人义诊体检")]
    result = matcher.match(orgs, dems, excluded_pairs={("d", "a")})
    assert ranked(result, "d") == ["b"]


def test_village_ratings_move_an_organization_between_equals(matcher: Matcher) -> None:
    orgs = [org("a", "222424", "222400", CLINIC), org("b", "222424", "222400", CLINIC)]
    dems = [demand("d", "222424", "222400", "义诊", "老人义诊体检")]
    plain = matcher.match(orgs, dems).for_demand("d")
    assert plain[0].score == plain[1].score  # the same text, place and category: a tie
    for good, bad in (("a", "b"), ("b", "a")):
        result = matcher.match(orgs, dems, organization_ratings={good: (5.0, 3), bad: (1.5, 2)})
        ranked_recs = result.for_demand("d")
        assert [r.organization_key for r in ranked_recs] == [good, bad]
        assert ranked_recs[0].score > plain[0].score > ranked_recs[1].score
        assert any("村级评价：3个项目平均5.0分" in reason for reason in ranked_recs[0].reasons)


def test_one_rating_counts_less_than_many(matcher: Matcher) -> None:
    orgs = [org("a", "222424", "222400", CLINIC), org("b", "222424", "222400", CLINIC)]
    dems = [demand("d", "222424", "222400", "义诊", "老人义诊体检")]
    result = matcher.match(orgs, dems, organization_ratings={"a": (5.0, 1), "b": (5.0, 6)})
    assert ranked(result, "d") == ["b", "a"]


def test_no_organization_exceeds_the_cap_and_every_demand_gets_candidates() -> None:
    m = Matcher(MatchConfig(top_k=3, org_cap=4))
    star = org("star", None, "220100", CLINIC + "，康复护理，慢病筛查", level="province")  # type: ignore[arg-type]
    others = [org(f"o{i}", "222424", "222400", "医生下乡巡诊看病") for i in range(8)]
    dems = [demand(f"d{i}", "222424", "222400", "老人义诊", "为老年人义诊体检、康复护理") for i in range(10)]
    result = m.match([star, *others], dems)
    usage = Counter(r.organization_key for r in result.recommendations if r.demand_rank)
    assert max(usage.values()) <= 4
    assert usage["star"] == 4
    assert result.stats.coverage == 1.0
    assert all(len(result.for_demand(d.key)) == 3 for d in dems)


def test_scale_prefers_an_organization_that_can_fund_a_big_project(matcher: Matcher) -> None:
    text = "投资建设冷库和保鲜库，提供冷链仓储"
    orgs = [org("tiny", "222424", "222400", text, ("创业就业",), funds=0.5),
            org("big", "222424", "222400", text, ("创业就业",), funds=300)]
    dems = [demand("d", "222424", "222400", "冷库建设", "合作社建设保鲜冷库", category="创业就业",
                   funding_needed=200.0)]
    result = matcher.match(orgs, dems)
    assert ranked(result, "d")[0] == "big"
    big = result.for_demand("d")[0]
    assert big.signals["scale"] > result.for_demand("d")[1].signals["scale"]


def test_out_of_reach_organization_is_penalised(matcher: Matcher) -> None:
    orgs = [org("far", "220822", "220800", CLINIC)]  # 通榆县, county-level
    dems = [demand("d", "222404", "222400", "义诊", "为老年人义诊体检")]  # 珲春市
    rec = matcher.match(orgs, dems).for_demand("d")[0]
    assert rec.signals["reach"] == 0.0
    assert any(reason.startswith("超出通常帮扶范围") for reason in rec.reasons)


def test_every_recommendation_explains_itself(matcher: Matcher) -> None:
    orgs = [org("a", "222424", "222400", CLINIC, level="county"),
            org("p", None, "220100", ECOMMERCE, ("消费帮扶",), level="province")]  # type: ignore[arg-type]
    dems = [demand("d1", "222424", "222400", "义诊", "老人义诊体检"),
            demand("d2", "222401", "222400", "木耳卖难", "帮助销售木耳", category=None)]
    result = matcher.match(orgs, dems)
    assert result.recommendations
    for rec in result.recommendations:
        assert rec.reasons
        assert set(rec.signals) == {"text", "category", "reach", "distance_km", "scale", "semantic", "kind"}
    assert result.inferred["d2"].action == "消费帮扶"
    d1 = result.for_demand("d1")[0]
    assert d1.reasons[0] == "类别一致：医护康养"
    assert "义诊" in d1.keywords


def test_both_directions_are_ranked(matcher: Matcher) -> None:
    orgs = [org("a", "222424", "222400", CLINIC)]
    dems = [demand("d2", "222424", "222400", "健康讲座", "为老年人讲健康知识"),
            demand("d1", "222424", "222400", "义诊", "老人义诊体检"),
            demand("d3", "222424", "222400", "木耳卖难", "帮助销售木耳", category="消费帮扶")]
    ranking = [r.demand_key for r in matcher.match(orgs, dems).for_organization("a")]
    # The unrelated sales demand is not recommended at all: capability fit comes first.
    assert ranking == ["d1", "d2"]


def test_config_hash_changes_with_weights() -> None:
    assert MatchConfig().config_hash() != MatchConfig(w_reach=0.3).config_hash()
    assert MatchConfig.from_dict(MatchConfig().to_dict()) == MatchConfig()


def test_a_text_naming_no_action_takes_the_corpus_nearest_one(matcher: Matcher) -> None:
    orgs = [org("a", "222424", "222400", "儿童之家课后陪伴", ("扶弱济困",))]
    filed = [demand(f"f{i}{a}", "222424", "222400", title, text, category=a)
             for i in range(3)
             for a, title, text in [
                 ("扶弱济困", "儿童之家", "建设儿童之家课后陪伴"), ("医护康养", "义诊", "老人义诊体检"),
                 ("消费帮扶", "大米滞销", "大米卖不出去"), ("人才培育", "电工培训", "电工技能培训班"),
                 ("社会治理", "纠纷调解", "邻里纠纷调解"), ("创业就业", "冷库建设", "合作社建冷库")]]
    blank = demand("x", "222424", "222400", "儿童之家", "村里建设儿童之家", category=None)
    assert matcher.infer_action(blank.text).evidence == 0  # no keyword names an action
    result = matcher.match(orgs, [*filed, blank])
    assert result.inferred["x"].action == "扶弱济困"


def test_an_index_and_a_limit_on_the_other_side_for_one_new_demand(matcher: Matcher) -> None:
    orgs = [org(f"o{i}", "222424" if i % 2 else "220822", "222400" if i % 2 else "220800",
                CLINIC if i % 3 else ECOMMERCE) for i in range(30)]
    d = demand("new", "222424", "222400", "老人义诊", "为空巢老人义诊体检")
    index = matcher.index_organizations(orgs)
    full = matcher.match(index.orgs, [d], organization_index=index)
    limited = matcher.match(index.orgs, [d], organization_index=index, other_side_limit=3)  # raised to k=10
    assert [r.organization_key for r in limited.for_demand("new")] == [r.organization_key for r in full.for_demand("new")]
    org_side = [r for r in full.recommendations if r.organization_rank]
    kept = [r for r in limited.recommendations if r.organization_rank]
    assert len(org_side) > 10 and len(kept) == 10
    assert sorted(r.score for r in kept) == sorted(r.score for r in org_side)[-10:]  # the best-scoring ten


def test_the_limit_applies_to_a_changed_organization_s_side_too(matcher: Matcher) -> None:
    dems = [demand(f"d{i}", "222424" if i % 2 else "220822", "222400" if i % 2 else "220800", "老人义诊",
                   f"为{i + 10}位空巢老人义诊体检") for i in range(30)]
    o = org("changed", "222424", "222400", CLINIC)
    full = matcher.match([o], dems)
    limited = matcher.match([o], dems, other_side_limit=12)
    own = [r.demand_key for r in full.for_organization("changed")]
    assert [r.demand_key for r in limited.for_organization("changed")] == own and len(own) == 10
    demand_side = [r for r in full.recommendations if r.demand_rank]
    kept = [r for r in limited.recommendations if r.demand_rank]
    assert len(demand_side) > 12 and len(kept) == 12
    assert sorted(r.score for r in kept) == sorted(r.score for r in demand_side)[-12:]


ORGS_FOR_WORDING = (
    ("sales", "会员开网店直播带货，帮助农户销售玉米、葵花籽、南瓜等农副产品", ("消费帮扶",)),
    ("clinic", "乡村医生下乡巡诊，为老年人免费体检，送常用药", ("医护康养",)),
    ("care", "志愿者为留守儿童开办课后托管和四点半课堂，辅导作业", ("扶弱济困",)),
    ("roads", "承接村道硬化、修路和人居环境整治工程", ("社会治理",)),
)


def test_a_demand_in_traditional_characters_or_village_words_finds_what_its_plain_twin_finds(
        matcher: Matcher) -> None:
    orgs = [org(key, "222424", "222400", text, actions) for key, text, actions in ORGS_FOR_WORDING]
    # (plain wording, the same need as a village writes it), no category given: the words alone decide.
    twins = [
        ("玉米滞销", "三万斤玉米卖不出去", "苞米滞销", "俺们村三万斤苞米咋也卖不出去"),
        ("葵花籽滞销", "两万斤葵花籽卖不出去", "毛嗑卖不动", "今年毛嗑收了两万斤，卖不动"),
        ("南瓜滞销", "一万斤南瓜卖不出去", "倭瓜烂在地里", "一万斤倭瓜没人收，眼看要烂在地里"),
        ("老人义诊", "请乡村医生为老年人义诊体检", "老人義診", "請鄉村醫生為老年人義診體檢"),
        ("留守儿童课后托管", "为留守儿童提供课后托管", "孩子放学后没人看", "孩子放学后没人看管，天天在外头野"),
        ("村道硬化", "需要硬化村道", "下雨就成泥塘", "一下雨村道就成了泥塘，路难走"),
    ]
    dems = [demand(f"{i}{side}", "222424", "222400", title, text, category=None)
            for i, (pt, pd, vt, vd) in enumerate(twins) for side, title, text in (("p", pt, pd), ("v", vt, vd))]
    result = matcher.match(orgs, dems)
    for i, (plain_title, *_rest) in enumerate(twins):
        plain, village = ranked(result, f"{i}p"), ranked(result, f"{i}v")
        assert plain and village, plain_title
        assert village[0] == plain[0], (plain_title, plain, village)
    assert [ranked(result, f"{i}p")[0] for i in range(len(twins))] == [
        "sales", "sales", "sales", "clinic", "care", "roads"]


def test_a_pair_ranked_past_the_list_reports_its_rank_and_a_far_one_its_reach(matcher: Matcher) -> None:
    from matcher.diagnosis import diagnose

    orgs = [org(f"c{i:02d}", "222424", "222400", CLINIC + "，" * i) for i in range(12)]
    orgs.append(org("far", "220822", "220800", CLINIC))
    dems = [demand("d", "222424", "222400", "老人义诊", "为空巢老人开展义诊体检")]
    listed = ranked(matcher.match(orgs, dems), "d")
    assert len(listed) == matcher.config.top_k
    last = next(o.key for o in orgs if o.key not in listed and o.key != "far")
    d = diagnose(matcher, orgs, dems, demand_key="d", organization_key=last)
    assert d.demand_rank is not None and d.demand_rank > matcher.config.top_k
    assert d.demand_candidates == len(orgs)
    far = diagnose(matcher, orgs, dems, demand_key="d", organization_key="far")
    assert far.out_of_reach and far.demand_rank == len(orgs)
    assert not d.out_of_reach and not d.below_text_gate
