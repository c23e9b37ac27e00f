"""Scale fit: what an organization can spend against what a demand needs."""

from __future__ import annotations

import numpy as np

from matcher.signals import scale_fit


def test_scale_fit_cases_and_shape() -> None:
    nan = np.nan
    funds = np.array([nan, 5.0, 5.0, nan, 10.0, 2.5, 0.5, 0.0, 100.0, 1e6, -3.0])
    needed = np.array([5.0, nan, 0.0, 0.0, 10.0, 5.0, 5.0, 5.0, 10.0, 1.0, 0.0])
    fit = scale_fit(funds, needed)
    assert fit[:4].tolist() == [0.6, 0.6, 1.0, 0.6]  # undeclared: neutral; nothing needed: fits
    assert fit[4] == 1.0  # exactly enough
    assert 0.0 < fit[6] < fit[5] < 1.0 and fit[7] == 0.0  # too little falls fast, to nothing
    assert 0.7 <= fit[9] < fit[8] < 1.0  # too much falls slowly, never below 0.7
    assert fit[10] == 1.0
    grid = scale_fit(np.broadcast_to(funds[None, :], (3, len(funds))), np.broadcast_to(needed[:3, None], (3, len(funds))))
    assert grid.shape == (3, len(funds)) and grid[0, 4] == scale_fit(funds[4:5], needed[:1])[0]
