"""Compiled kernel of ``matcher.ranking.capped_top_k`` (numba), for large inputs: the capped lists
by deferred acceptance, one proposal at a time.

Each demand proposes its pairs best first until it holds k; an organization holds at most ``cap``
and, when full, keeps the better of its worst and the newcomer (a higher score, or at an equal one
the lower demand), sending the loser back to propose further down its list. Whatever the order of
proposals, the answer is the demand-optimal stable one: the answer of ``capped_top_k``'s rounds,
at a cost of a few operations per proposal instead of a pass over every pair per round.

An organization's holdings are a min-heap of int64 keys: the score's float32 bits above, the
demand's complement below, so a larger key is a better holding and a comparison is one integer
comparison; the heap is ``matcher._topk``'s own, each entry carrying its pair. Imported on first use.
"""

from __future__ import annotations

import numpy as np

from matcher._topk import _LOW, _key, _offer  # first: it settles numba's cache directory before numba loads

from numba import njit  # isort: skip


@njit(nogil=True, cache=True)
def deferred_acceptance(starts, org, bits, k, cap, n_org):  # type: ignore[no-untyped-def]
    """Pairs grouped by demand, best first (demand i's are ``starts[i]:starts[i + 1]``), with their
    organization and score bits (> 0). Returns which pairs are held at the end."""
    n_dem = len(starts) - 1
    n = len(org)
    ptr = starts[:-1].copy()
    held = np.zeros(n_dem, dtype=np.int64)
    accepted = np.zeros(n, dtype=np.bool_)
    keys = np.zeros(n_org * cap, dtype=np.int64)
    where = np.zeros(n_org * cap, dtype=np.int64)  # the pair of each heap entry
    cnt = np.zeros(n_org, dtype=np.int64)
    stack = np.empty(n_dem + n, dtype=np.int64)  # each demand once, and once more per eviction
    top = 0
    for i in range(n_dem - 1, -1, -1):
        stack[top] = i
        top += 1
    while top > 0:
        top -= 1
        i = stack[top]
        end = starts[i + 1]
        while held[i] < k and ptr[i] < end:
            p = ptr[i]
            ptr[i] += 1
            o = org[p]
            key = _key(bits[p], i)
            worst = o * cap
            if cnt[o] == cap:  # full: the newcomer must beat its worst, which goes back to propose further
                if key <= keys[worst]:
                    continue
                accepted[where[worst]] = False
                loser = _LOW - (keys[worst] & _LOW)
                held[loser] -= 1
                stack[top] = loser
                top += 1
            _offer(keys, where, cnt, o, cap, key, p)
            accepted[p] = True
            held[i] += 1
    return accepted
