"""Per-pair features on the shortlist, vectorised over pair arrays."""

from __future__ import annotations

import numpy as np


def scale_fit(funds: np.ndarray, needed: np.ndarray) -> np.ndarray:
    """How well what an organization can spend fits what a demand needs, in [0, 1].

    NaN on either side (not declared) gives a neutral 0.6. Too little money falls
    fast; too much falls slowly ("a one-day visit is not a reason to tie up a
    foundation").

    >>> scale_fit(np.array([50.0, 0.5, 500.0, np.nan]), np.array([30.0, 200.0, 5.0, 10.0])).round(2).tolist()
    [0.97, 0.0, 0.7, 0.6]
    """
    funds = np.asarray(funds, dtype=float)
    needed = np.asarray(needed, dtype=float)
    out = np.full(funds.shape, 0.6)
    known = ~np.isnan(funds) & ~np.isnan(needed)
    no_need = known & (needed <= 0)
    out[no_need] = 1.0
    ratio_ok = known & (needed > 0)
    ratio = np.where(ratio_ok, np.maximum(funds, 1e-6) / np.where(needed > 0, needed, 1.0), 1.0)
    log_r = np.log10(ratio)
    over = 1.0 - np.minimum(0.3, 0.15 * np.maximum(log_r, 0.0))
    under = np.clip(1.0 + log_r / 2.0, 0.0, 1.0)
    out[ratio_ok] = np.where(ratio[ratio_ok] >= 1.0, over[ratio_ok], under[ratio_ok])
    return out
