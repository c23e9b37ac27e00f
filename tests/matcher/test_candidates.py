"""The compiled top-k kernel against plain scipy products: same pairs, same values, ties to the
lower index, and the same answer however the rows are split among threads."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matcher.candidates import top_pairs, top_pairs_both, top_pairs_reference


def _random(rows: int, cols: int, seed: int, density: float = 0.02) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.random(rows, cols, density=density, format="csr", random_state=rng, dtype=np.float32)


def _as_set(pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int]]:
    return set(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True))


def _grouped_best_first(pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> bool:
    rows, _, vals = pairs
    same_row = rows[1:] == rows[:-1]
    return bool(np.all(np.diff(rows) >= 0) and np.all(vals[1:][same_row] <= vals[:-1][same_row]))


@pytest.fixture(params=[True, False], ids=["kernel", "small"])
def kernel(request: pytest.FixtureRequest) -> bool:
    """Both paths: the compiled kernel, and one dense product for small inputs."""
    return bool(request.param)


def test_rows_and_columns_are_those_of_the_reference(kernel: bool) -> None:
    left, right = _random(300, 500, 3), _random(200, 500, 4)
    rows, cols = top_pairs_both(left, right, 10, force_kernel=kernel)
    for fast, ref in ((rows, top_pairs_reference(left, right, 10)), (cols, top_pairs_reference(right, left, 10))):
        assert _as_set(fast) == _as_set(ref)
        np.testing.assert_allclose(np.sort(fast[2]), np.sort(ref[2]), rtol=1e-5)
        assert _grouped_best_first(fast)
    # The rows-only entry point gives the same rows.
    if not kernel:
        only = top_pairs(left, right, 10)
        assert all(np.array_equal(a, b) for a, b in zip(only, rows, strict=True))


def test_the_kernel_and_the_small_path_give_the_same_arrays() -> None:
    left, right = _random(257, 300, 9, density=0.05), _random(190, 300, 10, density=0.05)
    left.data[::3] = right.data[0]  # some equal products
    kernel = top_pairs_both(left, right, 12, force_kernel=True)
    small = top_pairs_both(left, right, 12)
    for mine, theirs in zip(kernel, small, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))


def test_pairs_with_nothing_in_common_are_not_candidates(kernel: bool) -> None:
    left = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0]], dtype=np.float32))
    right = sp.csr_matrix(np.array([[2, 0, 0], [0, 3, 0], [1, 0, 1]], dtype=np.float32))
    rows, cols = top_pairs_both(left, right, 5, force_kernel=kernel)
    assert _as_set(rows) == {(0, 0), (0, 2)}
    assert rows[2].tolist() == [2.0, 1.0]
    assert _as_set(cols) == {(0, 0), (2, 0)}


def test_ties_go_to_the_lower_index_whatever_the_threads(kernel: bool) -> None:
    # Every pair scores the same: each row keeps the lowest columns, each column the lowest rows.
    left = sp.csr_matrix(np.ones((40, 1), dtype=np.float32))
    right = sp.csr_matrix(np.ones((30, 1), dtype=np.float32))
    answers = [top_pairs_both(left, right, 4, threads=t, force_kernel=kernel) for t in (1, 2, 3)]
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
    one = top_pairs_both(left, right, 7, threads=1, force_kernel=True)
    many = top_pairs_both(left, right, 7, threads=threads, force_kernel=True)
    for mine, theirs in zip(many, one, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
    # And the answer is the reference's up to the order of equal values.
    for fast, ref in ((one[0], top_pairs_reference(left, right, 7)), (one[1], top_pairs_reference(right, left, 7))):
        assert np.array_equal(fast[0], ref[0])
        assert np.array_equal(fast[2], ref[2])


def test_more_wanted_than_there_are_and_empty_sides(kernel: bool) -> None:
    left, right = _random(5, 20, 7, density=0.5), _random(3, 20, 8, density=0.5)
    rows, cols = top_pairs_both(left, right, 50, force_kernel=kernel)
    dense = (left @ right.T).toarray()
    assert len(rows[0]) == int((dense > 0).sum()) == len(cols[0])
    empty = sp.csr_matrix((0, 20), dtype=np.float32)
    for pairs in (*top_pairs_both(empty, right, 5, force_kernel=kernel),
                  *top_pairs_both(left, empty, 5, force_kernel=kernel)):
        assert all(len(a) == 0 for a in pairs)
