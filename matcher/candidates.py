"""Candidates: each demand's and each organization's best pairs by the final score.

Text fit is the one part of a pair's score that needs a product over the texts: both sides' rows
are [word TF-IDF | char TF-IDF], weighted on the demand side, so ``D @ O.T`` holds
``w_text_word x word fit + w_text_char x character fit`` of every pair. The rest of the score
(category and kind fit, reach, scale, the history factor) comes from small per-side tables
(``PairTables``). A compiled kernel (``matcher._topk.scan_scored``) scores the pairs of each row
as ``matcher.scoring.final_score`` does, without meaning (``matcher.semantic`` adds that), and keeps
the best of every row and of every column in one pass. Its cost is that of one product whatever
the data: however many organizations tie, nothing is widened or scored twice. Small inputs take a
dense product and the same formula in numpy, which is also the reference the kernel is tested on.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from matcher.config import MatchConfig
from matcher.scoring import final_score
from matcher.signals import scale_fit
from matcher.vectorize import enable_compiled

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # row, column, score, text product


def _empty() -> Pairs:
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32)


def _csr(m: sp.spmatrix) -> sp.csr_matrix:
    m = m.tocsr()
    return m if m.dtype == np.float32 else m.astype(np.float32)


def _distinct(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a narrow matrix, and each row's position among them."""
    if len(rows) == 0:
        return np.zeros((1, rows.shape[1]), dtype=np.float32), np.zeros(0, dtype=np.int64)
    sets, inverse = np.unique(rows, axis=0, return_inverse=True)
    return np.ascontiguousarray(sets, dtype=np.float32), inverse.ravel().astype(np.int64)


@dataclass(frozen=True)
class OrganizationTables:
    """The organizations' side of ``PairTables``: prepared once per set of organizations (an
    ``OrganizationIndex`` keeps it for the incremental job's many small matches)."""

    sets: np.ndarray  # (sets, actions): the organizations' distinct declared actions
    o_set: np.ndarray  # (organizations,): each one's set
    kind_sets: np.ndarray  # (kind sets, actions): the distinct actions their kinds point to
    o_kind_set: np.ndarray  # (organizations,)
    funds: np.ndarray  # (organizations,): what each can spend (万元), NaN when not given
    reach_t: np.ndarray  # (counties, organizations): reach weight

    @classmethod
    def of(cls, *, o_cat: np.ndarray, o_kind: np.ndarray, funds: np.ndarray,
           reach_weight: np.ndarray) -> OrganizationTables:
        sets, o_set = _distinct(o_cat)
        kind_sets, o_kind_set = _distinct(o_kind)
        return cls(sets, o_set, kind_sets, o_kind_set, funds.astype(np.float64),
                   np.ascontiguousarray(reach_weight.T, dtype=np.float32))


