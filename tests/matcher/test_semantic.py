"""Dense semantic similarity with the real default encoder: villages' own words find what plain
words find."""

from __future__ import annotations

import numpy as np

from matcher import DemandRecord, Matcher, OrganizationRecord
from matcher.semantic import E5Encoder, SemanticVectors, clauses, closest_clauses, signal, text_digest

ORGS = [
    OrganizationRecord("care", "汪清县春苗儿童关爱服务中心", "county", "222400", "222424", ("扶弱济困",),
                       "为留守儿童提供课后托管、作业辅导和心理陪伴"),
    OrganizationRecord("rice", "汪清县农产品电商协会", "county", "222400", "222424", ("消费帮扶",),
                       "帮助农户开网店、直播带货，对接超市销售大米木耳"),
    OrganizationRecord("clinic", "延边州仁爱医院志愿服务队", "city", "222400", None, ("医护康养",),
                       "送医下乡，为老年人义诊体检、慢病随访"),
    # Declares every action and fits nothing: a hobby body.
    OrganizationRecord("fish", "汪清县钓鱼协会", "county", "222400", "222424",
                       ("创业就业", "人才培育", "扶弱济困", "医护康养", "社会治理", "消费帮扶"),
                       "组织钓鱼比赛，交流垂钓技巧，开展会员联谊活动"),
]
PLAIN = DemandRecord("plain", "222400", "222424", "留守儿童课后托管", "为留守儿童提供课后托管和作业辅导", "扶弱济困")
TOLD = [
    DemandRecord("colloquial", "222400", "222424", "俺们屯孩子放学后没人管", "爹妈都出去打工了，爷爷奶奶也辅导不了作业"),
    DemandRecord("traditional", "222400", "222424", "孩子放學後沒人照看", "父母外出務工，作業沒人輔導", "扶弱济困"),
    DemandRecord("corn", "222400", "222424", "苞米卖不出去", "今年苞米丰收了，价钱太低，想找个地方帮着卖"),
]


def vectors_for(encoder: E5Encoder, orgs: list[OrganizationRecord], demands: list[DemandRecord]) -> SemanticVectors:
    dv = encoder.encode([d.text for d in demands], "demand")
    ov = encoder.encode([o.text for o in orgs], "organization")
    return SemanticVectors({d.key: v for d, v in zip(demands, dv, strict=True)},
                           {o.key: v for o, v in zip(orgs, ov, strict=True)})


def test_the_encoder_gives_unit_vectors_the_same_each_time(encoder: E5Encoder) -> None:
    a = encoder.encode(["孩子放学后没人管", "为老年人义诊"], "demand")
    b = encoder.encode(["孩子放学后没人管"], "demand")
    assert a.shape == (2, encoder.dim) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-3)
    assert np.allclose(a[0], b[0], atol=1e-5)
    # Traditional characters are normalised first: the same text to the model.
    assert np.allclose(encoder.encode(["孩子放學後沒人管"], "demand")[0], b[0], atol=1e-5)
    assert text_digest(encoder.name, "demand", "x") != text_digest(encoder.name, "organization", "x")


def test_a_need_told_in_village_words_finds_what_its_plain_twin_finds(matcher: Matcher, encoder: E5Encoder) -> None:
    demands = [PLAIN, *TOLD]
    result = matcher.match(ORGS, demands, vectors=vectors_for(encoder, ORGS, demands))
    plain_first = result.for_demand("plain")[0].organization_key
    assert plain_first == "care"
    for key in ("colloquial", "traditional"):
        first = result.for_demand(key)[0]
        assert first.organization_key == plain_first, key
        assert first.signals["semantic"] > 0
    # Glut of a crop wants sales channels: found by meaning (苞米 is no word the association uses).
    assert result.for_demand("corn")[0].organization_key == "rice"


def test_meaning_is_a_reason_and_the_closest_clauses_are_named(matcher: Matcher, encoder: E5Encoder) -> None:
    result = matcher.match(ORGS, TOLD, vectors=vectors_for(encoder, ORGS, TOLD))
    first = result.for_demand("colloquial")[0]
    assert any(r.startswith("语义相近") for r in first.reasons)
    found = closest_clauses(encoder, TOLD[0].text, ORGS[0].text)
    assert found is not None
    d_clause, o_clause, cos = found
    assert d_clause in clauses(TOLD[0].text) and o_clause in clauses(ORGS[0].text)
    assert "托管" in o_clause or "辅导" in o_clause
    assert cos > matcher.config.semantic_floor


def test_without_vectors_the_engine_matches_by_words_alone(matcher: Matcher, encoder: E5Encoder) -> None:
    with_some = SemanticVectors(organizations=vectors_for(encoder, ORGS, []).organizations)  # no demand encoded yet
    a, b = matcher.match(ORGS, [PLAIN, *TOLD]), matcher.match(ORGS, [PLAIN, *TOLD], vectors=with_some)
    assert [(r.demand_key, r.organization_key, r.score) for r in a.recommendations] == \
        [(r.demand_key, r.organization_key, r.score) for r in b.recommendations]
    assert all(r.signals["semantic"] == 0 for r in a.recommendations)


def test_the_signal_counts_only_what_rises_above_the_floor() -> None:
    assert signal(np.array([0.5, 0.85, 0.925, 1.0]), 0.85).tolist() == [0.0, 0.0, 0.5, 1.0]
