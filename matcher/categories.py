"""The six actions (六项行动): parsing declared ones and inferring a missing one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from matcher.resources import data_dir
from matcher.text import normalize

ACTIONS: tuple[str, ...] = ("创业就业", "人才培育", "扶弱济困", "医护康养", "社会治理", "消费帮扶")
ACTION_INDEX = {a: i for i, a in enumerate(ACTIONS)}
_SEPARATORS = re.compile(r"[、，,;；/\s]+")


def canonical_action(name: str | None) -> str | None:
    """The action a form's wording names, or None.

    >>> canonical_action("医护康养行动")
    '医护康养'
    >>> canonical_action(" 消费帮扶 ")
    '消费帮扶'
    >>> canonical_action("环境保护") is None
    True
    """
    text = normalize(name).replace(" ", "")
    if not text:
        return None
    if text.endswith("行动"):
        text = text[: -len("行动")]
    if text in ACTION_INDEX:
        return text
    return _ALIASES.get(text)


_ALIASES: dict[str, str] = {
    "扶贫济困": "扶弱济困",
    "医疗康养": "医护康养",
    "医养康护": "医护康养",
    "人才培养": "人才培育",
    "消费扶贫": "消费帮扶",
    "乡村治理": "社会治理",
    "就业创业": "创业就业",
}


def split_actions(text: str | None) -> tuple[list[str], list[str]]:
    """Split a declared-actions cell into (known actions, unknown words).

    >>> split_actions("创业就业行动、医护康养；消费帮扶 消费帮扶")
    (['创业就业', '医护康养', '消费帮扶'], [])
    >>> split_actions("扶弱济困,环保")
    (['扶弱济困'], ['环保'])
    """
    known: list[str] = []
    unknown: list[str] = []
    for part in _SEPARATORS.split(normalize(text)):
        if not part:
            continue
        action = canonical_action(part)
        if action is None:
            unknown.append(part)
        elif action not in known:
            known.append(action)
    return known, unknown


@dataclass(frozen=True)
class Inference:
    action: str
    confidence: float
    probabilities: tuple[float, ...]
    evidence: float = 0.0  # summed keyword weight; 0 means the text names no action at all


def _trie_pattern(words: Iterable[str]) -> str:
    """One regular expression matching the longest of ``words`` that starts where it is tried, with
    common prefixes shared: ``re`` tries an alternation branch by branch, so a plain one of a few
    hundred keywords costs that many attempts at every character of every text.

    >>> _trie_pattern(["义诊", "义诊巡诊", "义务", "体检"])
    '(?:义(?:务|诊(?:巡诊)?)|体检)'
    """
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = []
        for ch in sorted(k for k in node if k):
            child = node[ch]
            # A chain of single children is written out as one literal.
            literal = re.escape(ch)
            while len(child) == 1 and "" not in child:
                (nxt, child), = child.items()
                literal += re.escape(nxt)
            branches.append(literal + (pattern(child) if any(child) else ""))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body  # greedy: the longer word first, the shorter if it fails

    return pattern(trie)


class ActionLexicon:
    """Keyword evidence for each action, read from ``data/actions.json``."""

    def __init__(self, keywords: dict[str, dict[str, float]]) -> None:
        self.keywords = keywords
        self._word_weights: dict[str, np.ndarray] = {}
        for action, words in keywords.items():
            for word, weight in words.items():
                vec = self._word_weights.setdefault(word, np.zeros(len(ACTIONS)))
                vec[ACTION_INDEX[action]] += weight
        self._word_id = {word: i for i, word in enumerate(self._word_weights)}
        self._weights = np.array(list(self._word_weights.values())).reshape(len(self._word_id), len(ACTIONS))
        # One pass over the text finds every keyword it contains (jieba may keep a compound whole).
        multi = [w for w in self._word_weights if len(w) >= 2]
        self._finder = re.compile("(?=(" + _trie_pattern(multi) + "))") if multi else None

    @classmethod
    def from_file(cls, path: Path | None = None) -> ActionLexicon:
        path = path if path is not None else data_dir() / "actions.json"
        raw = json.loads(path.read_text(encoding="utf-8"))["actions"]
        return cls({action: spec["keywords"] for action, spec in raw.items()})

    def words(self) -> list[str]:
        return list(self._word_weights)

    def _keywords(self, tokens: Iterable[str], text: str) -> set[str]:
        """The words to weigh: the tokens, plus substrings for compound words jieba kept whole."""
        found = set(tokens)
        if text and self._finder is not None:
            found.update(self._finder.findall(text))
        return found

    def scores(self, tokens: Iterable[str], text: str = "") -> np.ndarray:
        """Evidence per action from tokens, plus substrings for compound words jieba kept whole."""
        total = np.zeros(len(ACTIONS))
        for word in self._keywords(tokens, text):
            vec = self._word_weights.get(word)
            if vec is not None:
                total += vec
        return total

    def probabilities(self, tokens: Sequence[str], text: str = "") -> np.ndarray:
        return smoothed_probabilities(self.scores(tokens, normalize(text)))

    def infer(self, tokens: Sequence[str], text: str = "") -> Inference:
        scores = self.scores(tokens, normalize(text))
        probs = smoothed_probabilities(scores)
        best = int(np.argmax(probs))
        return Inference(ACTIONS[best], float(probs[best]), tuple(float(p) for p in probs),
                         evidence=float(scores.sum()))

    def scores_many(self, token_lists: Sequence[Sequence[str]], texts: Sequence[str]) -> np.ndarray:
        """``scores`` of many texts as rows of one array: their keywords counted by one sparse
        product (a full run weighs every demand's text)."""
        rows: list[int] = []
        cols: list[int] = []
        word_id = self._word_id
        for i, (tokens, text) in enumerate(zip(token_lists, texts, strict=True)):
            ids = [word_id[w] for w in self._keywords(tokens, normalize(text)) if w in word_id]
            cols.extend(ids)
            rows.extend([i] * len(ids))
        hits = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(word_id)))
        return np.asarray(hits @ self._weights).reshape(len(texts), len(ACTIONS))


def smoothed_probabilities(scores: np.ndarray) -> np.ndarray:
    """Evidence per action to probabilities (a little for every action, so none is ruled out)."""
    smoothed = scores + 0.25
    return smoothed / smoothed.sum(axis=-1, keepdims=True)
