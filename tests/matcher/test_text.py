from __future__ import annotations

import csv
import random
import re
import unicodedata
from pathlib import Path

import openpyxl

from api.services.demo import generate
from matcher import Matcher
from matcher.resources import data_dir
from matcher.text import SynonymTable, Tokenizer, normalize


def test_normalize_folds_full_width_and_spaces() -> None:
    assert normalize("\u3000电商　直播  ＡＢ ") == "电商 直播 ab"


def test_normalize_is_nfkc_then_spaces_folded_whatever_the_text() -> None:
    """The quick path (texts already in NFKC skip it; str.split for the spaces) gives what full
    normalisation and a regex give, on every kind of space, width and composed character."""
    def reference(text: str) -> str:
        return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()

    cases = ["", " ", "a\u00a0b", "\u3000\u3000", "x\x1cy\x1fz", "tab\tnew\nline\r\x0bv\x0cf", "ｅ\u0301",
             "e\u0301", "ﬁ ligature", "①②③", "Ⅻ", "㎏", "\u2028\u2029\u200b\u2003", "ＡＢＣ１２３！？",
             "电商直播，木耳大米。", "（全省）", "\ufeffBOM", "ﾊﾝｶｸ", "Ǆ"]
    rng = random.Random(5)
    alphabet = [c for case in cases for c in case] + list("义诊 体检\u3000Ａ")
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(500)]
    for text in cases:
        assert normalize(text) == reference(text), repr(text)


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


def _corpus(tmp_path: Path) -> list[str]:
    """Every kind of text the engine reads: the labeled dev set, synthetic forms, odd input."""
    texts: list[str] = []
    for name in ("demands.csv", "orgs.csv", "actions.csv"):
        with (data_dir() / "eval" / name).open(encoding="utf-8") as f:
            texts.extend(cell for row in csv.reader(f) for cell in row if cell.strip())
    files = generate(tmp_path, organizations=300, demands=900, seed=5)
    with files.demands.open(encoding="gb18030") as f:
        texts.extend(f"{r['需求名称']} {r['需求内容']}" for r in csv.DictReader(f))
    sheet = openpyxl.load_workbook(files.organizations, read_only=True).active
    texts.extend(" ".join(str(c) for c in row if c) for row in sheet.iter_rows(min_row=3, values_only=True))
    texts += ["ＡＢＣ电商123直播带货😀", "<script>alert(1)</script>养老", "   ", "长白山人参（林下参）种植技术培训、"
              "5G网络；O2O农产品上行", "鸡西市的黑木耳和东北大米——线上线下销售!!!"]
    return texts


def test_fast_tokenizer_segments_exactly_as_jieba(matcher: Matcher, tmp_path: Path) -> None:
    # jieba-next is used for speed only: the tokens, and so every score, must not move.
    fast = matcher.tokenizer
    assert fast.fast
    reference = Tokenizer(fast=False, extra_words=matcher.lexicon.words())
    texts = _corpus(tmp_path)
    assert len(texts) > 1500
    differing = [t for t in texts if fast.segment(t) != reference.segment(t)]
    assert differing == []
    assert [fast.tokens(t) for t in texts[:200]] == [reference.tokens(t) for t in texts[:200]]


def test_a_batch_larger_than_the_cache_keeps_every_text_it_was_handed(matcher: Matcher) -> None:
    tok = matcher.tokenizer
    saved_size, saved_cache = tok.cache_size, dict(tok._cache)
    try:
        tok.clear_cache()
        tok.cache_size = 5
        texts = [f"第{i}村老人义诊" for i in range(10)]
        # Tokens from an earlier run's store: marked, so that a recomputation would show.
        tok.remember({t: ["记住的"] for t in texts[:4]})
        tokens = tok.tokens_many([*texts, texts[7]])
        assert tokens[:4] == [["记住的"]] * 4
        assert tokens[4] == tok.synonyms.expand(tok.plain_tokens(texts[4]))
        assert tokens[10] == tokens[7]
        # The run's store reads every text back, the handed ones unchanged.
        assert tok.cached(texts) == dict(zip(texts, tokens[:10], strict=True))
        # The bound still holds across calls: the next new text starts the cache afresh.
        tok.tokens_many(["另一村"])
        assert tok.cached(texts) == {} and len(tok._cache) == 1
    finally:
        tok.cache_size = saved_size
        tok.clear_cache()
        tok.remember(saved_cache)
