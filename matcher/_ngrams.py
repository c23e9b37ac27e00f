"""Compiled kernels of ``matcher.vectorize`` (numba): character n-grams counted per document.

An n-gram is an int64 key of its characters' ranks (``matcher.vectorize``); a hash table of open
addressing gives each distinct key an id in order of first appearance, as scikit-learn's
vocabulary does, and each document's ids are counted and sorted, as its rows are.

Imported on first use, like ``matcher._topk`` (``matcher.candidates.prepare_bulk`` loads both).
"""

from __future__ import annotations

import numpy as np

from matcher import _topk  # noqa: F401  # first: it settles numba's cache directory before numba loads

from numba import njit  # isort: skip

_EMPTY = np.int64(-1)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: keys of near ranks spread over the table


@njit(inline="always")
def _slot(key, mask):  # type: ignore[no-untyped-def]
    return np.int64((np.uint64(key) * _MIX) >> np.uint64(20)) & mask


@njit(nogil=True, cache=True)
def ngram_ids(rank, starts, lengths, total, min_n, max_n, base):  # type: ignore[no-untyped-def]
    """Every n-gram of every document (``total`` of them), emitted as scikit-learn's char analyzer
    emits them (per document, the shortest n first, left to right), as the id of its key (ids in
    order of first appearance). Returns (ids, keys by id)."""
    ids = np.empty(total, dtype=np.int32)
    size = 1 << 16
    table_keys = np.full(size, _EMPTY, dtype=np.int64)
    table_ids = np.empty(size, dtype=np.int32)
    keys = np.empty(1024, dtype=np.int64)
    n_keys = 0
    at = 0
    for d in range(len(starts)):
        s, length = starts[d], lengths[d]
        for n in range(min_n, max_n + 1):
            for i in range(length - n + 1):
                key = np.int64(0)
                for j in range(max_n):
                    key *= base
                    if j < n:
                        key += rank[s + i + j]
                mask = size - 1
                h = _slot(key, mask)
                while table_keys[h] != _EMPTY and table_keys[h] != key:
                    h = (h + 1) & mask
                if table_keys[h] == _EMPTY:
                    if n_keys == len(keys):
                        grown = np.empty(2 * len(keys), dtype=np.int64)
                        grown[:n_keys] = keys[:n_keys]
                        keys = grown
                    keys[n_keys] = key
                    table_keys[h] = key
                    table_ids[h] = n_keys
                    n_keys += 1
                    if 2 * n_keys > size:  # half full: double and re-insert
                        size *= 2
                        mask = size - 1
                        table_keys = np.full(size, _EMPTY, dtype=np.int64)
                        table_ids = np.empty(size, dtype=np.int32)
                        for k in range(n_keys):
                            h2 = _slot(keys[k], mask)
                            while table_keys[h2] != _EMPTY:
                                h2 = (h2 + 1) & mask
                            table_keys[h2] = keys[k]
                            table_ids[h2] = k
                    ids[at] = n_keys - 1
                else:
                    ids[at] = table_ids[h]
                at += 1
    return ids, keys[:n_keys].copy()


@njit(nogil=True, cache=True)
def row_counts(ids, row_ptr, n_ids):  # type: ignore[no-untyped-def]
    """Per document (its emitted ids from row_ptr[d] to row_ptr[d + 1]): its distinct ids in
    increasing order and how often each occurs. Returns (indptr, ids, counts)."""
    n_docs = len(row_ptr) - 1
    where = np.full(n_ids, -1, dtype=np.int64)  # an id's place in the current row's output
    out_ids = np.empty(len(ids), dtype=np.int32)
    out_counts = np.empty(len(ids), dtype=np.int32)
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    at = 0
    for d in range(n_docs):
        first = at
        for p in range(row_ptr[d], row_ptr[d + 1]):
            i = ids[p]
            if where[i] >= first:
                out_counts[where[i]] += 1
            else:
                where[i] = at
                out_ids[at] = i
                out_counts[at] = 1
                at += 1
        order = np.argsort(out_ids[first:at])
        row_ids = out_ids[first:at][order]
        row_n = out_counts[first:at][order]
        out_ids[first:at] = row_ids
        out_counts[first:at] = row_n
        indptr[d + 1] = at
    return indptr, out_ids[:at].copy(), out_counts[:at].copy()
