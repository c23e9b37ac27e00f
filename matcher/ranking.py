"""Top-k lists both ways, with a cap on how often one organization is recommended."""

from __future__ import annotations

import math

import numpy as np


def rank_within(groups: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order pairs by group then score descending; return (order, 0-based rank in group)."""
    order = np.lexsort((-scores, groups))
    g = groups[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1] if len(g) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    return order, rank


def top_k(groups: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of each group's best ``k`` pairs, and their 1-based ranks."""
    order, rank = rank_within(groups, scores)
    keep = rank < k
    return order[keep], rank[keep] + 1


def auto_cap(n_demands: int, n_organizations: int, k: int, factor: float) -> int:
    """A cap of ``factor`` times the average number of lists an organization would be in.

    >>> auto_cap(2000, 300, 10, 2.0)
    134
    """
    if n_organizations == 0:
        return k
    return max(k, math.ceil(factor * k * n_demands / n_organizations))


def capped_top_k(
    demand: np.ndarray, organization: np.ndarray, scores: np.ndarray, k: int, cap: int,
    *, max_rounds: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """Each demand's best ``k`` pairs, no organization in more than ``cap`` lists.

    An over-used organization keeps the slots where it scores highest; the
    demands that lose it move on to their next candidate, so popular
    organizations cannot take every top slot and remote villages still get
    candidates. Returns (pair indices, 1-based ranks).

    The pairs are sorted once; each round is linear (ranks from a running count
    of the pairs still allowed), and only the chosen pairs of over-used
    organizations are sorted again.
    """
    n = len(scores)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    order, _rank = rank_within(demand, scores)
    d_sorted, o_sorted, s_sorted = demand[order], organization[order], scores[order]
    group_start = np.r_[True, d_sorted[1:] != d_sorted[:-1]]
    start_index = np.maximum.accumulate(np.where(group_start, np.arange(n), 0))
    allowed = np.ones(n, dtype=bool)
    n_org = int(organization.max()) + 1
    for _ in range(max_rounds):
        running = np.cumsum(allowed)
        before_group = np.where(start_index > 0, running[start_index - 1], 0)
        rank = running - before_group - 1  # rank among allowed pairs of the same demand
        chosen = allowed & (rank < k)
        usage = np.bincount(o_sorted[chosen], minlength=n_org)
        over = usage > cap
        if not over.any():
            break
        idx = np.flatnonzero(chosen & over[o_sorted])
        by_org, rank_in_org = rank_within(o_sorted[idx], s_sorted[idx])
        allowed[idx[by_org[rank_in_org >= cap]]] = False
    else:  # pragma: no cover - converges long before for real data
        chosen &= ~over[o_sorted]
    picked = np.flatnonzero(chosen)
    return order[picked], rank[picked] + 1