@dataclass(frozen=True)
class PairTables:
    """What a pair's score takes besides its texts' fit, per side.

    Organizations declare few distinct sets of actions (and their kinds point to few), so category
    and kind fit are looked up per set: a row's fit with each set is a handful of products.
    """

    d_cat: np.ndarray  # (demands, actions): the demand's category vector
    county: np.ndarray  # (demands,): its county's column in ``reach_t``
    needed: np.ndarray  # (demands,): funds needed (万元), NaN when not given
    orgs: OrganizationTables
    factor: np.ndarray  # (organizations,): the history factor (staff decisions, ratings)

    @classmethod
    def of(cls, *, d_cat: np.ndarray, county: np.ndarray, needed: np.ndarray, factor: np.ndarray,
           orgs: OrganizationTables | None = None, o_cat: np.ndarray | None = None,
           o_kind: np.ndarray | None = None, funds: np.ndarray | None = None,
           reach_weight: np.ndarray | None = None) -> PairTables:
        """From the organizations' tables, or from their arrays (``o_cat`` ... ``reach_weight``)."""
        if orgs is None:
            assert o_cat is not None and o_kind is not None and funds is not None and reach_weight is not None
            orgs = OrganizationTables.of(o_cat=o_cat, o_kind=o_kind, funds=funds, reach_weight=reach_weight)
        return cls(np.ascontiguousarray(d_cat, dtype=np.float32), county.astype(np.int64),
                   needed.astype(np.float64), orgs, factor.astype(np.float32))

    def demands(self, rows: np.ndarray) -> PairTables:
        """The same for these demands only."""
        return replace(self, d_cat=self.d_cat[rows], county=self.county[rows], needed=self.needed[rows])

    def params(self, cfg: MatchConfig) -> np.ndarray:
        """The config's weights in the order of ``matcher._topk``'s constants."""
        floor = -1.0 if cfg.evidence_floor is None else cfg.evidence_floor
        kind_evidence = -1.0 if cfg.evidence_floor is None else cfg.kind_evidence
        return np.array([cfg.w_text_word + cfg.w_text_char, cfg.w_category, cfg.w_reach, cfg.w_scale,
                         cfg.text_gate, cfg.kind_gate, kind_evidence, floor, cfg.out_of_reach_factor,
                         float(self.factor.max()) if len(self.factor) else 1.0], dtype=np.float64)

    def text(self, linear: np.ndarray, cfg: MatchConfig) -> np.ndarray:
        """Text fit in [0, 1] from the weighted product."""
        return np.clip(linear / np.float32(cfg.w_text_word + cfg.w_text_char), 0.0, 1.0)

    def scores(self, linear: np.ndarray, d_rows: np.ndarray, cfg: MatchConfig, semantic: np.ndarray | float = 0.0,
               o_cols: np.ndarray | None = None) -> np.ndarray:
        """Every pair of these demands with these organizations (all by default), scored as a dense
        block (``linear`` their text product): the reference the kernel is held to, and the path
        of small inputs."""
        t = self.orgs
        o = np.arange(len(t.o_set)) if o_cols is None else o_cols
        cat = (self.d_cat[d_rows] @ t.sets.T)[:, t.o_set[o]]
        kind = (self.d_cat[d_rows] @ t.kind_sets.T)[:, t.o_kind_set[o]]
        reach = t.reach_t[self.county[d_rows]][:, o]
        scale = scale_fit(t.funds[o][None, :], self.needed[d_rows][:, None])
        return final_score(self.text(linear, cfg), cat, reach, scale, cfg, semantic, kind, self.factor[o][None, :])


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
    tables = PairTables.of(d_cat=np.ones((2, 6)), county=np.zeros(2, dtype=np.int64), needed=np.full(2, np.nan),
                           o_cat=np.ones((2, 6)), o_kind=np.zeros((2, 6)), funds=np.full(2, np.nan),
                           factor=np.ones(2), reach_weight=np.ones((2, 1)))
    best_pairs(two, two, tables, MatchConfig(), 1, threads=2, force_kernel=True)  # every compiled function, once
    pair_products(two, two, np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64))
    enable_compiled()  # the character TF-IDF's counting too (matcher.vectorize)


def _best_first(values: np.ndarray, text: np.ndarray, k: int) -> Pairs:
    """Each row's ``k`` best positive entries of a dense block, best first, ties to the lower column."""
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(values, order, axis=1)
    keep = best > 0
    rows = np.broadcast_to(np.arange(values.shape[0])[:, None], order.shape)
    return (rows[keep].astype(np.int64), order[keep].astype(np.int64), best[keep].astype(np.float32),
            np.take_along_axis(text, order, axis=1)[keep].astype(np.float32))


