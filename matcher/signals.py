"""Per-pair features, vectorised over pair arrays (``matcher._topk`` computes the same one pair at a time)."""

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
    # Whole arrays with np.where, no masked copies: it runs on millions of pairs.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(funds, 1e-6) / needed
        log_r = np.log10(ratio)
    fit = np.where(ratio >= 1.0, 1.0 - np.minimum(0.3, 0.15 * np.maximum(log_r, 0.0)),
                   np.clip(1.0 + log_r / 2.0, 0.0, 1.0))
    fit = np.where(needed > 0, fit, 1.0)  # nothing needed: any organization fits
    return np.where(np.isnan(funds) | np.isnan(needed), 0.6, fit)
