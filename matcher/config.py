"""Every weight and threshold of the engine, in one JSON-serialisable config.

The hash of the config is stored with every match run, so a ranking can always
be traced back to the settings that made it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class MatchConfig:
    """Weights and thresholds.

    >>> MatchConfig().config_hash() == MatchConfig().config_hash()
    True
    >>> MatchConfig(top_k=5).config_hash() == MatchConfig().config_hash()
    False
    """

    # Text fit (word and character TF-IDF), category, reach and scale (matcher.scoring.total_score).
    w_text_word: float = 0.36
    w_text_char: float = 0.16
    w_category: float = 0.20
    w_reach: float = 0.22
    w_scale: float = 0.06
    # Dense semantic similarity (matcher.semantic), when the caller passes vectors: its share of the
    # score, the cosine below which it says nothing (unrelated Chinese texts sit near 0.78 with E5),
    # and how many nearest texts each record takes as candidates besides its best by the rest of the
    # score (100: what the candidates miss of the exhaustive top 10 is measured in BENCHMARKS.md).
    w_semantic: float = 0.40
    semantic_floor: float = 0.85
    semantic_shortlist: int = 100
    # How far meaning alone opens the text gate (this share of the semantic signal counts as text fit).
    # None by default: measured on both dev sets, any share lets organizations that fit nothing collect
    # category and reach by vague closeness (first suggestions graded 0 rose from 35 % to 45-55 %).
    semantic_gate: float = 0.0
    # What the organization's kind says it does (matcher.kinds: 红十字会, 电商协会, 养老服务中心 ...):
    # a kind that points to the demand's action opens the text gate up to this much text fit, and
    # a hobby, sport or trade body's declared actions count for nothing.
    kind_gate: float = 0.03
    # Capability evidence: a pair whose texts fit no better than this in words, not at all in
    # meaning, and whose kind does not point to the demand's action (a kind match below
    # kind_evidence), is never recommended, whatever it declared (None: no floor).
    evidence_floor: float | None = 0.0
    kind_evidence: float = 0.5
    # Meaning alone is evidence only from this signal on (a cosine of ~0.88): just above the floor, most
    # texts of the same genre are "close", a hobby body's included.
    semantic_evidence: float = 0.2
    # Category and reach count fully only once the texts fit at least this well: capability
    # fit comes first, and a local organization of the right action that does something else
    # must not outrank one that does the very thing one county away.
    text_gate: float = 0.10
    out_of_reach_factor: float = 0.55
    # Staff decisions: an organization's approvals lift it, rejections lower it, by at most this share.
    feedback_weight: float = 0.1
    # Villages' ratings (1–5) of delivered projects: a well-rated organization rises, a poorly
    # rated one falls, by at most this share, and only as the number of rated projects grows.
    rating_weight: float = 0.1

    # Category vector of a demand: declared one-hot mixed with the text's action distribution.
    category_declared_share: float = 0.6

    # Reach weights by why an organization can work in a county.
    reach_home_county: float = 1.0
    reach_declared: float = 0.95
    reach_city: float = 0.85
    reach_declared_neighbor: float = 0.8
    reach_province: float = 0.75
    reach_default_neighbor: float = 0.5
    distance_decay: float = 0.25  # share of a broad reach lost at distance_scale_km
    distance_scale_km: float = 500.0
    neighbor_km: float = 100.0  # seats closer than this count as neighbouring units

    # Ranking.
    top_k: int = 10
    # Each record's candidates: its best this many by score (matcher.candidates), and more for a demand
    # the cap or staff's rejections leave short. Without vectors the lists are those of scoring every pair.
    shortlist: int = 50
    # With vectors, meaning may lift a pair the candidates left out by at most the row's nearest-text
    # bound. False (the default): each record's nearest texts are its candidates by meaning, a bounded
    # cost; its recall of the exhaustive top 10 is measured in BENCHMARKS.md. True: rows whose top k
    # meaning could still change are scored against every column (exact; the cost grows with them).
    exact_top_k: bool = False
    org_cap: int | None = None  # None: org_cap_factor x the average load, at least top_k
    org_cap_factor: float = 2.0
    min_score: float = 0.05

    # Text features.
    char_ngram_min: int = 2
    char_ngram_max: int = 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> MatchConfig:
        return replace(self, **changes)

    def config_hash(self) -> str:
        payload = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
