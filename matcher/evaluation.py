"""Measuring rankings: NDCG@k and Recall@k on graded labels, and a plain BM25 baseline."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matcher.engine import MatchResult
from matcher.records import DemandRecord, OrganizationRecord
from matcher.text import Tokenizer

Rankings = dict[str, list[str]]
Labels = dict[str, dict[str, int]]


def ndcg_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain with gain 2^grade - 1.

    >>> ndcg_at_k(["a", "b"], {"a": 3, "b": 1})
    1.0
    >>> round(ndcg_at_k(["b", "a"], {"a": 3, "b": 1}), 3)
    0.71
    """
    def dcg(gs: Sequence[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gs))

    ideal = dcg(sorted(grades.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([grades.get(item, 0) for item in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10,
                relevant: int = 2) -> float:
    """Share of the items graded ``relevant`` or better that appear in the top k.

    >>> recall_at_k(["a", "x"], {"a": 3, "b": 2, "c": 1})
    0.5
    """
    wanted = {item for item, g in grades.items() if g >= relevant}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


@dataclass(frozen=True)
class Scores:
    ndcg: float
    recall: float
    queries: int
    first_irrelevant: float = 0.0  # share of queries with a suggestion whose first one is graded 0


def first_irrelevant(rankings: Rankings, labels: Labels) -> float:
    """The share of the queries given any suggestion whose first suggestion is graded 0 (an
    ungraded item counts as 0): the absurd first line that costs staff's trust.

    >>> first_irrelevant({"q": ["a"], "r": ["b"], "s": []}, {"q": {"a": 3}, "r": {"a": 2}, "s": {}})
    0.5
    """
    served = [q for q in labels if rankings.get(q)]
    if not served:
        return 0.0
    return sum(1 for q in served if labels[q].get(rankings[q][0], 0) == 0) / len(served)


def score_rankings(rankings: Rankings, labels: Labels, k: int = 10) -> Scores:
    """Mean NDCG@k and Recall@k over the queries that have at least one relevant item; the share
    of first suggestions graded 0 over every query given one."""
    queries = [q for q, g in labels.items() if any(v >= 2 for v in g.values())]
    if not queries:
        return Scores(0.0, 0.0, 0, first_irrelevant(rankings, labels))
    ndcg = float(np.mean([ndcg_at_k(rankings.get(q, []), labels[q], k) for q in queries]))
    recall = float(np.mean([recall_at_k(rankings.get(q, []), labels[q], k) for q in queries]))
    return Scores(ndcg, recall, len(queries), first_irrelevant(rankings, labels))


def invert(labels: Labels) -> Labels:
    """Demand-keyed labels to organization-keyed ones (and back)."""
    out: Labels = {}
    for q, items in labels.items():
        for item, grade in items.items():
            out.setdefault(item, {})[q] = grade
    return out


def engine_rankings(result: MatchResult) -> tuple[Rankings, Rankings]:
    """(demand → organizations, organization → demands) in rank order."""
    by_demand: dict[str, list[tuple[int, str]]] = {}
    by_org: dict[str, list[tuple[int, str]]] = {}
    for r in result.recommendations:
        if r.demand_rank:
            by_demand.setdefault(r.demand_key, []).append((r.demand_rank, r.organization_key))
        if r.organization_rank:
            by_org.setdefault(r.organization_key, []).append((r.organization_rank, r.demand_key))
    return ({q: [k for _, k in sorted(v)] for q, v in by_demand.items()},
            {q: [k for _, k in sorted(v)] for q, v in by_org.items()})


def topk_recall(result: MatchResult, exact: MatchResult, *, evidence_only: bool = False) -> tuple[float, float]:
    """(demand side, organization side): the share of the exact top-k pairs (``exact``, matched
    with ``every_pair``) that ``result`` also lists, pooled over every row. ``evidence_only``
    counts only exact pairs whose texts share something (text fit above 0): the others score by
    the scale term alone, near-ties among filler."""
    with_text = {(r.demand_key, r.organization_key) for r in exact.recommendations if r.signals.get("text", 0) > 0}
    out = []
    for side, (mine, truth) in enumerate(zip(engine_rankings(result), engine_rankings(exact), strict=True)):
        wanted = found = 0
        for q, v in truth.items():
            listed = set(mine.get(q, []))
            for item in v:
                pair = (q, item) if side == 0 else (item, q)
                if evidence_only and pair not in with_text:
                    continue
                wanted += 1
                found += item in listed
        out.append(found / wanted if wanted else 1.0)
    return out[0], out[1]


def bm25_rankings(
    organizations: Sequence[OrganizationRecord],
    demands: Sequence[DemandRecord],
    tokenizer: Tokenizer,
    k: int = 10,
) -> tuple[Rankings, Rankings]:
    """Plain BM25 over jieba tokens (text only, no synonyms, no category, no place)."""
    import bm25s

    org_tokens = [tokenizer.plain_tokens(o.text) or ["_"] for o in organizations]
    dem_tokens = [tokenizer.plain_tokens(d.text) or ["_"] for d in demands]

    def rank(corpus: list[list[str]], corpus_keys: list[str],
             queries: list[list[str]], query_keys: list[str]) -> Rankings:
        index = bm25s.BM25()
        index.index(corpus, show_progress=False)
        out: Rankings = {}
        for key, query in zip(query_keys, queries, strict=True):
            scores = np.asarray(index.get_scores(query))
            order = np.argsort(-scores, kind="stable")[:k]
            out[key] = [corpus_keys[i] for i in order if scores[i] > 0]
        return out

    okeys = [o.key for o in organizations]
    dkeys = [d.key for d in demands]
    return rank(org_tokens, okeys, dem_tokens, dkeys), rank(dem_tokens, dkeys, org_tokens, okeys)
