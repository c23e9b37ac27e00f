from __future__ import annotations

import pytest

from matcher import Matcher
from matcher.categories import canonical_action, split_actions


@pytest.mark.parametrize(("text", "expected"), [
    ("村里五万斤大米卖不出去，希望爱心企业认购", "消费帮扶"),
    ("为空巢老人义诊，测血压血糖", "医护康养"),
    ("开办电工焊工培训班", "人才培育"),
    ("调解邻里纠纷，修订村规民约", "社会治理"),
    ("为低保户送过冬的棉衣棉被", "扶弱济困"),
    ("合作社建设冷库，带动村民就业", "创业就业"),
])
def test_infer_action(matcher: Matcher, text: str, expected: str) -> None:
    assert matcher.infer_action(text).action == expected


def test_split_actions_accepts_every_separator() -> None:
    assert split_actions("创业就业行动，人才培育;扶弱济困；医护康养 社会治理,消费帮扶") == (
        ["创业就业", "人才培育", "扶弱济困", "医护康养", "社会治理", "消费帮扶"], [])


def test_canonical_action_rejects_unknown() -> None:
    assert canonical_action("环境保护") is None
