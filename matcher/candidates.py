"""Sparse top-k: the exact best pairs by the linear part of the score.

Text, category, scale bound and region all ride in one sparse product: each side's rows are
[word TF-IDF | char TF-IDF | organization signature (actions and funds bin) | county columns],
weighted on the demand side, so ``D @ O.T`` is the linear score of every pair without a loop
(``matcher.engine.Signatures``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:
    from sparse_dot_topn import sp_matmul_topn
except ImportError:  # pragma: no cover - the dependency is declared; the fallback keeps tests honest
    sp_matmul_topn = None


def top_pairs(
    left: sp.csr_matrix, right: sp.csr_matrix, top_n: int, *, threads: int = 2,
    right_t: sp.csr_matrix | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every row of ``left``, the ``top_n`` rows of ``right`` with the largest dot product.
    ``right_t`` is ``right.T`` in CSR form when the caller keeps it (transposing a large
    matrix costs more than multiplying one row by it).

    Returns (left index, right index, value) arrays, grouped by left row.
    """
    if left.shape[0] == 0 or right.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    top_n = min(top_n, right.shape[0])
    if sp_matmul_topn is not None:
        product = sp_matmul_topn(
            left.tocsr(), right.T.tocsr() if right_t is None else right_t, top_n=top_n, threshold=0.0, sort=True,
            n_threads=threads if threads > 1 else None,
        )
        # sort=True leaves each row's entries best first, so the CSR arrays are already grouped by row.
        rows = np.repeat(np.arange(product.shape[0], dtype=np.int64), np.diff(product.indptr))
        return rows, product.indices.astype(np.int64), product.data.astype(np.float32)
    return top_pairs_reference(left, right, top_n)


def top_pairs_reference(
    left: sp.csr_matrix, right: sp.csr_matrix, top_n: int, *, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    return (np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64),
            np.concatenate(vals).astype(np.float32))
