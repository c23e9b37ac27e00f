"""Reasons for many pairs at once, as columns.

A full run explains ~300,000 pairs at Jilin scale. Their reasons repeat: the same category
situation, place and distance, funds and need recur across thousands of pairs. So every reason text
is built once per distinct input (with :func:`matcher.scoring.explain`'s own parts) and each pair
holds indexes into that table; the shared keywords are found for all pairs of a chunk with one
sparse product. :meth:`RecommendationBatch.recommendations` turns a batch back into the
:class:`~matcher.records.Recommendation` objects that ``explain`` would have given pair by pair
(a test holds them equal).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matcher import reach as reach_kinds
from matcher.records import DemandRecord, OrganizationRecord, Recommendation
from matcher.scoring import (
    MAX_KEYWORDS,
    SEMANTIC_REASON,
    SEMANTIC_REASON_AT,
    category_reason,
    keyword_reason,
    reach_reason,
    scale_reason,
)

# Columns of ``reason_ids``: the keywords' reason (from ``keyword_ids``) comes between reach and semantic.
REASON_SLOTS = ("category", "reach", "semantic", "scale", "feedback", "rating")
SIGNALS = ("text", "category", "reach", "distance_km", "scale", "semantic", "kind")
# In place of the category reason for an organization of a kind far from rural revitalization.
UNRELATED_KIND_REASON = "组织类型与乡村振兴关系不大，其申报的行动不计入类别"


@dataclass(eq=False)
class RecommendationBatch:
    """Recommendations as columns: a chunk of a run, without a Python object per pair.

    ``signals`` holds float columns named as ``Recommendation.signals`` keys, plus "feedback"
    (NaN where the organization has no history, and the key is then absent). Ranks are 0 where the
    pair is not in that side's list. ``reason_ids`` index ``parts`` (-1: no such reason),
    ``keyword_ids`` index ``words`` (-1 after the last keyword); both tables are the run's, shared
    by its batches.
    """

    demand_keys: np.ndarray  # object array of str
    organization_keys: np.ndarray
    score: np.ndarray
    demand_rank: np.ndarray
    organization_rank: np.ndarray
    signals: dict[str, np.ndarray]
    keyword_ids: np.ndarray  # (n, MAX_KEYWORDS)
    reason_ids: np.ndarray  # (n, len(REASON_SLOTS))
    words: Sequence[str]
    parts: Sequence[str]

    def __len__(self) -> int:
        return len(self.score)

    def keywords(self, i: int) -> tuple[str, ...]:
        return tuple(self.words[w] for w in self.keyword_ids[i].tolist() if w >= 0)

    def reasons(self, i: int) -> tuple[str, ...]:
        ids = self.reason_ids[i].tolist()
        out = [self.parts[p] for p in ids[:2] if p >= 0]
        if keywords := self.keywords(i):
            out.append(keyword_reason(keywords))
        out.extend(self.parts[p] for p in ids[2:] if p >= 0)
        return tuple(out)

    def recommendations(self, rows: Iterable[int] | None = None) -> list[Recommendation]:
        """The pairs (or those of ``rows``) as ``Recommendation`` objects."""
        cols = {k: v.tolist() for k, v in self.signals.items()}
        score, d_rank, o_rank = self.score.tolist(), self.demand_rank.tolist(), self.organization_rank.tolist()
        out = []
        for i in range(len(self)) if rows is None else rows:
            signals = {k: cols[k][i] for k in SIGNALS}
            if not np.isnan(cols["feedback"][i]):
                signals["feedback"] = cols["feedback"][i]
            out.append(Recommendation(
                demand_key=self.demand_keys[i], organization_key=self.organization_keys[i], score=score[i],
                signals=signals, reasons=self.reasons(i), demand_rank=d_rank[i] or None,
                organization_rank=o_rank[i] or None, keywords=self.keywords(i)))
        return out


def _texts_of(keys: np.ndarray, made: dict[int, int], make: Callable[[int], int]) -> np.ndarray:
    """``made[key]`` for every key, ``make(key)`` filling it for keys not seen before (once each)."""
    unique, inverse = np.unique(keys, return_inverse=True)
    found = np.array([made[k] if k in made else made.setdefault(k, make(k)) for k in unique.tolist()],
                     dtype=np.int64)
    return found[inverse.ravel()]


class Explainer:
    """Reasons for the pairs of one run, a chunk at a time (tables of texts grow as it goes).

    ``demand_facts(i)`` gives demand i's category (filed, else inferred), whether it was inferred,
    and the action its text is about; ``demands_used`` and ``orgs_used`` are the records that have
    a pair to explain.
    """

    def __init__(self, *, dems: Sequence[DemandRecord], orgs: Sequence[OrganizationRecord],
                 dem_tokens: Sequence[Sequence[str]], org_tokens: Sequence[Sequence[str]],
                 idf: Mapping[str, float], demand_facts: Callable[[int], tuple[str, bool, str]],
                 place: Callable[[str | None, str | None], str],
                 feedback: Mapping[str, tuple[int, int]], ratings: Mapping[str, tuple[float, int]],
                 demands_used: np.ndarray, orgs_used: np.ndarray, unrelated: np.ndarray | None = None) -> None:
        self.unrelated = unrelated if unrelated is not None else np.zeros(len(orgs), dtype=bool)
        self.parts: list[str] = []
        self._part_id: dict[str, int] = {}
        self._categories: dict[int, int] = {}  # key -> part id (-1: no reason), per kind of reason
        self._reaches: dict[int, int] = {}
        word_id: dict[str, int] = {}
        # Demand words rarest first (ties: first in the text), as 1-based ranks; organizations' words
        # as a 0/1 matrix: the product of a pair's rows holds the ranks of their shared words.
        self.d_row = np.full(len(dems), -1, dtype=np.int64)
        self.d_row[demands_used] = np.arange(len(demands_used))
        rows, cols, ranks = [], [], []
        for r, di in enumerate(demands_used.tolist()):
            ordered = sorted(dict.fromkeys(dem_tokens[di]), key=lambda w: -idf.get(w, 0.0))
            cols.extend(word_id.setdefault(w, len(word_id)) for w in ordered)
            rows.extend([r] * len(ordered))
            ranks.extend(range(1, len(ordered) + 1))
        self.words = list(word_id)
        self.d_words = sp.csr_matrix((np.array(ranks, dtype=np.float64), (rows, cols)),
                                     shape=(len(demands_used), len(word_id)))
        self.o_row = np.full(len(orgs), -1, dtype=np.int64)
        self.o_row[orgs_used] = np.arange(len(orgs_used))
        rows, cols = [], []
        for r, oi in enumerate(orgs_used.tolist()):
            shared = {word_id[w] for w in org_tokens[oi] if w in word_id}
            cols.extend(shared)
            rows.extend([r] * len(shared))
        self.o_words = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(orgs_used), len(word_id)))

        # Per record, filled for those with a pair to explain only (one new demand: a few hundred).
        d_used, o_used = demands_used.tolist(), orgs_used.tolist()

        def per(n: int, used: list[int], values: Iterable[object], fill: object = -1, dtype: object = np.int64
                ) -> np.ndarray:
            out = np.full(n, fill, dtype=dtype)  # type: ignore[call-overload]
            out[used] = np.fromiter(values, dtype=dtype, count=len(used))  # type: ignore[arg-type]
            return out

        # Category: the demand's situation (category, guessed or not, what its text is about) by
        # the organization's declared actions.
        states: dict[tuple[str, bool, str], int] = {}
        self.d_state = per(len(dems), d_used, (states.setdefault(demand_facts(i), len(states)) for i in d_used))
        self.states = list(states)
        action_sets: dict[tuple[str, ...], int] = {}
        self.o_actions = per(len(orgs), o_used, (action_sets.setdefault(orgs[i].actions, len(action_sets))
                                                 for i in o_used))
        self.action_sets = list(action_sets)
        # Places (numbered), what each side can spend or needs, the learned-history reasons.
        place_id: dict[str, int] = {}
        self.d_place = per(len(dems), d_used, (place_id.setdefault(place(dems[i].city_code, dems[i].county_code),
                                                                   len(place_id)) for i in d_used))
        self.o_place = per(len(orgs), o_used, (place_id.setdefault(place(orgs[i].city_code, orgs[i].county_code),
                                                                   len(place_id)) for i in o_used))
        self.places = list(place_id)
        self.funds = per(len(orgs), o_used, (np.nan if orgs[i].funds is None else orgs[i].funds for i in o_used),
                         np.nan, np.float64)
        self.needed = per(len(dems), d_used, (np.nan if dems[i].funding_needed is None else dems[i].funding_needed
                                              for i in d_used), np.nan, np.float64)
        self.o_feedback = np.full(len(orgs), -1, dtype=np.int64)
        self.o_rating = np.full(len(orgs), -1, dtype=np.int64)
        for i in o_used:
            key = orgs[i].key
            if key in feedback:
                approved, rejected = feedback[key]
                self.o_feedback[i] = self._part(f"过往对接：通过{approved}次，驳回{rejected}次")
            if key in ratings:
                mean, n = ratings[key]
                self.o_rating[i] = self._part(f"村级评价：{n}个项目平均{mean:.1f}分（满分5分）")

    def _part(self, text: str | None) -> int:
        if text is None:
            return -1
        tid = self._part_id.setdefault(text, len(self._part_id))
        if tid == len(self.parts):
            self.parts.append(text)
        return tid

    def keyword_ids(self, a_d: np.ndarray, a_o: np.ndarray) -> np.ndarray:
        """The (up to) MAX_KEYWORDS shared words of every pair, the demand's rarest first."""
        shared = self.d_words[self.d_row[a_d]].multiply(self.o_words[self.o_row[a_o]]).tocsr()
        out = np.full((len(a_d), MAX_KEYWORDS), -1, dtype=np.int64)
        if shared.nnz == 0:
            return out
        shared.sort_indices()
        row = np.repeat(np.arange(len(a_d)), np.diff(shared.indptr))
        order = np.lexsort((shared.data, row))
        row, word = row[order], shared.indices[order]
        first = np.searchsorted(row, row)  # the position where each row's entries start
        pos = np.arange(len(row)) - first
        keep = pos < MAX_KEYWORDS
        out[row[keep], pos[keep]] = word[keep]
        return out

    def reason_ids(self, a_d: np.ndarray, a_o: np.ndarray, reach_kind: np.ndarray, distance_km: np.ndarray,
                   scale: np.ndarray, semantic: np.ndarray | None = None) -> np.ndarray:
        """Ids in ``parts`` of every pair's category, reach, semantic, scale, feedback and rating reasons."""
        out = np.full((len(a_d), len(REASON_SLOTS)), -1, dtype=np.int64)
        n_sets = len(self.action_sets)

        def category(key: int) -> int:
            d_cat, inferred, text_action = self.states[key // n_sets]
            return self._part(category_reason(d_cat, inferred, text_action, self.action_sets[key % n_sets]))
        out[:, 0] = _texts_of(self.d_state[a_d] * n_sets + self.o_actions[a_o], self._categories, category)
        if (odd := self.unrelated[a_o]).any():
            out[odd, 0] = self._part(UNRELATED_KIND_REASON)

        # Reach: only what the text shows goes into the key (the organization's place and the
        # distance do not show for its home county or declared area, nor its place for its city).
        kind = reach_kind.astype(np.int64)
        km = np.round(distance_km).astype(np.int64)
        o_place = self.o_place[a_o].copy()
        local = (kind == reach_kinds.HOME) | (kind == reach_kinds.DECLARED)
        km[local] = 0
        o_place[local | (kind == reach_kinds.CITY)] = 0
        key = (kind << 56) | (km << 32) | (self.d_place[a_d] << 16) | o_place

        def reach(key: int) -> int:
            k, dist = key >> 56, (key >> 32) & 0xFFFFFF
            return self._part(reach_reason(k, dist, self.places[(key >> 16) & 0xFFFF], self.places[key & 0xFFFF]))
        out[:, 1] = _texts_of(key, self._reaches, reach)

        funds, needed = self.funds[a_o], self.needed[a_d]
        known = ~np.isnan(funds) & ~np.isnan(needed) & (needed > 0)
        if known.any():
            # Each distinct (funds, needed, fits) once, in np.unique(axis=0)'s order, from one int key
            # per pair (its row-wise unique sorted rows as opaque bytes: ~6 times slower).
            f_values, f_code = np.unique(funds[known], return_inverse=True)
            n_values, n_code = np.unique(needed[known], return_inverse=True)
            key = (f_code.ravel() * len(n_values) + n_code.ravel()) * 2 + (scale[known] >= 0.8)
            unique, inverse = np.unique(key, return_inverse=True)
            pair, fits = np.divmod(unique, 2)
            ids = np.array([self._part(scale_reason(f, n, bool(fit))) for f, n, fit in zip(
                f_values[pair // len(n_values)].tolist(), n_values[pair % len(n_values)].tolist(), fits.tolist(),
                strict=True)], dtype=np.int64)
            out[known, 3] = ids[inverse.ravel()]
        if semantic is not None and (close := semantic >= SEMANTIC_REASON_AT).any():
            out[close, 2] = self._part(SEMANTIC_REASON)
        out[:, 4] = self.o_feedback[a_o]
        out[:, 5] = self.o_rating[a_o]
        return out
