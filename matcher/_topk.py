"""Compiled kernels of ``matcher.candidates`` (numba): the best pairs by the final score, for the
rows (demands) and the columns (organizations) at once.

Each demand's text fits with every organization are summed into a dense accumulator (a scatter
over the organizations' postings of the row's features), then one scan scores the pairs that
could enter a list, keeps the row's best ``k_row`` and offers each score to its column's best
``k_col``. Both directions thus cost one product instead of two. A score must be > 0 to count.
Ties keep the lower index: a row's list prefers the lower column, a column's the lower row,
whichever thread saw it.

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
def _offer(keys, extra, cnt, slot, k, key, x):  # type: ignore[no-untyped-def]
    """Offer ``key`` (with ``x``, carried beside it in ``extra``) to the min-heap ``slot`` (capacity k
    at slot * k, fill count in cnt[slot]); returns the heap's worst key once it is full, else 0
    (every key of a value > 0 beats 0)."""
    base = slot * k
    n = cnt[slot]
    if n < k:  # sift up
        pos = n
        while pos > 0:
            parent = (pos - 1) // 2
            if keys[base + parent] <= key:
                break
            keys[base + pos] = keys[base + parent]
            extra[base + pos] = extra[base + parent]
            pos = parent
        keys[base + pos] = key
        extra[base + pos] = x
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
        extra[base + pos] = extra[base + child]
        pos = child
    keys[base + pos] = key
    extra[base + pos] = x
    return keys[base]


@njit(inline="always")
def _scale_fit(log_funds, log_need, need):  # type: ignore[no-untyped-def]
    """``matcher.signals.scale_fit`` of one pair, from log10 of the funds (at least 1e-6) and of the
    need, worked out once per record."""
    if np.isnan(log_funds) or np.isnan(need):
        return 0.6
    if not need > 0:
        return 1.0
    log_r = log_funds - log_need
    if log_r >= 0.0:
        return 1.0 - min(0.3, 0.15 * log_r)
    return min(max(1.0 + log_r / 2.0, 0.0), 1.0)


@njit(inline="always")
def _bits_to_value(scratch, scratch_bits, key):  # type: ignore[no-untyped-def]
    scratch_bits[0] = np.int32(key >> 32)
    return scratch[0]


# The order of ``params`` (matcher.candidates.PairTables.params)
W_TEXT, W_CAT, W_REACH, W_SCALE, TEXT_GATE, KIND_GATE, KIND_EVIDENCE, FLOOR, OUT_OF_REACH, FACTOR_MAX = range(10)


@njit(nogil=True, cache=True)
def scan_scored(l_indptr, l_indices, l_data, rt_indptr, rt_indices, rt_data, n_right, start, stop,  # type: ignore[no-untyped-def]
                k_row, k_col, row_keys, row_text, row_cnt, col_keys, col_text, col_cnt,
                cat_tab, kind_tab, county, needed, log_need, o_set, o_kset, log_funds, factor, reach_t, params):
    """Rows ``start``..``stop`` of the demands against every organization, by the final score
    (``matcher.scoring.final_score`` without meaning): each row's best ``k_row`` into row heaps
    (indexed by row - start) and, when ``k_col`` > 0, each column's best ``k_col`` so far.

    A row's text fits are summed into a dense accumulator (a scatter over the organizations'
    postings of its words and n-grams); the rest of the score comes from small tables: category
    and kind fit per distinct action set (``cat_tab``, ``kind_tab``: this row's against each set),
    reach per county (``reach_t``), the scale fit and the history factor per organization. A pair is
    only scored when an upper bound of its score (its text fit, the row's best category and kind,
    full reach and scale, the largest factor) beats the worst entry of its row's heap or its
    column's: most pairs stop there after a few multiplications. Within a call rows and columns come
    in increasing order, so an equal score, having the higher index, rightly loses.
    """
    w_text, w_cat, w_reach, w_scale = params[W_TEXT], params[W_CAT], params[W_REACH], params[W_SCALE]
    text_gate, kind_gate, kind_evidence = params[TEXT_GATE], params[KIND_GATE], params[KIND_EVIDENCE]
    floor_text, oor, f_max = params[FLOOR], params[OUT_OF_REACH], params[FACTOR_MAX]
    inv_text = 1.0 / w_text
    inv_gate = 1.0 / text_gate if text_gate > 0 else 1e30
    acc = np.zeros(n_right, dtype=np.float32)
    scratch = np.zeros(1, dtype=np.float32)
    scratch_bits = scratch.view(np.int32)
    col_floor = np.zeros(n_right, dtype=np.float32)  # the worst value of each full column heap
    for c in range(n_right):
        if k_col > 0 and col_cnt[c] >= k_col:
            col_floor[c] = _bits_to_value(scratch, scratch_bits, col_keys[c * k_col])
    if k_col == 0:
        col_floor[:] = np.inf  # no column heaps: only the row's own list counts
    n_sets, n_ksets = cat_tab.shape[1], kind_tab.shape[1]
    for r in range(start, stop):
        for p in range(l_indptr[r], l_indptr[r + 1]):
            f = l_indices[p]
            w = l_data[p]
            for q in range(rt_indptr[f], rt_indptr[f + 1]):
                acc[rt_indices[q]] += w * rt_data[q]
        slot = r - start
        row_floor = np.float32(0.0)
        cat_max = 0.0
        for s in range(n_sets):
            cat_max = max(cat_max, cat_tab[r, s])
        kind_max = 0.0
        for s in range(n_ksets):
            kind_max = max(kind_max, kind_tab[r, s])
        # The bound: (w_text x text + gate x rest_max + w_scale) x f_max, rest_max the row's best
        # category with full reach, a little above so float rounding never cuts a pair it should keep.
        rest_max = (w_cat * cat_max + w_reach) * f_max * 1.0001
        base = w_scale * f_max * 1.0001
        slope = w_text * f_max * 1.0001
        kind_fit_max = kind_gate * kind_max
        kind_open = kind_max >= kind_evidence
        c_r = county[r]
        need = needed[r]
        log_n = log_need[r]
        for j in range(n_right):
            t = acc[j]
            acc[j] = 0
            text = min(max(t * inv_text, 0.0), 1.0)
            if text > floor_text:
                fit = max(text, kind_fit_max)
            else:  # no text evidence: only a kind that points to the demand's action gives a score
                if not kind_open:
                    continue
                kind = kind_tab[r, o_kset[j]]
                if kind < kind_evidence:
                    continue
                fit = max(text, kind_gate * kind)
            if slope * text + min(1.0, fit * inv_gate) * rest_max + base <= min(row_floor, col_floor[j]):
                continue
            kind = kind_tab[r, o_kset[j]]
            gate = min(1.0, max(text, kind_gate * kind) * inv_gate)
            reach = reach_t[c_r, j]
            total = w_text * text + gate * (w_cat * cat_tab[r, o_set[j]] + w_reach * reach) \
                + w_scale * _scale_fit(log_funds[j], log_n, need)
            if not reach > 0:
                total *= oor
            value = np.float32(total * factor[j])
            if not value > 0:
                continue
            scratch[0] = value
            b = scratch_bits[0]
            if value > row_floor:
                row_floor = _bits_to_value(scratch, scratch_bits,
                                           _offer(row_keys, row_text, row_cnt, slot, k_row, _key(b, j), t))
            if k_col > 0 and value > col_floor[j]:
                col_floor[j] = _bits_to_value(scratch, scratch_bits,
                                              _offer(col_keys, col_text, col_cnt, j, k_col, _key(b, r), t))


@njit(nogil=True, cache=True)
def merge_columns(a_keys, a_text, a_cnt, b_keys, b_text, b_cnt, k):  # type: ignore[no-untyped-def]
    """Fold the column heaps of b into those of a (the threads' parts of the rows)."""
    for c in range(len(a_cnt)):
        base = c * k
        for t in range(b_cnt[c]):
            _offer(a_keys, a_text, a_cnt, c, k, b_keys[base + t], b_text[base + t])


@njit(nogil=True, cache=True)
def drain(keys, text, cnt, k, offset):  # type: ignore[no-untyped-def]
    """Every heap's entries best first, as flat (slot + offset, index, value, text product) arrays
    grouped by slot."""
    total = 0
    for s in range(len(cnt)):
        total += cnt[s]
    out_slot = np.empty(total, dtype=np.int64)
    out_idx = np.empty(total, dtype=np.int64)
    out_bits = np.empty(total, dtype=np.int32)
    out_text = np.empty(total, dtype=np.float32)
    at = 0
    for s in range(len(cnt)):
        n = cnt[s]
        part = np.argsort(keys[s * k:s * k + n])  # worst first
        for t in range(n):
            pos = s * k + part[n - 1 - t]
            key = keys[pos]
            out_slot[at + t] = s + offset
            out_idx[at + t] = _LOW - (key & _LOW)
            out_bits[at + t] = np.int32(key >> 32)
            out_text[at + t] = text[pos]
        at += n
    return out_slot, out_idx, out_bits.view(np.float32), out_text


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
