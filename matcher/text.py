"""Normalisation and tokenization of Chinese demand and capability texts."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

import jieba
import opencc

try:  # the same algorithm and dictionary in Rust; tests/matcher/test_text.py checks it segments as jieba does
    import jieba_next
except ImportError:  # pragma: no cover - declared; jieba itself is the fallback
    jieba_next = None

from matcher.resources import data_dir

_WORDLIKE = re.compile(r"[\u4e00-\u9fffA-Za-z]")
# Traditional characters to simplified, phrase-aware (OpenCC): "鄉村醫生" is "乡村医生" to the engine.
_T2S = opencc.OpenCC("t2s")
# Written so in simplified text too, where t2s would turn it into 干: 乾安县, 乾坤.
_AS_WRITTEN = {"乾": "\ue000"}

# Function words and form boilerplate that say nothing about fit.
STOPWORDS = frozenset(
    """的 了 和 与 及 或 等 在 为 对 是 有 无 将 把 被 从 向 到 由 以 于 其 这 那 个 我 我们 本 该 各 每
    需要 需求 开展 提供 帮助 帮扶 进行 希望 能够 可以 可 能 相关 方面 工作 服务 活动 项目 问题 情况 一些
    一批 若干 部分 全部 主要 积极 努力 计划 拟 年 月 日 名 人 户 次 万元 元 万 左右 以上 以下 多 约 共
    村 村民 本村 全村 乡 镇 乡镇 县 市 区 协会 组织 机构 中心 单位 社会 社会组织 吉林省 吉林 参与 乡村振兴
    俺 俺们 咱 咱们 咱村 俺村 咋 咋整 咋办 啥 啥的 嘎哈 寻思 整点 老鼻子 贼 挺 特别 非常 一下 这个 那个
    """.split()
)
# Single characters that do carry meaning in this domain.
_KEEP_SINGLE = frozenset("鹅 鸭 参 牛 猪 羊 鱼 蛋 米 茶 药 菌 蜜 梨 桃 瓜 菜 豆 粮 奶 鸡 医 病 残".split())


def normalize(text: str | None) -> str:
    """Full-width forms to half-width (and compatibility ideographs to their unified form),
    traditional characters to simplified, stray spaces folded, Latin lower-cased.

    >>> normalize("　義診\u3000 ＡＢＣ１２ 馬鈴薯 乾安縣")
    '义诊 abc12 马铃薯 乾安县'
    """
    if not text:
        return ""
    text = str(text)
    # Most texts are already in NFKC; checking is several times cheaper than normalizing.
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    for char, mark in _AS_WRITTEN.items():
        text = text.replace(char, mark)
    text = _T2S.convert(text)
    for char, mark in _AS_WRITTEN.items():
        text = text.replace(mark, char)
    return " ".join(text.split()).lower()  # str.split's whitespace is the regex \s of Unicode text


def strip_spaces(text: str | None) -> str:
    """Normalise and remove every space (for names and codes)."""
    return normalize(text).replace(" ", "")


class SynonymTable:
    """Groups of near-words; the first of each group is its canonical term.

    A word may belong to several groups (免费体检 is both 义诊 and 体检); matching adds
    every canonical term it has.

    >>> table = SynonymTable([["电商", "网店", "直播带货"], ["体检", "免费体检"], ["义诊", "免费体检"]])
    >>> table.expand(["网店", "大米", "免费体检"])
    ['网店', '电商', '大米', '免费体检', '体检', '义诊']
    """

    def __init__(self, groups: Iterable[Iterable[str]]) -> None:
        self.canonical: dict[str, tuple[str, ...]] = {}
        for group in groups:
            words = [w for w in group if w]
            if not words:
                continue
            for word in words:
                known = self.canonical.get(word, ())
                if words[0] not in known:
                    self.canonical[word] = (*known, words[0])

    @classmethod
    def from_file(cls, path: Path) -> SynonymTable:
        groups = []
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                groups.append(line.split())
        return cls(groups)

    def words(self) -> list[str]:
        return list(self.canonical)

    def expand(self, tokens: Iterable[str]) -> list[str]:
        out: list[str] = []
        for token in tokens:
            out.append(token)
            out.extend(c for c in self.canonical.get(token, ()) if c != token)
        return out


TOKENS_VERSION = 2  # bump when normalising or filtering tokens changes


class Tokenizer:
    """jieba with our domain dictionary, its own instance (not the global one).

    ``tokens`` gives content words with synonyms expanded (for matching);
    ``plain_tokens`` gives content words only (for the BM25 baseline). ``fast`` picks
    jieba-next, which segments exactly as jieba (same dictionary, DAG and HMM) about five
    times faster; ``fast=False`` is plain jieba, the reference.
    """

    def __init__(
        self,
        dictionary: Path | None = None,
        synonyms: SynonymTable | None = None,
        extra_words: Iterable[str] = (),
        *,
        fast: bool = True,
    ) -> None:
        base = data_dir()
        self.dictionary = dictionary if dictionary is not None else base / "dictionary.txt"
        self.synonyms = (
            synonyms if synonyms is not None else SynonymTable.from_file(base / "synonyms.txt")
        )
        self.cache_size = 500_000
        self._cache: dict[str, list[str]] = {}
        jieba.setLogLevel(logging.WARNING)
        logging.getLogger("jieba_next").setLevel(logging.WARNING)
        self.fast = fast and jieba_next is not None
        self._jieba = jieba_next.Tokenizer() if self.fast else jieba.Tokenizer()
        self._jieba.initialize()
        if self.dictionary.exists():
            self._jieba.load_userdict(str(self.dictionary))
        # Synonym members must survive segmentation as whole words.
        added = [word for word in [*self.synonyms.words(), *extra_words] if len(word) > 1]
        for word in added:
            self._jieba.add_word(word, freq=2000)
        # What tokens depend on, besides the text: tokens stored under another fingerprint are stale.
        digest = hashlib.blake2b(f"{TOKENS_VERSION}".encode(), digest_size=16)
        digest.update(self.dictionary.read_bytes() if self.dictionary.exists() else b"")
        for word, canonical in sorted(self.synonyms.canonical.items()):
            digest.update(f"\n{word}:{','.join(canonical)}".encode())
        for word in sorted(set(added)):
            digest.update(f"\n+{word}".encode())
        self.fingerprint = digest.hexdigest()

    def clear_cache(self) -> None:
        """Forget every text's tokens (to measure a cold run, or to free memory between batches)."""
        self._cache.clear()

    def remember(self, tokens: Mapping[str, list[str]]) -> None:
        """Take the tokens of texts from elsewhere (a store of an earlier run, made with the same
        ``fingerprint``): they are not computed again. Past the cache's bound, they replace what
        earlier calls left."""
        if len(self._cache) + len(tokens) > self.cache_size:
            self._cache.clear()
        self._cache.update(tokens)

    def cached(self, texts: Iterable[str]) -> dict[str, list[str]]:
        """The tokens this tokenizer holds of these texts (to store for a later run)."""
        return {t: tokens for t in texts if (tokens := self._cache.get(t)) is not None}

    def segment(self, text: str) -> list[str]:
        """Every jieba token of the normalised text, punctuation included."""
        return self._jieba.lcut(normalize(text), HMM=True)

    def plain_tokens(self, text: str) -> list[str]:
        return [t for t in self.segment(text) if _is_content(t)]

    def tokens(self, text: str) -> list[str]:
        return self.tokens_many([text])[0]

    def tokens_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokens of many texts; unchanged texts come from the cache. In this process: with
        jieba-next, worker processes cost more than they save (and forking a threaded server is unsafe).

        A batch is kept whole in the cache even past its bound (its tokens are in memory anyway, as
        the answer): a full run's store reads every text's tokens from it afterwards (``cached``),
        and one run over more texts than the bound must not lose those it was handed (``remember``)."""
        texts = list(texts)
        out = [self._cache.get(t) for t in texts]
        fresh: dict[str, list[str]] = {}
        for i, tokens in enumerate(out):
            if tokens is None:
                text = texts[i]
                if (tokens := fresh.get(text)) is None:
                    tokens = fresh[text] = self.synonyms.expand(self.plain_tokens(text))
                out[i] = tokens
        if fresh:
            if len(self._cache) + len(fresh) > self.cache_size:
                self._cache.clear()  # crude but bounded; a nightly run refills it
                self._cache.update(zip(texts, out, strict=True))  # type: ignore[arg-type]
            else:
                self._cache.update(fresh)
        return out  # type: ignore[return-value]


def _is_content(token: str) -> bool:
    token = token.strip()
    if not token or token in STOPWORDS or not _WORDLIKE.search(token):
        return False
    return len(token) > 1 or token in _KEEP_SINGLE


_NOT_CHAR_TEXT = re.compile(r"[^\u4e00-\u9fffA-Za-z ]+")


def char_text(text: str) -> str:
    """Text for character n-grams: normalised, punctuation and digits dropped.

    >>> char_text("５G网络，O2O！ 电商")
    'g网络oo 电商'
    """
    return _NOT_CHAR_TEXT.sub("", normalize(text))