def best_pairs(
    left: sp.csr_matrix, right: sp.csr_matrix, tables: PairTables, cfg: MatchConfig, top_n: int, *,
    threads: int = 2, right_t: sp.csr_matrix | None = None, columns: bool = True, force_kernel: bool = False,
) -> tuple[Pairs, Pairs]:
    """The ``top_n`` best pairs by final score (without meaning) of every demand (rows of ``left``,
    text weighted) and, unless ``columns`` is False, of every organization (rows of ``right``).
    ``right_t`` is ``right.T`` in CSR form when the caller keeps it.

    Returns (demand, organization, score, text product) grouped by demand and (organization, demand,
    score, text product) grouped by organization, each group best first; only scores > 0 count. Ties
    go to the lower index.
    """
    if left.shape[0] == 0 or right.shape[0] == 0:
        return _empty(), _empty()
    left = _csr(left)
    rt = _csr(right.T if right_t is None else right_t)
    n_left, n_right = left.shape[0], rt.shape[1]
    k_row, k_col = min(top_n, n_right), (min(top_n, n_left) if columns else 0)
    if n_left * n_right <= SMALL and not force_kernel:
        text = (left @ rt).toarray()
        dense = tables.scores(text, np.arange(n_left), cfg)
        return _best_first(dense, text, k_row), (_best_first(dense.T, text.T, k_col) if columns else _empty())
    from matcher import _topk  # numba loads on first use (prepare_bulk)

    params = tables.params(cfg)
    t_o = tables.orgs
    cat_tab = np.ascontiguousarray(tables.d_cat @ t_o.sets.T, dtype=np.float32)
    kind_tab = np.ascontiguousarray(tables.d_cat @ t_o.kind_sets.T, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):  # a need of 0 or less is never divided by
        log_need = np.log10(tables.needed)
        log_funds = np.log10(np.maximum(t_o.funds, 1e-6))
    parts = _parts(left, rt, threads)
    row_keys = [np.zeros((b - a) * k_row, dtype=np.int64) for a, b in parts]
    row_text = [np.zeros((b - a) * k_row, dtype=np.float32) for a, b in parts]
    row_cnt = [np.zeros(b - a, dtype=np.int64) for a, b in parts]
    col_keys = [np.zeros(n_right * k_col, dtype=np.int64) for _ in parts]
    col_text = [np.zeros(n_right * k_col, dtype=np.float32) for _ in parts]
    col_cnt = [np.zeros(n_right, dtype=np.int64) for _ in parts]

    def scan(t: int) -> None:
        a, b = parts[t]
        _topk.scan_scored(left.indptr, left.indices, left.data, rt.indptr, rt.indices, rt.data, n_right, a, b,
                          k_row, k_col, row_keys[t], row_text[t], row_cnt[t], col_keys[t], col_text[t], col_cnt[t],
                          cat_tab, kind_tab,
                          tables.county, tables.needed, log_need, t_o.o_set, t_o.o_kind_set, log_funds,
                          tables.factor, t_o.reach_t, params)

    if len(parts) == 1:
        scan(0)
    else:  # the kernel releases the GIL
        with ThreadPoolExecutor(len(parts)) as pool:
            list(pool.map(scan, range(len(parts))))
    drained = [_topk.drain(row_keys[t], row_text[t], row_cnt[t], k_row, parts[t][0]) for t in range(len(parts))]
    rows: Pairs = tuple(np.concatenate([d[i] for d in drained]) for i in range(4))  # type: ignore[assignment]
    if not columns:
        return rows, _empty()
    for t in range(1, len(parts)):
        _topk.merge_columns(col_keys[0], col_text[0], col_cnt[0], col_keys[t], col_text[t], col_cnt[t], k_col)
    return rows, _topk.drain(col_keys[0], col_text[0], col_cnt[0], k_col, 0)


def pair_products(left: sp.csr_matrix, right: sp.csr_matrix, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """``left[li[j]] . right[ri[j]]`` for every j: the text product of pairs found some other way
    (the nearest texts in meaning), without gathering their rows."""
    from matcher import _topk

    if len(li) == 0:
        return np.zeros(0, dtype=np.float32)
    for m in (left, right):
        if not m.has_sorted_indices:
            m.sort_indices()
    return _topk.pair_dots(left.indptr, left.indices, left.data, right.indptr, right.indices, right.data,
                           li.astype(np.int64), ri.astype(np.int64))
