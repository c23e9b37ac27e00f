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
    # Whole arrays with np.where, no masked copies: it runs on millions of pairs.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(funds, 1e-6) / needed
        log_r = np.log10(ratio)
    fit = np.where(ratio >= 1.0, 1.0 - np.minimum(0.3, 0.15 * np.maximum(log_r, 0.0)),
                   np.clip(1.0 + log_r / 2.0, 0.0, 1.0))
    fit = np.where(needed > 0, fit, 1.0)  # nothing needed: any organization fits
    return np.where(np.isnan(funds) | np.isnan(needed), 0.6, fit)


# Bins of what an organization can spend (万元), an eighth of a decade wide from 0.01 to 10,000,
# plus one for "not declared". Within a bin, scale_fit against a given need is at most its value
# at the funds closest to that need, which lets the sparse product carry a tight upper bound of
# the scale term (one column per bin) and keeps the exact shortlist from widening.
FUNDS_EDGES = np.r_[0.0, 10.0 ** np.arange(-2.0, 4.0 + 1e-9, 0.125), np.inf]
N_FUNDS_BINS = len(FUNDS_EDGES)  # len - 1 bins of declared funds, and the last for undeclared
_UPPER_MARGIN = 1e-5  # float32 storage must never round the bound below the exact value


def funds_bins(funds: np.ndarray) -> np.ndarray:
    """The bin of each organization's funds; undeclared (NaN) in the last bin.

    >>> funds_bins(np.array([0.0, 1.0, 5.0, np.nan])).tolist()
    [0, 17, 22, 50]
    """
    funds = np.asarray(funds, dtype=float)
    out = np.searchsorted(FUNDS_EDGES, np.maximum(np.nan_to_num(funds, nan=0.0), 0.0), side="right") - 1
    out[np.isnan(funds)] = N_FUNDS_BINS - 1
    return out.astype(np.int64)


def scale_upper(needed: np.ndarray) -> np.ndarray:
    """``out[d, b]``: the largest scale_fit any organization in funds bin b can have for demand d.

    >>> ub = scale_upper(np.array([5.0, np.nan]))
    >>> bool(ub[0, funds_bins(np.array([5.0]))[0]] >= scale_fit(np.array([5.0]), np.array([5.0]))[0])
    True
    >>> round(float(ub[1, 3]), 4), round(float(ub[0, -1]), 4)
    (0.6, 0.6)
    """
    needed = np.asarray(needed, dtype=float)[:, None]
    lo, hi = FUNDS_EDGES[None, :-1], FUNDS_EDGES[None, 1:]
    closest = np.clip(needed, lo, hi)  # scale_fit rises up to funds = need, then falls
    declared = scale_fit(closest, np.broadcast_to(needed, closest.shape))
    undeclared = np.full((len(needed), 1), 0.6)
    return np.hstack([declared, undeclared]) + _UPPER_MARGIN
