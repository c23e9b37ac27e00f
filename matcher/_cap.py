"""Compiled kernel of ``matcher.ranking.capped_top_k`` (numba), for large inputs: the capped lists
by deferred acceptance, one proposal at a time.

Each demand proposes its pairs best first until it holds k; an organization holds at most ``cap``
and, when full, keeps the better of its worst and the newcomer (a higher score, or at an equal one
the lower demand), sending the loser back to propose further down its list. Whatever the order of
proposals, the answer is the demand-optimal stable one: the answer of ``capped_top_k``'s rounds,
at a cost of a few operations per proposal instead of a pass over every pair per round.

An organization's holdings are a min-heap of int64 keys: the score's float32 bits above, the
demand's complement below, so a larger key is a better holding and a comparison is one integer
comparison (as in ``matcher._topk``). Imported on first use.
"""

from __future__ import annotations

import numpy as np

from matcher import _topk  # noqa: F401  # first: it settles numba's cache directory before numba loads

from numba import njit  # isort: skip

_LOW = np.int64(0xFFFFFFFF)


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
            key = (np.int64(bits[p]) << 32) | (_LOW - np.int64(i))
            base = o * cap
            m = cnt[o]
            if m < cap:  # room: sift up
                pos = m
                while pos > 0:
                    parent = (pos - 1) // 2
                    if keys[base + parent] <= key:
                        break
                    keys[base + pos] = keys[base + parent]
                    where[base + pos] = where[base + parent]
                    pos = parent
                keys[base + pos] = key
                where[base + pos] = p
                cnt[o] = m + 1
            elif key > keys[base]:  # full, and better than its worst: that one goes back
                lost = where[base]
                accepted[lost] = False
                loser = _LOW - (keys[base] & _LOW)
                held[loser] -= 1
                stack[top] = loser
                top += 1
                pos = 0  # the newcomer replaces the root and sifts down
                while True:
                    child = 2 * pos + 1
                    if child >= cap:
                        break
                    if child + 1 < cap and keys[base + child + 1] < keys[base + child]:
                        child += 1
                    if keys[base + child] >= key:
                        break
                    keys[base + pos] = keys[base + child]
                    where[base + pos] = where[base + child]
                    pos = child
                keys[base + pos] = key
                where[base + pos] = p
            else:
                continue
            accepted[p] = True
            held[i] += 1
    return accepted
