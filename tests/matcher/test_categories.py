from __future__ import annotations

import csv
from pathlib import Path

import pytest

from matcher import Matcher
from matcher.categories import ACTIONS, canonical_action, smoothed_probabilities, split_actions

ROOT = Path(__file__).resolve().parents[2]


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


def test_inferring_many_texts_at_once_agrees_with_one_at_a_time(matcher: Matcher) -> None:
    with (ROOT / "data" / "eval" / "demands.csv").open(encoding="utf-8") as f:
        texts = [f"{row['需求名称']} {row['需求内容']}" for row in csv.DictReader(f)]
    texts += ["", "   ", "！！！", "木耳直播带货木耳", "义诊" * 50, "ＡＢＣ　全角"]
    tokens = [matcher.tokenizer.tokens(t) for t in texts]
    scores = matcher.lexicon.scores_many(tokens, texts)  # what a full match weighs every demand with
    probs = smoothed_probabilities(scores)
    assert len(scores) == len(texts) > 100
    for i, (t, text) in enumerate(zip(tokens, texts, strict=True)):
        one = matcher.lexicon.infer(t, text)
        best = int(probs[i].argmax())
        assert (ACTIONS[best], scores[i].sum()) == (one.action, pytest.approx(one.evidence)), text
        assert tuple(probs[i]) == pytest.approx(one.probabilities, abs=1e-12)
        assert probs[i, best] == pytest.approx(one.confidence, abs=1e-12)


def test_the_keyword_finder_finds_what_a_plain_longest_first_alternation_finds(matcher: Matcher) -> None:
    import re

    from matcher.categories import _trie_pattern

    lexicon = matcher.lexicon
    words = sorted((w for w in lexicon._word_weights if len(w) >= 2), key=len, reverse=True)
    plain = re.compile("(?=(" + "|".join(re.escape(w) for w in words) + "))")
    # Keywords run together both ways (overlaps, prefixes of longer ones), and everyday texts.
    texts = ["".join(words), "".join(reversed(words)), " ".join(words), "空巢老人义诊巡诊，直播带货卖木耳",
             *(w[:-1] + w for w in words), *(w + w[1:] for w in words)]
    assert lexicon._finder is not None
    for text in texts:
        assert lexicon._finder.findall(text) == plain.findall(text), text
    # Prefixes shared: a keyword that begins a longer one still matches alone.
    finder = re.compile(_trie_pattern(["义诊", "义诊巡诊"]))
    assert finder.fullmatch("义诊") and finder.fullmatch("义诊巡诊") and not finder.fullmatch("义诊巡")
