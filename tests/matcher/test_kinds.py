"""What an organization's kind says: a prior for its actions, and no credit for what a hobby body declares."""

from __future__ import annotations

import pytest

from matcher import DemandRecord, Matcher, OrganizationRecord
from matcher.categories import ACTIONS
from matcher.explanations import UNRELATED_KIND_REASON
from matcher.kinds import KindTable
from tests.matcher.test_semantic import ORGS, vectors_for


@pytest.fixture(scope="module")
def table() -> KindTable:
    return KindTable.from_file()


@pytest.mark.parametrize(("name", "actions", "unrelated"), [
    ("延吉市仁心康复医院", {"医护康养"}, False),
    ("吉林省慈善总会", {"扶弱济困"}, False),
    ("梅河口市电子商务协会", {"消费帮扶", "创业就业"}, False),
    ("吉林省农村实用技术培训学校", {"人才培育", "创业就业"}, False),
    ("汪清县老年大学协会", {"人才培育", "社会治理"}, False),  # the longer word wins: not 老年 (care)
    ("延边州红十字志愿服务队", {"医护康养", "扶弱济困", "社会治理"}, False),  # every kind found counts
    ("白城桥牌协会", set(), True),
    ("吉林省汽车用品商会", {"消费帮扶", "创业就业"}, True),  # a trade far from farming, whatever its form
    ("汪清县某某促进会", set(), False),  # nothing to say: no prior either way
])
def test_a_name_tells_its_kind(table: KindTable, name: str, actions: set[str], unrelated: bool) -> None:
    found = table.classify(name)
    assert set(found.actions) == actions and found.unrelated == unrelated
    prior, odd = table.vectors([name])
    assert odd[0] == unrelated
    assert {ACTIONS[i] for i in prior[0].nonzero()[0]} == (set() if unrelated else actions)


def test_a_hobby_body_declaring_every_action_is_recommended_for_nothing_it_shows_no_capability_for(
        matcher: Matcher, encoder) -> None:  # type: ignore[no-untyped-def]
    fish = ORGS[3]
    assert len(fish.actions) == 6 and matcher.kinds.classify(fish.name).unrelated
    demands = [
        DemandRecord("road", "222400", "222424", "村道坑洼", "一下雨村道就成了泥塘，想修一修", "社会治理"),
        DemandRecord("old", "222400", "222424", "老人体检", "给全村七十岁以上老人做一次体检", "医护康养"),
        DemandRecord("jobs", "222400", "222424", "农闲没活干", "冬天农闲，村里青壮年想找点零活", "创业就业"),
    ]
    for vectors in (None, vectors_for(encoder, ORGS, demands)):
        result = matcher.match(ORGS, demands, vectors=vectors)
        assert all(r.organization_key != "fish" for r in result.recommendations)


def test_a_hobby_body_that_does_the_thing_is_found_and_told_why_its_actions_do_not_count(matcher: Matcher) -> None:
    demands = [DemandRecord("pond", "222400", "222424", "钓鱼比赛", "村里新修了鱼塘，想办一场钓鱼比赛引客人", "创业就业")]
    first = matcher.match(ORGS, demands).for_demand("pond")[0]
    assert first.organization_key == "fish"
    assert first.signals["category"] == 0
    assert first.reasons[0] == UNRELATED_KIND_REASON


def test_a_demand_no_organization_fits_is_a_gap_not_a_list_to_fill(matcher: Matcher) -> None:
    demands = [DemandRecord("bridge", "222400", "222424", "桥墩开裂", "屯子东头的石桥桥墩开裂，汛期前得加固", "社会治理"),
               DemandRecord("kids", "222400", "222424", "留守儿童作业辅导", "放学后留守儿童作业没人辅导", "扶弱济困")]
    orgs = [o for o in ORGS if o.key != "clinic"]  # a volunteer team: governance is its kind's work
    result = matcher.match(orgs, demands)
    assert result.for_demand("bridge") == []
    assert result.stats.demands_without_candidates == ["bridge"]
    assert result.for_demand("kids")[0].organization_key == "care"


def test_a_kind_that_does_the_thing_opens_the_gate_where_words_differ(matcher: Matcher) -> None:
    # A Red Cross team and an e-commerce association, neither sharing a word with a need for a clinic:
    # the kind that points to the demand's action ranks first.
    orgs = [OrganizationRecord("redcross", "汪清县红十字志愿服务队", "county", "222400", "222424", ("扶弱济困",),
                               "应急救护培训，冬季送温暖"),
            OrganizationRecord("shop", "汪清县电子商务协会", "county", "222400", "222424", ("扶弱济困",),
                               "应急物资代购，冬季送温暖")]
    demands = [DemandRecord("clinic", "222400", "222424", "义诊", "请大夫来屯里给老人看看病", "医护康养")]
    ranked = [r.organization_key for r in matcher.match(orgs, demands).for_demand("clinic")]
    assert ranked[:1] == ["redcross"]
    assert matcher.match(orgs, demands).for_demand("clinic")[0].signals["kind"] >= 0.5
