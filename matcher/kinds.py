"""What an organization's kind says it does: a prior read from its name.

The policy (`shared/seeds/`) names the kinds of organization for each action: 行业协会 and 商会 for
industry and sales, 学会 and 技术协会 for technical advice, 民办学校 for training, 红十字会, 慈善会,
基金会 and 志愿者协会 for the vulnerable, 医院, 康复机构 and 医药协会 for health, 志愿者协会, 公益服务队
and 村屯服务中心 for governance. ``data/org_kinds.csv`` lists the words of a name that mark each kind
and the actions it points to. A kind of its own marks hobby, sport and trade bodies far from
farming: what they declare is not evidence of capability.

A name is read longest word first, without overlaps (老年大学 is not 老年), and every kind found
counts (延边州红十字志愿服务队 is both 红十字会 and 志愿服务).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher.categories import ACTION_INDEX, ACTIONS
from matcher.resources import data_dir
from matcher.text import normalize


@dataclass(frozen=True)
class Kind:
    name: str
    words: tuple[str, ...]
    actions: tuple[str, ...]  # empty: a kind far from rural revitalization

    @property
    def unrelated(self) -> bool:
        return not self.actions


@dataclass(frozen=True)
class OrgKind:
    """What a name says: the kinds found, the actions they point to, and whether one is unrelated."""

    kinds: tuple[str, ...]
    actions: frozenset[str]
    unrelated: bool


class KindTable:
    """
    >>> table = KindTable.from_file()
    >>> table.classify("扶余市红十字志愿服务队").actions == {"医护康养", "扶弱济困", "社会治理"}
    True
    >>> table.classify("蛟河市老年大学协会").kinds
    ('老年大学',)
    >>> table.classify("松原房地产业商会").unrelated
    True
    """

    def __init__(self, kinds: Sequence[Kind]) -> None:
        self.kinds = list(kinds)
        self._kind_of: dict[str, Kind] = {}
        for kind in self.kinds:
            for word in kind.words:
                self._kind_of.setdefault(word, kind)
        words = sorted(self._kind_of, key=len, reverse=True)  # at each place the longest word wins
        self._pattern = re.compile("|".join(map(re.escape, words))) if words else None

    @classmethod
    def from_file(cls, path: Path | None = None) -> KindTable:
        path = path or data_dir() / "org_kinds.csv"
        with path.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return cls([Kind(r["kind"], tuple(w for w in r["name_words"].split("|") if w),
                         tuple(a for a in r["actions"].split("、") if a)) for r in rows])

    def classify(self, name: str) -> OrgKind:
        if self._pattern is None:
            return OrgKind((), frozenset(), False)
        found = list(dict.fromkeys(self._kind_of[m.group()] for m in self._pattern.finditer(normalize(name))))
        return OrgKind(tuple(k.name for k in found), frozenset(a for k in found for a in k.actions),
                       any(k.unrelated for k in found))

    def vectors(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per organization: its kinds' actions as a 0/1 row over ACTIONS, and whether it is of an
        unrelated kind (then no action counts: what it declared is not evidence)."""
        prior = np.zeros((len(names), len(ACTIONS)), dtype=np.float32)
        unrelated = np.zeros(len(names), dtype=bool)
        cache: dict[str, OrgKind] = {}
        for i, name in enumerate(names):
            kind = cache.get(name) or cache.setdefault(name, self.classify(name))
            if kind.unrelated:
                unrelated[i] = True
                continue
            for action in kind.actions:
                prior[i, ACTION_INDEX[action]] = 1.0
        return prior, unrelated
