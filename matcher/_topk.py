"""Compiled kernels of ``matcher.candidates`` (numba): the best pairs of a sparse product, for
its rows and its columns at once.

Each left row's products with every right row are summed into a dense accumulator (a scatter
over the right side's postings of the row's features), then one scan keeps the row's best
``k_row`` and offers each value to its column's best ``k_col``. Both directions thus cost one
product instead of two. A value must be > 0 to count (a pair with nothing in common is not a
candidate). Ties keep the lower index: a row's list prefers the lower column, a column's the
lower row, whichever thread saw it.

An entry of a heap is one int64: the value's float32 bits above, the index's complement below.
For values > 0 the bits order as the floats do, so a larger key is a better entry (a higher
value, or the same value at a lower index) and a heap step is one integer comparison.

Imported on first use, so that a process that never matches in bulk does not load numba.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

# numba keeps the compiled code beside this file; where that is read-only (a system-wide install),
# in a cache directory of its own instead of failing to import. Read when numba is imported.
if "NUMBA_CACHE_DIR" not in os.environ and not os.access(Path(__file__).parent, os.W_OK):
    os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "duijie-numba-cache")

from numba import njit  # after the cache directory is settled

_LOW = np.int64(0xFFFFFFFF)


@njit(inline="always")
def _key(bits, i):  # type: ignore[no-untyped-def]
    return (np.int64(bits) << 32) | (_LOW - np.int64(i))


@njit(inline="always")
def _offer(keys, cnt, slot, k, key):  # type: ignore[no-untyped-def]
    """Offer ``key`` to the min-heap ``slot`` (capacity k at slot * k, fill count in cnt[slot]);
    returns the heap's worst key once it is full, else 0 (every key of a value > 0 beats 0)."""
    base = slot * k
    n = cnt[slot]
    if n < k:  # sift up
        pos = n
        while pos > 0:
            parent = (pos - 1) // 2
            if keys[base + parent] <= key:
                break
            keys[base + pos] = keys[base + parent]
            pos = parent
        keys[base + pos] = key
        cnt[slot] = n + 1
        return keys[base] if n + 1 == k else np.int64(0)
    if key <= keys[base]:
        return keys[base]
    pos = 0  # replace the root and sift down
    while True:
        child = 2 * pos + 1
        if child >= k:
            break
        if child + 1 < k and keys[base + child + 1] < keys[base + child]:
            child += 1
        if keys[base + child] >= key:
            break
        keys[base + pos] = keys[base + child]
        pos = child
    keys[base + pos] = key
    return keys[base]


@njit(nogil=True, cache=True)
def scan_rows(l_indptr, l_indices, l_data, rt_indptr, rt_indices, rt_data, n_right, start, stop,  # type: ignore[no-untyped-def]
              k_row, k_col, row_keys, row_cnt, col_keys, col_cnt):
    """Rows ``start``..``stop`` of left × right: each row's best ``k_row`` into row heaps (indexed
    by row - start) and, when ``k_col`` > 0, each column's best ``k_col`` so far into column heaps.

    A heap is only touched when a value beats its worst entry, whose value bits are kept apart
    (``col_floor``: one int32 per column, in cache, where the heaps are not). Within a call rows
    and columns come in increasing order, so an equal value, having the higher index, rightly loses:
    comparing the value bits alone is exact."""
    acc = np.zeros(n_right, dtype=np.float32)
    bits = acc.view(np.int32)
    col_floor = np.zeros(n_right, dtype=np.int32)
    for c in range(n_right):
        if k_col > 0 and col_cnt[c] >= k_col:
            col_floor[c] = np.int32(col_keys[c * k_col] >> 32)
    for r in range(start, stop):
        for p in range(l_indptr[r], l_indptr[r + 1]):
            f = l_indices[p]
            w = l_data[p]
            for q in range(rt_indptr[f], rt_indptr[f + 1]):
                acc[rt_indices[q]] += w * rt_data[q]
        slot = r - start
        floor = np.int32(0)
        for j in range(n_right):
            b = bits[j]
            if b > floor:
                floor = np.int32(_offer(row_keys, row_cnt, slot, k_row, _key(b, j)) >> 32)
            if k_col > 0 and b > col_floor[j]:
                col_floor[j] = np.int32(_offer(col_keys, col_cnt, j, k_col, _key(b, r)) >> 32)
            acc[j] = 0


@njit(nogil=True, cache=True)
def merge_columns(a_keys, a_cnt, b_keys, b_cnt, k):  # type: ignore[no-untyped-def]
    """Fold the column heaps of b into those of a (the threads' parts of the rows)."""
    for c in range(len(a_cnt)):
        base = c * k
        for t in range(b_cnt[c]):
            _offer(a_keys, a_cnt, c, k, b_keys[base + t])


@njit(nogil=True, cache=True)
def drain(keys, cnt, k, offset):  # type: ignore[no-untyped-def]
    """Every heap's entries best first, as flat (slot + offset, index, value) arrays grouped by slot."""
    total = 0
    for s in range(len(cnt)):
        total += cnt[s]
    out_slot = np.empty(total, dtype=np.int64)
    out_idx = np.empty(total, dtype=np.int64)
    out_bits = np.empty(total, dtype=np.int32)
    at = 0
    for s in range(len(cnt)):
        n = cnt[s]
        part = np.sort(keys[s * k:s * k + n])  # worst first
        for t in range(n):
            key = part[n - 1 - t]
            out_slot[at + t] = s + offset
            out_idx[at + t] = _LOW - (key & _LOW)
            out_bits[at + t] = np.int32(key >> 32)
        at += n
    return out_slot, out_idx, out_bits.view(np.float32)


@njit(nogil=True, cache=True)
def pair_dots(a_indptr, a_indices, a_data, b_indptr, b_indices, b_data, ai, bi):  # type: ignore[no-untyped-def]
    """The products of given pairs of rows (a[ai[j]] . b[bi[j]]) of two CSR matrices with sorted
    indices: a merge of the two rows' features, without gathering the rows."""
    out = np.zeros(len(ai), dtype=np.float32)
    for j in range(len(ai)):
        p, p_end = a_indptr[ai[j]], a_indptr[ai[j] + 1]
        q, q_end = b_indptr[bi[j]], b_indptr[bi[j] + 1]
        s = np.float32(0.0)
        while p < p_end and q < q_end:
            fa, fb = a_indices[p], b_indices[q]
            if fa == fb:
                s += a_data[p] * b_data[q]
                p += 1
                q += 1
            elif fa < fb:
                p += 1
            else:
                q += 1
        out[j] = s
    return out


@njit(nogil=True, cache=True)
def dense_pair_dots(left, right, li, ri):  # type: ignore[no-untyped-def]
    """``left[li[j]] . right[ri[j]]`` of two dense float32 matrices, without gathering their rows."""
    out = np.empty(len(li), dtype=np.float32)
    dim = left.shape[1]
    for j in range(len(li)):
        a, b = li[j], ri[j]
        s = np.float32(0.0)
        for t in range(dim):
            s += left[a, t] * right[b, t]
        out[j] = s
    return out
