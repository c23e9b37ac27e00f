from __future__ import annotations

from matcher import Matcher
from matcher.text import SynonymTable, normalize


def test_normalize_folds_full_width_and_spaces() -> None:
    assert normalize("\u3000电商　直播  ＡＢ ") == "电商 直播 ab"


def test_domain_words_survive_segmentation(matcher: Matcher) -> None:
    tokens = matcher.tokenizer.plain_tokens("合作社想通过直播带货销售黑木耳，以购代捐")
    assert {"直播带货", "黑木耳", "以购代捐", "合作社"} <= set(tokens)


def test_synonyms_add_the_canonical_term(matcher: Matcher) -> None:
    tokens = matcher.tokenizer.tokens("为空巢老人免费体检")
    assert "空巢老人" in tokens
    assert "老年人" in tokens
    assert "义诊" in tokens


def test_stopwords_and_punctuation_are_dropped(matcher: Matcher) -> None:
    assert matcher.tokenizer.plain_tokens("我们村需要，开展帮扶！") == []


def test_a_word_in_two_groups_gets_both_canonical_terms() -> None:
    table = SynonymTable([["电商", "网店"], ["网络", "网店"]])
    assert table.expand(["网店"]) == ["网店", "电商", "网络"]
    assert table.expand(["电商"]) == ["电商"]
