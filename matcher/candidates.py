"""Sparse top-k: the exact best pairs by the linear part of the score.

Text, category, scale bound and region all ride in one sparse product: each side's rows are
[word TF-IDF | char TF-IDF | organization signature (actions and funds bin) | county columns],
weighted on the demand side, so ``D @ O.T`` is the linear score of every pair without a loop
(``matcher.engine.Signatures``).

``top_pairs_both`` keeps the best pairs of every row and of every column from one pass over the
product (a compiled kernel, ``matcher._topk``): at Jilin scale nearly every pair is non-zero, so
two row-wise top-k products (one per direction) cost twice the multiply-adds.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from matcher.vectorize import enable_compiled

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def _empty() -> Pairs:
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, np.zeros(0, dtype=np.float32)


def _csr(m: sp.spmatrix) -> sp.csr_matrix:
    m = m.tocsr()
    return m if m.dtype == np.float32 else m.astype(np.float32)


def _parts(left: sp.csr_matrix, right_t: sp.csr_matrix, threads: int) -> list[tuple[int, int]]:
    """Contiguous row ranges of about equal work (multiply-adds plus the scan of each row)."""
    n = left.shape[0]
    threads = max(1, min(threads, n))
    if threads == 1:
        return [(0, n)]
    per_row = np.zeros(n)
    lengths = np.diff(right_t.indptr)[left.indices].astype(np.float64)
    filled = np.diff(left.indptr) > 0
    per_row[filled] = np.add.reduceat(lengths, left.indptr[:-1][filled])
    work = np.cumsum(per_row + right_t.shape[1])
    cuts = [0, *np.searchsorted(work, work[-1] * np.arange(1, threads) / threads).tolist(), n]
    return [(a, b) for a, b in pairwise(cuts) if b > a]


SMALL = 1 << 20  # up to this many pairs, one dense scipy product (no compiled kernel needed)


def prepare_bulk() -> None:
    """Set up a process about to match in bulk (`duijie rematch`, the web's re-match process, the
    benchmark), before its clock starts.

    - Import numba and load the compiled kernels (from numba's cache after the first time): about a
      second, once per process. Small products (one new demand against everything) never need them;
      fitting the character TF-IDF uses one from then on (``matcher.vectorize``).
    - Large arrays on ordinary pages. numpy asks the kernel for transparent huge pages, and where
      they are given on request ("madvise", as here) a fresh allocation may wait while the kernel
      compacts memory to find one. A bulk run makes many short-lived arrays of tens of MB: without
      huge pages candidates took ~0.15 s and ranking ~0.07 s less at Jilin scale, and the peak was
      10-20 MB lower (BENCHMARKS.md). ``NUMPY_MADVISE_HUGEPAGE``, numpy's setting, still decides.
      The scheduler's in-process re-matches do not call this: numba would then load in a small
      deployment's web process that never needs it.
    """
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        from numpy._core import multiarray

        multiarray._set_madvise_hugepage(False)  # numpy's runtime switch for its environment setting
    two = sp.csr_matrix(np.ones((2, 1), dtype=np.float32))
    top_pairs_both(two, two, 1, threads=2, force_kernel=True)  # every compiled function, once
    enable_compiled()  # the character TF-IDF's counting too (matcher.vectorize)


def _best_first(values: np.ndarray, k: int) -> Pairs:
    """Each row's ``k`` best positive entries of a dense block, best first, ties to the lower column."""
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(values, order, axis=1)
    keep = best > 0
    rows = np.broadcast_to(np.arange(values.shape[0])[:, None], order.shape)
    return rows[keep].astype(np.int64), order[keep].astype(np.int64), best[keep].astype(np.float32)


def top_pairs_both(
    left: sp.csr_matrix, right: sp.csr_matrix, top_n: int, *, threads: int = 2,
    right_t: sp.csr_matrix | None = None, columns: bool = True, force_kernel: bool = False,
) -> tuple[Pairs, Pairs]:
    """The ``top_n`` best pairs by dot product of every row of ``left`` and, unless ``columns`` is
    False, of every row of ``right``. ``right_t`` is ``right.T`` in CSR form when the caller keeps it.

    Returns (left index, right index, value) grouped by left row and (right index, left index, value)
    grouped by right row, each group best first; only values > 0 count. Ties go to the lower index.
    """
    if left.shape[0] == 0 or right.shape[0] == 0:
        return _empty(), _empty()
    left = _csr(left)
    rt = _csr(right.T if right_t is None else right_t)
    n_left, n_right = left.shape[0], rt.shape[1]
    k_row, k_col = min(top_n, n_right), (min(top_n, n_left) if columns else 0)
    if n_left * n_right <= SMALL and not force_kernel:
        # The same sums in the same order (each left row's features in turn), so the same values.
        dense = (left @ rt).toarray()
        return _best_first(dense, k_row), (_best_first(dense.T, k_col) if columns else _empty())
    from matcher import _topk  # numba loads on first use (prepare_bulk)

    parts = _parts(left, rt, threads)
    row_keys = [np.zeros((b - a) * k_row, dtype=np.int64) for a, b in parts]
    row_cnt = [np.zeros(b - a, dtype=np.int64) for a, b in parts]
    col_keys = [np.zeros(n_right * k_col, dtype=np.int64) for _ in parts]
    col_cnt = [np.zeros(n_right, dtype=np.int64) for _ in parts]

    def scan(t: int) -> None:
        a, b = parts[t]
        _topk.scan_rows(left.indptr, left.indices, left.data, rt.indptr, rt.indices, rt.data, n_right, a, b,
                        k_row, k_col, row_keys[t], row_cnt[t], col_keys[t], col_cnt[t])

    if len(parts) == 1:
        scan(0)
    else:  # the kernel releases the GIL
        with ThreadPoolExecutor(len(parts)) as pool:
            list(pool.map(scan, range(len(parts))))
    drained = [_topk.drain(row_keys[t], row_cnt[t], k_row, parts[t][0]) for t in range(len(parts))]
    rows: Pairs = tuple(np.concatenate([d[i] for d in drained]) for i in range(3))  # type: ignore[assignment]
    if not columns:
        return rows, _empty()
    for t in range(1, len(parts)):
        _topk.merge_columns(col_keys[0], col_cnt[0], col_keys[t], col_cnt[t], k_col)
    return rows, _topk.drain(col_keys[0], col_cnt[0], k_col, 0)


def top_pairs(
    left: sp.csr_matrix, right: sp.csr_matrix, top_n: int, *, threads: int = 2,
    right_t: sp.csr_matrix | None = None,
) -> Pairs:
    """For every row of ``left``, the ``top_n`` rows of ``right`` with the largest dot product,
    as (left index, right index, value) grouped by left row, best first."""
    return top_pairs_both(left, right, top_n, threads=threads, right_t=right_t, columns=False)[0]


def top_pairs_reference(
    left: sp.csr_matrix, right: sp.csr_matrix, top_n: int, *, chunk: int = 2048
) -> Pairs:
    """The same answer from plain scipy products in chunks (slower; used to check the fast path)."""
    rows, cols, vals = [], [], []
    top_n = min(top_n, right.shape[0])
    right_t = right.T.tocsc()
    for start in range(0, left.shape[0], chunk):
        block = (left[start:start + chunk] @ right_t).toarray()
        idx = np.argpartition(-block, top_n - 1, axis=1)[:, :top_n]
        part = np.take_along_axis(block, idx, axis=1)
        order = np.argsort(-part, axis=1, kind="stable")
        idx = np.take_along_axis(idx, order, axis=1)
        part = np.take_along_axis(part, order, axis=1)
        keep = part > 0
        r = np.repeat(np.arange(start, start + block.shape[0]), top_n).reshape(block.shape[0], top_n)
        rows.append(r[keep])
        cols.append(idx[keep])
        vals.append(part[keep])
    if not rows:
        return _empty()
    return (np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64),
            np.concatenate(vals).astype(np.float32))


def pair_products(left: sp.csr_matrix, right: sp.csr_matrix, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """``left[li[j]] . right[ri[j]]`` for every j: the linear score of pairs found some other way
    (the nearest texts in meaning), without gathering their rows."""
    from matcher import _topk

    if len(li) == 0:
        return np.zeros(0, dtype=np.float32)
    for m in (left, right):
        if not m.has_sorted_indices:
            m.sort_indices()
    return _topk.pair_dots(left.indptr, left.indices, left.data, right.indptr, right.indices, right.data,
                           li.astype(np.int64), ri.astype(np.int64))
