"""The candidates' compiled kernel against the same score computed densely in numpy: the same pairs,
the same scores, ties to the lower index, and the same answer however the rows are split among
threads."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matcher.candidates import PairTables, best_pairs
from matcher.categories import ACTIONS
from matcher.config import MatchConfig

CFG = MatchConfig()
COUNTIES = 7


def _random(rows: int, cols: int, seed: int, density: float = 0.02) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.random(rows, cols, density=density, format="csr", random_state=rng, dtype=np.float32)


def _tables(n_dem: int, n_org: int, seed: int) -> PairTables:
    """Random sides: category mixes, counties, needs and funds with blanks, declared actions and kinds,
    histories, and organizations that cannot reach some counties."""
    rng = np.random.default_rng(seed)
    d_cat = rng.dirichlet(np.ones(len(ACTIONS)), n_dem).astype(np.float32)
    needed = np.where(rng.random(n_dem) < 0.3, np.nan, rng.choice([0.0, 2.0, 50.0], n_dem))
    funds = np.where(rng.random(n_org) < 0.3, np.nan, rng.choice([0.5, 20.0, 500.0], n_org))
    reach = np.where(rng.random((n_org, COUNTIES)) < 0.4, 0.0, rng.choice([0.5, 0.8, 1.0], (n_org, COUNTIES)))
    return PairTables.of(d_cat=d_cat, county=rng.integers(0, COUNTIES, n_dem), needed=needed,
                         o_cat=(rng.random((n_org, len(ACTIONS))) < 0.3).astype(np.float32),
                         o_kind=(rng.random((n_org, len(ACTIONS))) < 0.1).astype(np.float32), funds=funds,
                         factor=rng.choice([0.9, 1.0, 1.05], n_org).astype(np.float32), reach_weight=reach)


def _weighted(m: sp.csr_matrix) -> sp.csr_matrix:
    """A demand side's text rows, weighted as the engine weighs them (fits up to the text weights)."""
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
    norms[norms == 0] = 1
    return sp.csr_matrix(sp.diags((CFG.w_text_word + CFG.w_text_char) / norms) @ m)


def _unit(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
    norms[norms == 0] = 1
    return sp.csr_matrix(sp.diags(1 / norms) @ m, dtype=np.float32)


def _grouped_best_first(pairs: tuple[np.ndarray, ...]) -> bool:
    rows, _, vals, _ = pairs
    same_row = rows[1:] == rows[:-1]
    return bool(np.all(np.diff(rows) >= 0) and np.all(vals[1:][same_row] <= vals[:-1][same_row]))


def _check_against_reference(found: tuple[np.ndarray, ...], dense: np.ndarray, text: np.ndarray, k: int) -> None:
    """Each row's pairs score what the dense reference scores them, carry their text product, and
    every pair the reference puts clearly above the row's k-th best is there (near-ties may round
    either way in float32)."""
    rows, cols, vals, texts = found
    np.testing.assert_allclose(vals, dense[rows, cols], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(texts, text[rows, cols], rtol=1e-5, atol=1e-7)
    assert _grouped_best_first(found)
    for r in range(dense.shape[0]):
        mine = set(cols[rows == r].tolist())
        ranked = np.sort(dense[r][dense[r] > 0])[::-1]
        if len(ranked) <= k:
            assert mine == set(np.flatnonzero(dense[r] > 0).tolist())
            continue
        assert len(mine) == k
        kth = ranked[k - 1]
        assert set(np.flatnonzero(dense[r] > kth + 1e-5).tolist()) <= mine


@pytest.fixture(params=[True, False], ids=["kernel", "small"])
def kernel(request: pytest.FixtureRequest) -> bool:
    """Both paths: the compiled kernel, and one dense numpy block for small inputs."""
    return bool(request.param)


@pytest.mark.parametrize("seed", [3, 4])
def test_rows_and_columns_are_the_best_by_the_final_score(kernel: bool, seed: int) -> None:
    left, right = _weighted(_random(300, 500, seed, density=0.03)), _unit(_random(200, 500, seed + 10, density=0.03))
    tables = _tables(300, 200, seed)
    rows, cols = best_pairs(left, right, tables, CFG, 10, force_kernel=kernel)
    text = (left @ right.T).toarray()
    dense = tables.scores(text, np.arange(300), CFG)
    assert (dense > 0).sum() > 3000 and (dense == 0).sum() > 3000  # pairs of both kinds
    _check_against_reference(rows, dense, text, 10)
    _check_against_reference(cols, dense.T, text.T, 10)


def test_a_pair_without_evidence_is_no_candidate_whatever_it_declared(kernel: bool) -> None:
    # Organization 1 shares no word with demand 0 and its kind points elsewhere: no score, though it
    # declared the demand's action and works in its county. Organization 2's kind points to the action.
    left = _weighted(sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32)))
    right = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
    onehot = np.eye(len(ACTIONS), dtype=np.float32)[[0]]
    tables = PairTables.of(d_cat=onehot, county=np.zeros(1, dtype=np.int64), needed=np.full(1, np.nan),
                           o_cat=np.repeat(onehot, 3, axis=0), o_kind=np.array([onehot[0] * 0, onehot[0] * 0, onehot[0]]),
                           funds=np.full(3, np.nan), factor=np.ones(3, dtype=np.float32),
                           reach_weight=np.ones((3, 1)))
    rows, cols = best_pairs(left, right, tables, CFG, 5, force_kernel=kernel)
    assert rows[1].tolist() == [0, 2]
    assert rows[2][0] > rows[2][1] > 0
    assert cols[0].tolist() == [0, 2]


