"""The capped ranking: its shortcuts (a limited depth per demand, a faster sort) change speed, not results."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.ranking import capped_top_k, group_order, rank_within


@pytest.mark.parametrize("seed", range(6))
def test_group_order_is_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 50, 5000)
    scores = rng.choice(np.linspace(0.0, 1.2, 40), 5000).astype(np.float32)  # many exact ties
    assert (group_order(groups, scores) == np.lexsort((-scores, groups))).all()


@pytest.mark.parametrize(("seed", "n_o", "cap"), [(0, 200, 15), (1, 200, 30), (2, 60, 12), (3, 200, 10**4)])
def test_a_limited_depth_gives_the_same_lists_as_all_pairs(seed: int, n_o: int, cap: int) -> None:
    rng = np.random.default_rng(seed)
    n_d, per = 300, 50
    demand = np.repeat(np.arange(n_d), per)
    organization = np.concatenate([rng.choice(n_o, per, replace=False) for _ in range(n_d)])
    # A few organizations score high everywhere: the cap pushes demands deep into their lists.
    scores = (rng.random(len(demand)) + 0.8 * (organization < 4)).astype(np.float32)
    perm = rng.permutation(len(demand))
    demand, organization, scores = demand[perm], organization[perm], scores[perm]
    full = capped_top_k(demand, organization, scores, 10, cap, depth=10**6)
    shallow = capped_top_k(demand, organization, scores, 10, cap, depth=10)
    assert sorted(zip(*full, strict=True)) == sorted(zip(*shallow, strict=True))
    chosen = full[0]
    assert np.bincount(organization[chosen]).max() <= cap
    order, rank = rank_within(demand, scores)
    position = np.empty(len(demand), dtype=np.int64)
    position[order] = rank
    if cap < 10**4:  # the cap binds: demands went past their tenth pair, so the depth was tested
        assert position[chosen].max() >= 10
    else:
        assert position[chosen].max() == 9


@pytest.mark.parametrize(("seed", "n_o", "cap"), [(0, 200, 15), (1, 200, 30), (2, 60, 12), (4, 500, 3)])
def test_the_compiled_cap_gives_the_lists_of_the_rounds(seed: int, n_o: int, cap: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import matcher.ranking as ranking

    rng = np.random.default_rng(seed)
    n_d, per = 400, 60
    demand = np.repeat(np.arange(n_d), per)
    organization = np.concatenate([rng.choice(n_o, per, replace=False) for _ in range(n_d)])
    # Popular organizations, and scores on a coarse grid: many exact ties on both sides.
    scores = (np.round(rng.random(len(demand)) * 20) / 20 + 0.8 * (organization < 6) + 0.05).astype(np.float32)
    perm = rng.permutation(len(demand))
    demand, organization, scores = demand[perm], organization[perm], scores[perm]
    rounds = capped_top_k(demand, organization, scores, 10, cap)
    monkeypatch.setattr(ranking, "COMPILED_FROM", 0)
    compiled = capped_top_k(demand, organization, scores, 10, cap)
    assert sorted(zip(*compiled, strict=True)) == sorted(zip(*rounds, strict=True))
    assert np.bincount(organization[compiled[0]]).max() <= cap
