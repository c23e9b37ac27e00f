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
    *, max_rounds: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """Each demand's best ``k`` pairs, no organization in more than ``cap`` lists.

    An over-used organization keeps the slots where it scores highest; the
    demands that lose it move on to their next candidate, so popular
    organizations cannot take every top slot and remote villages still get
    candidates. Returns (pair indices, 1-based ranks).
    """
    alive = np.ones(len(scores), dtype=bool)
    n_org = int(organization.max()) + 1 if len(organization) else 0
    for _ in range(max_rounds):
        idx_alive = np.flatnonzero(alive)
        chosen_local, ranks = top_k(demand[idx_alive], scores[idx_alive], k)
        chosen = idx_alive[chosen_local]
        usage = np.bincount(organization[chosen], minlength=n_org)
        over = np.flatnonzero(usage > cap)
        if len(over) == 0:
            return chosen, ranks
        mask_over = np.isin(organization[chosen], over)
        sub = chosen[mask_over]
        _order, rank_in_org = rank_within(organization[sub], scores[sub])
        drop = sub[_order[rank_in_org >= cap]]
        alive[drop] = False
    # Converged for practical sizes; if not, enforce the cap on the last selection.
    _order, rank_in_org = rank_within(organization[chosen], scores[chosen])
    keep = np.sort(_order[rank_in_org < cap])
    chosen = chosen[keep]
    order, ranks = rank_within(demand[chosen], scores[chosen])
    return chosen[order], ranks + 1
