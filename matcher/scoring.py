"""From signals to a score, and to the reasons a county officer would write."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from matcher import reach as reach_kinds
from matcher.categories import ACTIONS
from matcher.config import MatchConfig


def total_score(text: np.ndarray, category: np.ndarray, reach: np.ndarray, scale: np.ndarray,
                config: MatchConfig, semantic: np.ndarray | float = 0.0, kind: np.ndarray | float = 0.0
                ) -> np.ndarray:
    """The score of pairs before the organization's history factor.

    Text fit and semantic fit, plus category and reach scaled by how well the texts fit in words
    or in meaning, or the organization's kind fits the demand's action (up to ``text_gate``), plus
    scale fit; an organization that cannot reach the place keeps only part of it.
    """
    fit = np.maximum(np.maximum(text, config.semantic_gate * np.asarray(semantic)),
                     config.kind_gate * np.asarray(kind))
    gate = np.minimum(1.0, fit / config.text_gate) if config.text_gate > 0 else 1.0
    text_part = (config.w_text_word + config.w_text_char) * text + config.w_semantic * semantic
    total = text_part + gate * (config.w_category * category + config.w_reach * reach) + config.w_scale * scale
    return np.where(reach > 0, total, total * config.out_of_reach_factor).astype(np.float32)


def final_score(text: np.ndarray, category: np.ndarray, reach: np.ndarray, scale: np.ndarray, config: MatchConfig,
                semantic: np.ndarray | float = 0.0, kind: np.ndarray | float = 0.0,
                factor: np.ndarray | float = 1.0) -> np.ndarray:
    """``total_score`` times the organization's history factor, and 0 for a pair without capability
    evidence: texts that fit no better than ``evidence_floor`` in words, not enough in meaning, and a
    kind that does not point to the demand's action (such a pair is never recommended). The one
    formula of a pair's score: the candidates' compiled kernel (``matcher._topk.scan_scored``)
    computes the same without meaning."""
    total = total_score(text, category, reach, scale, config, semantic, kind) * factor
    if config.evidence_floor is not None:
        evidence = (text > config.evidence_floor) | (np.asarray(semantic) > config.semantic_evidence) \
            | (np.asarray(kind) >= config.kind_evidence)
        total = np.where(evidence, total, np.float32(0.0))
    return np.asarray(total, dtype=np.float32)


def _money(value: float) -> str:
    return f"{value:g}万元"


# The parts of a reason repeat across hundreds of thousands of pairs (the same action sets, places,
# distances in whole km, amounts): each is built once per run and looked up after.
MAX_KEYWORDS = 4  # shared words named in a reason
KEYWORD_PREFIX, KEYWORD_SEPARATOR = "共同关键词：", "、"


# A pair's texts close in meaning (matcher.semantic); the closest clauses are named where one pair is
# explained at a time (``duijie explain``, the review page), not for every pair of a run.
SEMANTIC_REASON = "语义相近：需求与该组织所述内容意思接近"
SEMANTIC_REASON_AT = 0.25  # the semantic signal from which it is worth saying


def keyword_reason(keywords: Sequence[str]) -> str:
    return KEYWORD_PREFIX + KEYWORD_SEPARATOR.join(keywords)


@lru_cache(maxsize=65536)
def category_reason(demand_category: str | None, inferred: bool, text_action: str,
                     org_actions: tuple[str, ...]) -> str | None:
    if demand_category and demand_category in org_actions:
        label = "类别一致（按内容推断）" if inferred else "类别一致"
        return f"{label}：{demand_category}"
    if text_action in org_actions:
        filed = f"登记为{demand_category}" if demand_category else "未填类别"
        return f"内容属于{text_action}（需求{filed}），组织申报了该行动"
    if demand_category in ACTIONS:
        declared = "、".join(org_actions) or "未申报"
        return f"类别不同：需求为{demand_category}，组织申报{declared}"
    return None


@lru_cache(maxsize=65536)
def reach_reason(reach_kind: int, km_whole: float, demand_place: str, org_place: str) -> str:
    km = f"约{km_whole:.0f}公里"
    if reach_kind == reach_kinds.HOME:
        return f"同在{demand_place}"
    if reach_kind == reach_kinds.DECLARED:
        return f"在其拟帮扶地区内：{demand_place}"
    if reach_kind == reach_kinds.CITY:
        return f"市级组织，服务本市州：{demand_place}（{km}）"
    if reach_kind == reach_kinds.PROVINCE:
        return f"省级组织，可在全省开展（{org_place}→{demand_place}，{km}）"
    if reach_kind in (reach_kinds.NEIGHBOR, reach_kinds.DECLARED_NEIGHBOR):
        return f"相邻县市：{org_place}→{demand_place}（{km}）"
    return f"超出通常帮扶范围：{org_place}→{demand_place}（{km}）"


@lru_cache(maxsize=65536)
def scale_reason(funds: float, needed: float, fits: bool) -> str:
    if fits:
        return f"规模相当：可投入{_money(funds)}，需求{_money(needed)}"
    if funds < needed:
        return f"资金偏少：可投入{_money(funds)}，需求{_money(needed)}"
    return f"规模大于需求：可投入{_money(funds)}，需求{_money(needed)}"


def explain(
    *,
    demand_category: str | None,
    demand_category_inferred: bool,
    text_action: str,
    org_actions: Sequence[str],
    reach_kind: int,
    distance_km: float,
    demand_place: str,
    org_place: str,
    keywords: Sequence[str],
    funds: float | None,
    needed: float | None,
    scale: float,
    semantic: float = 0.0,
) -> list[str]:
    """Reasons in Chinese, strongest evidence first.

    >>> explain(demand_category="医护康养", demand_category_inferred=False, text_action="医护康养",
    ...         org_actions=["医护康养"], reach_kind=reach_kinds.NEIGHBOR, distance_km=45.2,
    ...         demand_place="延边州图们市", org_place="延边州延吉市", keywords=["义诊", "老年人"],
    ...         funds=None, needed=None, scale=0.6)
    ['类别一致：医护康养', '相邻县市：延边州延吉市→延边州图们市（约45公里）', '共同关键词：义诊、老年人']
    """
    reasons: list[str] = []
    category = category_reason(demand_category, demand_category_inferred, text_action, tuple(org_actions))
    if category is not None:
        reasons.append(category)
    reasons.append(reach_reason(reach_kind, round(distance_km), demand_place, org_place))
    if keywords:
        reasons.append(keyword_reason(keywords))
    if semantic >= SEMANTIC_REASON_AT:
        reasons.append(SEMANTIC_REASON)
    if funds is not None and needed is not None and needed > 0:
        reasons.append(scale_reason(funds, needed, scale >= 0.8))
    return reasons
