"""Requests that are not a village's public need (brand goods, one household's consumer goods,
cash to a person), by the curated patterns in ``data/doubtful_requests.json``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from api.services import privacy
from matcher.resources import data_dir

BANK_CARD_REASON = "要求汇款至个人银行卡，不属于村级公共需求"


@dataclass(frozen=True)
class Pattern:
    id: str
    regex: re.Pattern[str]
    reason: str


@lru_cache(maxsize=4)
def patterns(path: Path | None = None) -> tuple[Pattern, ...]:
    raw = json.loads((path or data_dir() / "doubtful_requests.json").read_text(encoding="utf-8"))
    return tuple(Pattern(p["id"], re.compile(p["pattern"], re.IGNORECASE), p["reason"]) for p in raw["patterns"])


def reasons(title: str, description: str, findings: list[privacy.Finding] | None = None) -> list[str]:
    """Why a demand looks like no public need of a village, each reason once; empty when it does not.
    ``findings``: the personal data already found in ``title + "\\n" + description``, if the caller has it.

    >>> reasons("困难户需要名牌运动鞋", "给我家孩子买一双耐克")
    ['名牌、奢侈品或高档消费品，不属于村级公共需求']
    >>> reasons("村道硬化", "一下雨村道就成了泥塘，需要资金给他们村修路")
    []
    """
    text = f"{title}\n{description}"
    found = [p.reason for p in patterns() if p.regex.search(text)]
    if any(f.kind == "bank_card" for f in (privacy.scan(text) if findings is None else findings)):
        found.append(BANK_CARD_REASON)
    return list(dict.fromkeys(found))