def test_ties_go_to_the_lower_index_whatever_the_threads(kernel: bool) -> None:
    # Every pair scores the same: each row keeps the lowest columns, each column the lowest rows.
    left = _weighted(sp.csr_matrix(np.ones((40, 1), dtype=np.float32)))
    right = sp.csr_matrix(np.ones((30, 1), dtype=np.float32))
    onehot = np.eye(len(ACTIONS), dtype=np.float32)[[0]]
    tables = PairTables.of(d_cat=np.repeat(onehot, 40, axis=0), county=np.zeros(40, dtype=np.int64),
                           needed=np.full(40, np.nan), o_cat=np.repeat(onehot, 30, axis=0),
                           o_kind=np.zeros((30, len(ACTIONS))), funds=np.full(30, np.nan),
                           factor=np.ones(30, dtype=np.float32), reach_weight=np.ones((30, 1)))
    answers = [best_pairs(left, right, tables, CFG, 4, threads=t, force_kernel=kernel) for t in (1, 2, 3)]
    rows, cols = answers[0]
    assert rows[1].reshape(40, 4).tolist() == [[0, 1, 2, 3]] * 40
    assert cols[1].reshape(30, 4).tolist() == [[0, 1, 2, 3]] * 30
    for other in answers[1:]:
        for mine, theirs in zip(other, answers[0], strict=True):
            assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_threads_split_the_rows_without_changing_the_answer(threads: int) -> None:
    # Few distinct values, so many ties cross the threads' boundaries.
    left, right = _random(257, 60, 5, density=0.1), _random(131, 60, 6, density=0.1)
    left.data[:] = np.round(left.data * 3) + 1
    right.data[:] = np.round(right.data * 3) + 1
    left, right = _weighted(left), _unit(right)
    tables = _tables(257, 131, 5)
    one = best_pairs(left, right, tables, CFG, 7, threads=1, force_kernel=True)
    many = best_pairs(left, right, tables, CFG, 7, threads=threads, force_kernel=True)
    for mine, theirs in zip(many, one, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))


def test_rows_only_for_a_few_demands(kernel: bool) -> None:
    # The engine asks again, wider and for rows only, for the demands the cap left short.
    left, right = _weighted(_random(120, 300, 11, density=0.05)), _unit(_random(90, 300, 12, density=0.05))
    tables = _tables(120, 90, 11)
    some = np.array([3, 50, 119])
    rows, cols = best_pairs(left[some], right, tables.demands(some), CFG, 30, columns=False, force_kernel=kernel)
    assert len(cols[0]) == 0
    everything, _ = best_pairs(left, right, tables, CFG, 30, force_kernel=kernel)
    for i, r in enumerate(some):
        np.testing.assert_allclose(rows[2][rows[0] == i], everything[2][everything[0] == r], rtol=1e-6)


def test_more_wanted_than_there_are_and_empty_sides(kernel: bool) -> None:
    left, right = _weighted(_random(5, 20, 7, density=0.5)), _unit(_random(3, 20, 8, density=0.5))
    tables = _tables(5, 3, 7)
    rows, cols = best_pairs(left, right, tables, CFG, 50, force_kernel=kernel)
    dense = tables.scores((left @ right.T).toarray(), np.arange(5), CFG)
    assert len(rows[0]) == int((dense > 0).sum()) == len(cols[0])
    empty = sp.csr_matrix((0, 20), dtype=np.float32)
    for pairs in (*best_pairs(empty, right, tables, CFG, 5, force_kernel=kernel),
                  *best_pairs(left, empty, tables, CFG, 5, force_kernel=kernel)):
        assert all(len(a) == 0 for a in pairs)
