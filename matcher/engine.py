"""The Matcher facade: records in, ranked and explained recommendations out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matcher import reach as reach_mod
from matcher import semantic as sem_mod
from matcher.candidates import OrganizationTables, PairTables, best_pairs, pair_products
from matcher.categories import ACTION_INDEX, ACTIONS, ActionLexicon, Inference, smoothed_probabilities
from matcher.config import MatchConfig
from matcher.explanations import Explainer, RecommendationBatch
from matcher.kinds import KindTable
from matcher.ranking import auto_cap, capped_top_k, top_k
from matcher.records import DemandRecord, OrganizationRecord, Recommendation
from matcher.regions import RegionIndex, haversine_km
from matcher.scoring import final_score
from matcher.semantic import SemanticVectors
from matcher.signals import scale_fit
from matcher.text import Tokenizer, char_text
from matcher.vectorize import fit_transform

Progress = Callable[[str], None]


def _best_of(pairs: np.ndarray, ranks: np.ndarray, total: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``limit`` best-scoring of these pairs, with their ranks."""
    if len(pairs) <= limit:
        return pairs, ranks
    best = np.argpartition(-total[pairs], limit - 1)[:limit]
    return pairs[best], ranks[best]


def _funds(orgs: Sequence[OrganizationRecord]) -> np.ndarray:
    return np.array([np.nan if o.funds is None else o.funds for o in orgs], dtype=np.float64)


SINK_CHUNK = 20_000  # recommendations handed to a sink at a time
_DENSE_BLOCK = 2_000_000  # pairs scored at once when settling rows in full (a few bytes each, several arrays)
_SIGNAL_CHUNK = 262_144  # shortlisted pairs whose signals are computed at once


def _needed(dems: Sequence[DemandRecord]) -> np.ndarray:
    return np.array([np.nan if d.funding_needed is None else d.funding_needed for d in dems], dtype=np.float64)


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def _unique_pairs(d_idx: np.ndarray, o_idx: np.ndarray, n_orgs: int) -> np.ndarray:
    """The position of each pair's first occurrence, in (demand, organization) order. A stable sort
    keeps equal pairs in input order, so each run's first is the first occurrence."""
    key = d_idx.astype(np.int64) * n_orgs + o_idx
    order = np.argsort(key, kind="stable")
    k = key[order]
    return order[np.flatnonzero(np.r_[True, k[1:] != k[:-1]])]


def _contains(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[pos] == ids if len(sorted_ids) else np.zeros(len(ids), dtype=bool)


def _row_threshold(rows: np.ndarray, values: np.ndarray, n_rows: int, width: int) -> np.ndarray:
    """From a ``top_pairs`` answer (grouped by row, best first): each row's width-th best value,
    -inf for a row with fewer (it has no other overlapping pair: every one is known)."""
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    out = np.full(n_rows, -np.inf)
    full = counts >= width
    out[full] = values[starts[full] + width - 1]
    return out


def _uncertain_rows(rows: np.ndarray, total: np.ndarray, bound: np.ndarray, k: int) -> np.ndarray:
    """Rows with fewer than k known pairs scoring at least ``bound``: the most a pair not yet known
    for the row may score. Every row of the candidates' kernel is certain without meaning (its
    n-th best score bounds the rest); meaning can lift a pair the kernel left out, by at most the
    semantic signal of the row's n-th nearest text."""
    reached = np.bincount(rows[total >= bound[rows]], minlength=len(bound))
    return np.flatnonzero(reached < k)


def _centroid_actions(d_word: sp.csr_matrix, declared: np.ndarray) -> np.ndarray | None:
    """For every demand, the action whose filed demands its words are closest to.

    A fallback for texts that name no action: the corpus's own filed demands are
    the evidence, refitted on every run. None when too few demands are filed.
    """
    filed = declared >= 0
    if filed.sum() < 2 * len(ACTIONS):
        return None
    onehot = sp.csr_matrix((np.ones(int(filed.sum()), dtype=np.float32),
                            (declared[filed], np.flatnonzero(filed))), shape=(len(ACTIONS), d_word.shape[0]))
    centroids = onehot @ d_word
    norms = np.sqrt(np.asarray(centroids.multiply(centroids).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    centroids = sp.diags(1.0 / norms) @ centroids
    return np.asarray((d_word @ centroids.T).argmax(axis=1)).ravel()


@dataclass
class MatchStats:
    n_organizations: int = 0
    n_demands: int = 0
    pairs_considered: int = 0
    n_recommendations: int = 0
    org_cap: int = 0
    demands_with_candidates: int = 0
    demands_without_candidates: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.demands_with_candidates / self.n_demands if self.n_demands else 1.0


@dataclass
class MatchResult:
    recommendations: list[Recommendation]
    stats: MatchStats
    inferred: dict[str, Inference]

    def for_demand(self, key: str) -> list[Recommendation]:
        found = [r for r in self.recommendations if r.demand_key == key and r.demand_rank]
        return sorted(found, key=lambda r: r.demand_rank or 0)

    def for_organization(self, key: str) -> list[Recommendation]:
        found = [r for r in self.recommendations
                 if r.organization_key == key and r.organization_rank]
        return sorted(found, key=lambda r: r.organization_rank or 0)


@dataclass
class OrganizationIndex:
    """The organizations' side of a match, prepared once and reused while they do not change,
    so that matching one new demand is a transform and a row product (the incremental job).
    Its vocabulary and IDF come from the organizations alone, where a full match uses both
    sides: the scores of an incremental match differ from a full run's in the third decimal."""

    orgs: list[OrganizationRecord]
    tokens: list[list[str]]
    word_vec: TfidfVectorizer
    char_vec: TfidfVectorizer | None
    o_word: sp.csr_matrix
    o_char: sp.csr_matrix
    o_cat: np.ndarray
    reach: reach_mod.ReachTable
    o_txt: sp.csr_matrix  # [words | characters]
    o_txt_t: sp.csr_matrix
    funds: np.ndarray
    positions: dict[str, int]
    o_kind: np.ndarray  # each one's kinds' actions (matcher.kinds)
    unrelated: np.ndarray  # of a kind far from rural revitalization
    tables: OrganizationTables  # what their pairs' scores take besides text


@dataclass
class _DemandSide:
    d_cat: np.ndarray
    text_action: list[str]
    inferred: dict[str, Inference]
    d_county: np.ndarray
    d_txt: sp.csr_matrix  # [w_text_word x words | w_text_char x characters]


@dataclass
class DemandIndex:
    """The demands' side, prepared once for matching a changed organization against them all
    (the mirror of ``OrganizationIndex``; vocabulary and IDF from the demands alone)."""

    dems: list[DemandRecord]
    tokens: list[list[str]]
    word_vec: TfidfVectorizer
    char_vec: TfidfVectorizer | None
    side: _DemandSide
    needed: np.ndarray


class Matcher:
    """Compose the stages. Construct once (the tokenizer loads a dictionary), match many times.

    >>> from matcher.records import OrganizationRecord, DemandRecord
    >>> m = Matcher()
    >>> orgs = [OrganizationRecord("A", "汪清县仁爱医院", "county", "222400", "222424", ("医护康养",),
    ...                            "义诊 巡诊 老年人体检")]
    >>> demands = [DemandRecord("D1", "222400", "222424", "老人义诊", "为全村空巢老人开展义诊", "医护康养")]
    >>> result = m.match(orgs, demands)
    >>> result.for_demand("D1")[0].reasons[:2]
    ('类别一致：医护康养', '同在延边州汪清县')
    """

    def __init__(
        self,
        config: MatchConfig | None = None,
        *,
        regions: RegionIndex | None = None,
        tokenizer: Tokenizer | None = None,
        lexicon: ActionLexicon | None = None,
        kinds: KindTable | None = None,
    ) -> None:
        self.config = config or MatchConfig()
        self.kinds = kinds or KindTable.from_file()
        self.regions = regions or RegionIndex.default()
        self.lexicon = lexicon or ActionLexicon.from_file()
        self.tokenizer = tokenizer or Tokenizer(extra_words=self.lexicon.words())

    # -- single-record helpers used by importers -------------------------------------

    def infer_action(self, text: str) -> Inference:
        """The action a demand's text points to (for a blank or unknown category)."""
        return self.lexicon.infer(self.tokenizer.tokens(text), text)

    def _word_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=_identity, sublinear_tf=True, dtype=np.float32)

    def _char_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer="char", ngram_range=(self.config.char_ngram_min, self.config.char_ngram_max),
                               sublinear_tf=True, min_df=2, dtype=np.float32)

    def _fit_text(self, tokens: list[list[str]], texts: Sequence[str]
                  ) -> tuple[TfidfVectorizer, sp.csr_matrix, TfidfVectorizer | None, sp.csr_matrix]:
        """Word and character TF-IDF fitted on these texts, in one pass each. No character
        vectorizer when too few documents share an n-gram (min_df)."""
        word_vec = self._word_vectorizer()
        words = word_vec.fit_transform(tokens) if tokens else sp.csr_matrix((0, 0), dtype=np.float32)
        char_vec: TfidfVectorizer | None = self._char_vectorizer()
        try:
            chars = fit_transform(char_vec, [char_text(t) for t in texts])  # type: ignore[arg-type]
        except ValueError:  # too few documents for min_df
            char_vec, chars = None, sp.csr_matrix((len(texts), 0), dtype=np.float32)
        return word_vec, words, char_vec, chars

    def organization_kinds(self, orgs: Sequence[OrganizationRecord]) -> tuple[np.ndarray, np.ndarray]:
        """Each organization's kinds' actions (0/1 rows) and whether it is of an unrelated kind."""
        return self.kinds.vectors([o.name for o in orgs])

    def _org_side(self, orgs: Sequence[OrganizationRecord], o_word: sp.csr_matrix, o_char: sp.csr_matrix
                  ) -> tuple[np.ndarray, reach_mod.ReachTable, sp.csr_matrix, np.ndarray, np.ndarray]:
        """Category vectors, reach table, text matrix [words | characters], kinds' actions and
        whether of an unrelated kind. What an organization of an unrelated kind declared counts for
        nothing."""
        o_cat = np.zeros((len(orgs), len(ACTIONS)), dtype=np.float32)
        o_kind, unrelated = self.organization_kinds(orgs)
        for i, o in enumerate(orgs):
            if unrelated[i]:
                continue
            for a in o.actions:
                if a in ACTION_INDEX:
                    o_cat[i, ACTION_INDEX[a]] = 1.0
        reach = reach_mod.build_reach(orgs, self.regions, self.config)
        o_txt = sp.hstack([o_word, o_char], format="csr", dtype=np.float32)
        return o_cat, reach, o_txt, o_kind, unrelated

    def index_organizations(self, organizations: Sequence[OrganizationRecord]) -> OrganizationIndex:
        """Prepare the active organizations once for many small matches against them."""
        orgs = [o for o in organizations if o.active]
        tokens = self.tokenizer.tokens_many([o.text for o in orgs])
        word_vec, o_word, char_vec, o_char = self._fit_text(tokens, [o.text for o in orgs])
        o_cat, reach, o_txt, o_kind, unrelated = self._org_side(orgs, o_word, o_char)
        funds = _funds(orgs)
        return OrganizationIndex(orgs, tokens, word_vec, char_vec, o_word, o_char, o_cat, reach, o_txt,
                                 o_txt.T.tocsr(), funds, {o.key: i for i, o in enumerate(orgs)}, o_kind,
                                 unrelated, OrganizationTables.of(o_cat=o_cat, o_kind=o_kind, funds=funds,
                                                                  reach_weight=reach.weight))

    def _demand_side(self, dems: Sequence[DemandRecord], dem_tokens: list[list[str]], d_word: sp.csr_matrix,
                     d_char: sp.csr_matrix) -> _DemandSide:
        """Category vectors (declared, else inferred from the text), places and the weighted text
        matrix of the demands."""
        cfg = self.config
        # Every demand's text weighed at once; Inference objects only for those with no category filed.
        scores = self.lexicon.scores_many(dem_tokens, [d.text for d in dems])
        probs = smoothed_probabilities(scores)
        best, evidence = probs.argmax(axis=1), scores.sum(axis=1)
        declared_idx = np.array([ACTION_INDEX.get(d.category or "", -1) for d in dems], dtype=np.int64)
        fallback = _centroid_actions(d_word, declared_idx)
        # A text that names no action takes the nearest action among this corpus's filed demands.
        text_idx = best if fallback is None else np.where(evidence == 0, fallback, best)
        text_action = [ACTIONS[i] for i in text_idx.tolist()]
        undeclared = declared_idx < 0
        d_cat = np.zeros((len(dems), len(ACTIONS)), dtype=np.float32)
        d_cat[np.arange(len(dems)), np.where(undeclared, text_idx, declared_idx)] += cfg.category_declared_share
        d_cat += (1 - cfg.category_declared_share) * probs.astype(np.float32)
        inferred = {dems[i].key: Inference(ACTIONS[text_idx[i]], float(probs[i, best[i]]), tuple(probs[i].tolist()),
                                           0.0 if fallback is not None and evidence[i] == 0 else float(evidence[i]))
                    for i in np.flatnonzero(undeclared).tolist()}
        d_county = np.array([self.regions.county_pos[d.county_code] for d in dems], dtype=np.int64)
        d_txt = sp.hstack([cfg.w_text_word * d_word, cfg.w_text_char * d_char], format="csr", dtype=np.float32)
        return _DemandSide(d_cat, text_action, inferred, d_county, d_txt)

    def index_demands(self, demands: Sequence[DemandRecord], *, today: date | None = None) -> DemandIndex:
        """Prepare the open demands once for matching changed organizations against them."""
        dems = [d for d in demands if d.open and (today is None or d.due_date is None or d.due_date >= today)]
        tokens = self.tokenizer.tokens_many([d.text for d in dems])
        word_vec, d_word, char_vec, d_char = self._fit_text(tokens, [d.text for d in dems])
        side = self._demand_side(dems, tokens, d_word, d_char)
        return DemandIndex(dems, tokens, word_vec, char_vec, side, _needed(dems))

    def _best_in_full(self, side: str, chunk: np.ndarray, n: int, *, d_txt: sp.csr_matrix, o_txt: sp.csr_matrix,
                      o_txt_t: sp.csr_matrix, d_txt_t: sp.csr_matrix | None, tables: PairTables, d_vec: np.ndarray,
                      o_vec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair of the rows in ``chunk`` (demands or organizations) scored as the final score
        scores it, meaning included, densely; the ``n`` best of each row as (demand index,
        organization index, score)."""
        cfg = self.config
        floor = cfg.semantic_floor
        if side == "demand":
            lin = (d_txt[chunk] @ o_txt_t).toarray()
            total = tables.scores(lin, chunk, cfg, sem_mod.signal(d_vec[chunk] @ o_vec.T, floor))
        else:  # scored as a block of the demands against these organizations, then turned
            assert d_txt_t is not None
            lin = (o_txt[chunk] @ d_txt_t).toarray().T
            total = tables.scores(lin, np.arange(d_txt.shape[0]), cfg, sem_mod.signal(d_vec @ o_vec[chunk].T, floor),
                                  o_cols=chunk).T
            lin = lin.T
        n = min(n, total.shape[1])
        best = np.argsort(-total, axis=1, kind="stable")[:, :n]  # ties to the lower index, as the kernel
        row = np.repeat(chunk, n)
        col = best.ravel()
        values = np.take_along_axis(total, best, axis=1).ravel().astype(np.float32)
        return (row, col, values) if side == "demand" else (col, row, values)

    # -- the full match ----------------------------------------------------------------

    def match(
        self,
        organizations: Sequence[OrganizationRecord],
        demands: Sequence[DemandRecord],
        *,
        excluded_pairs: Iterable[tuple[str, str]] = (),
        organization_feedback: Mapping[str, tuple[int, int]] | None = None,
        organization_ratings: Mapping[str, tuple[float, int]] | None = None,
        today: date | None = None,
        progress: Progress | None = None,
        sink: Callable[[RecommendationBatch], None] | None = None,
        organization_index: OrganizationIndex | None = None,
        demand_index: DemandIndex | None = None,
        other_side_limit: int | None = None,
        vectors: SemanticVectors | None = None,
        scored_pairs: Iterable[tuple[str, str]] = (),
        every_pair: bool = False,
    ) -> MatchResult:
        """Rank organizations for every open demand and demands for every active organization.

        ``excluded_pairs`` holds (demand key, organization key) pairs never to suggest
        (rejected by staff, dismissed by the organization). ``organization_feedback``
        maps an organization key to its (approved, rejected) counts, ``organization_ratings``
        to its villages' (mean rating 1–5, number of rated projects). ``today`` drops
        demands whose due date has passed. ``organization_index`` (from ``index_organizations``)
        stands in for ``organizations`` when matching a few demands against unchanged organizations;
        ``other_side_limit`` then keeps only that many entries of either side's lists (the
        best-scoring), since one new demand tops nearly every organization's list of one (and one
        changed organization nearly every demand's). ``demand_index`` (from ``index_demands``) is the
        mirror: it stands in for ``demands`` when matching a few organizations against them.
        ``sink``, when given, takes the recommendations a chunk at a time as they are explained, as
        columns (a ``RecommendationBatch``, to be written away), and the result keeps none: they never
        all sit in memory at once, nor as one Python object each. ``vectors`` (``matcher.semantic``)
        adds meaning to words: each record's nearest texts become candidates too, and their similarity
        a signal; a record without a vector is matched by words alone. ``scored_pairs`` (demand key,
        organization key) are scored and ranked whatever their score, even 0 (``matcher.diagnosis``
        explains one that way). ``every_pair`` scores every pair in dense blocks instead of taking the
        candidates' kernel: the reference the fast path is measured against (slow at scale).
        """
        cfg = self.config
        note = progress or (lambda _stage: None)
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = timings.get(stage, 0.0) + now - clock
            clock = now
            note(stage)

        index, dindex = organization_index, demand_index
        if index is not None and dindex is not None:
            raise ValueError("an organization index or a demand index, not both")
        orgs = index.orgs if index is not None else [o for o in organizations if o.active]
        dems = dindex.dems if dindex is not None else [
            d for d in demands if d.open and (today is None or d.due_date is None or d.due_date >= today)]
        stats = MatchStats(n_organizations=len(orgs), n_demands=len(dems))
        if not orgs or not dems:
            stats.demands_without_candidates = [d.key for d in dems]
            return MatchResult([], stats, {})

        # tokenize
        dem_texts = [d.text for d in dems] if dindex is None else []  # the index holds their tokens
        if index is not None:
            org_tokens = index.tokens
            dem_tokens = self.tokenizer.tokens_many(dem_texts)
        elif dindex is not None:
            org_texts = [o.text for o in orgs]
            org_tokens = self.tokenizer.tokens_many(org_texts)
            dem_tokens = dindex.tokens
        else:
            org_texts = [o.text for o in orgs]
            all_tokens = self.tokenizer.tokens_many(org_texts + dem_texts)
            org_tokens, dem_tokens = all_tokens[:len(orgs)], all_tokens[len(orgs):]
        lap("tokenize")

        # vectorize
        if dindex is not None:
            word_vec = dindex.word_vec
            o_word = word_vec.transform(org_tokens)
            o_char = dindex.char_vec.transform([char_text(t) for t in org_texts]) if dindex.char_vec is not None \
                else sp.csr_matrix((len(orgs), 0), dtype=np.float32)
        elif index is not None:
            word_vec, o_word, o_char = index.word_vec, index.o_word, index.o_char
            d_word = word_vec.transform(dem_tokens)
            d_char = index.char_vec.transform([char_text(t) for t in dem_texts]) if index.char_vec is not None \
                else sp.csr_matrix((len(dems), 0), dtype=np.float32)
        else:
            # Fitted on both sides at once, then the rows split by side.
            word_vec, words, _, chars = self._fit_text(org_tokens + dem_tokens, org_texts + dem_texts)
            o_word, d_word = words[:len(orgs)], words[len(orgs):]
            o_char, d_char = chars[:len(orgs)], chars[len(orgs):]
            del words, chars  # the slices are copies

        if index is not None:
            o_cat, reach, o_txt, o_kind, unrelated = index.o_cat, index.reach, index.o_txt, index.o_kind, \
                index.unrelated
        else:
            o_cat, reach, o_txt, o_kind, unrelated = self._org_side(orgs, o_word, o_char)
        side = dindex.side if dindex is not None else self._demand_side(dems, dem_tokens, d_word, d_char)
        d_cat, text_action, inferred, d_county, d_txt = side.d_cat, side.text_action, side.inferred, \
            side.d_county, side.d_txt
        use_sem = vectors is not None and vectors.dim > 0 and cfg.w_semantic > 0
        if use_sem:
            assert vectors is not None
            d_vec = vectors.matrix([d.key for d in dems], "demand")
            o_vec = vectors.matrix([o.key for o in orgs], "organization")
        else:
            d_vec = np.zeros((len(dems), 0), dtype=np.float32)
            o_vec = np.zeros((len(orgs), 0), dtype=np.float32)
        floor = cfg.semantic_floor
        if index is None and dindex is None:
            # They live on in the text matrices (the explanations count words from the tokens):
            # at Jilin scale ~80 MB less for the rest of the match.
            del o_word, d_word, o_char, d_char

        # What the score takes besides the texts: the history factor among it.
        org_funds = index.funds if index is not None else _funds(orgs)
        dem_needed = dindex.needed if dindex is not None else _needed(dems)
        feedback = organization_feedback or {}
        ratings = organization_ratings or {}
        factor64 = np.ones(len(orgs), dtype=np.float64)  # shown to 4 decimals; scores use float32
        # Few organizations have a history: walk the histories, not the organizations.
        positions = index.positions if index is not None else {o.key: i for i, o in enumerate(orgs)}
        for key, (approved, rejected) in feedback.items():
            if (i := positions.get(key)) is not None:
                factor64[i] += cfg.feedback_weight * (approved - rejected) / (approved + rejected + 2)
        for key, (mean, n) in ratings.items():
            if (i := positions.get(key)) is not None:
                # 3 of 5 is neutral; one rating counts half, many count fully.
                factor64[i] += cfg.rating_weight * (mean - 3.0) / 2.0 * n / (n + 1)
        org_factor = factor64.astype(np.float32)
        o_tables = index.tables if index is not None else OrganizationTables.of(
            o_cat=o_cat, o_kind=o_kind, funds=org_funds, reach_weight=reach.weight)
        tables = PairTables.of(d_cat=d_cat, county=d_county, needed=dem_needed, factor=org_factor, orgs=o_tables)
        lap("vectorize")

        # candidates: each demand's and each organization's best pairs by score, from one pass over the
        # text product (matcher.candidates), and with vectors each one's nearest texts in meaning
        n_short = max(cfg.shortlist, cfg.top_k)
        o_txt_t = index.o_txt_t if index is not None else None
        if every_pair:  # the reference: each row's best by scoring all its pairs, meaning included
            o_txt_t = o_txt_t if o_txt_t is not None else o_txt.T.tocsr()
            d_txt_t = d_txt.T.tocsr()
            answers = []
            for side in ("demand", "organization"):
                rows = np.arange(len(dems) if side == "demand" else len(orgs))
                others = len(orgs) if side == "demand" else len(dems)
                parts = [self._best_in_full(side, chunk, n_short, d_txt=d_txt, o_txt=o_txt, o_txt_t=o_txt_t,
                                            d_txt_t=d_txt_t, tables=tables, d_vec=d_vec, o_vec=o_vec)
                         for chunk in np.array_split(rows, -(-len(rows) * others // _DENSE_BLOCK))]
                a, b, v = (np.concatenate([p[i] for p in parts]) for i in range(3))
                first, second = (a, b) if side == "demand" else (b, a)
                order = np.lexsort((-v, first))  # grouped by row, best first
                order = order[v[order] > 0]
                answers.append((first[order], second[order], v[order]))
            (dr, oc, s1), (orow, dcol, s2) = answers
            t1, t2 = np.full(len(dr), np.nan, dtype=np.float32), np.full(len(orow), np.nan, dtype=np.float32)
            del d_txt_t, answers
        else:
            (dr, oc, s1, t1), (orow, dcol, s2, t2) = best_pairs(d_txt, o_txt, tables, cfg, n_short,
                                                                right_t=o_txt_t)
        listed_in_full = np.bincount(dr, minlength=len(dems)) >= n_short  # rows the kernel cut at n_short
        # Each row's n_short-th best score, 0 for a row with fewer (every pair with a score is known).
        kernel_floor = {"demand": np.maximum(_row_threshold(dr, s1, len(dems), n_short), 0.0),
                        "organization": np.maximum(_row_threshold(orow, s2, len(orgs), n_short), 0.0)}
        found_d, found_o, found_t = [dr, dcol], [oc, orow], [t1, t2]  # text products; NaN: not yet known
        # The semantic signal of each row's n-th nearest text: the most meaning adds to a pair not yet known.
        sem_reach = {"demand": np.zeros(len(dems), dtype=np.float32),
                     "organization": np.zeros(len(orgs), dtype=np.float32)}
        if use_sem:
            # The nearest texts in meaning, both ways: candidates that may share no word.
            n_sem = max(cfg.semantic_shortlist, cfg.top_k)
            sd, so, s_cos = sem_mod.top_pairs(d_vec, o_vec, n_sem, floor)
            po, pd, p_cos = sem_mod.top_pairs(o_vec, d_vec, n_sem, floor)
            sem_reach["demand"] = sem_mod.signal(sem_mod.row_threshold(sd, s_cos, len(dems), n_sem, floor), floor)
            sem_reach["organization"] = sem_mod.signal(sem_mod.row_threshold(po, p_cos, len(orgs), n_sem, floor),
                                                       floor)
            found_d += [sd, pd]
            found_o += [so, po]
            found_t.append(np.full(len(sd) + len(pd), np.nan, dtype=np.float32))
            del s_cos, p_cos
        d_pos = {d.key: i for i, d in enumerate(dems)}
        asked = [(d_pos[a], positions[b]) for a, b in scored_pairs if a in d_pos and b in positions]
        if asked:
            found_d.append(np.array([a for a, _ in asked], dtype=np.int64))
            found_o.append(np.array([b for _, b in asked], dtype=np.int64))
            found_t.append(np.full(len(asked), np.nan, dtype=np.float32))
        d_idx, o_idx, linear = np.concatenate(found_d), np.concatenate(found_o), np.concatenate(found_t)
        first = _unique_pairs(d_idx, o_idx, len(orgs))
        d_idx, o_idx, linear = d_idx[first], o_idx[first], linear[first]
        unknown = np.flatnonzero(np.isnan(linear))  # found by meaning alone, or asked for
        linear[unknown] = pair_products(d_txt, o_txt, d_idx[unknown], o_idx[unknown])
        del dr, oc, s1, t1, orow, dcol, s2, t2, found_d, found_o, found_t, first, unknown
        stats.pairs_considered = len(dems) * len(orgs)
        lap("candidates")

        # signals of the candidates
        def pair_signals(di: np.ndarray, oi: np.ndarray, lin: np.ndarray) -> dict[str, np.ndarray]:
            parts = []
            # A slice of pairs at a time: the gathered category rows alone are 24 bytes a pair.
            for at in range(0, len(di), _SIGNAL_CHUNK):
                d_, o_, lin_ = di[at:at + _SIGNAL_CHUNK], oi[at:at + _SIGNAL_CHUNK], lin[at:at + _SIGNAL_CHUNK]
                cat_ = (d_cat[d_] * o_cat[o_]).sum(axis=1)
                reach_w_ = reach.weight[o_, d_county[d_]]
                scale_ = scale_fit(org_funds[o_], dem_needed[d_])
                sem_ = sem_mod.signal(sem_mod.pair_cosines(d_vec, o_vec, d_, o_), floor) if use_sem \
                    else np.zeros(len(d_), dtype=np.float32)
                kind_ = (d_cat[d_] * o_kind[o_]).sum(axis=1)
                text_ = tables.text(lin_, cfg)
                total_ = final_score(text_, cat_, reach_w_, scale_, cfg, sem_, kind_, org_factor[o_])
                parts.append({"cat": cat_, "reach_w": reach_w_, "text": text_, "scale": scale_, "sem": sem_,
                              "kind": kind_, "total": total_})
            if len(parts) == 1:
                return parts[0]
            return {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in
                    ("cat", "reach_w", "text", "scale", "sem", "kind", "total")}

        sig = pair_signals(d_idx, o_idx, linear)
        if use_sem and cfg.exact_top_k and not every_pair:
            # Without meaning every list is settled: the kernel's n-th best score bounds every pair it
            # left out. Meaning can lift such a pair by at most the row's nearest-text bound (and open
            # the evidence floor for it); rows whose top k that could change are scored in full.
            f_max = float(org_factor.max())
            ef = cfg.evidence_floor
            no_evidence = 0.0 if ef is None else f_max * (
                cfg.w_text_word * ef + cfg.w_text_char * ef + cfg.w_scale
                + min(1.0, max(ef, cfg.kind_gate * cfg.kind_evidence) / cfg.text_gate if cfg.text_gate > 0 else 1.0)
                * (cfg.w_category + cfg.w_reach))
            d_txt_t: sp.csr_matrix | None = None
            for side in ("demand", "organization"):
                bound = np.maximum(kernel_floor[side], no_evidence) + cfg.w_semantic * sem_reach[side] * f_max
                bound = np.where(sem_reach[side] > 0, bound, -np.inf)
                uncertain = _uncertain_rows(d_idx if side == "demand" else o_idx, sig["total"], bound, cfg.top_k)
                if len(uncertain) == 0:
                    continue
                others = len(orgs) if side == "demand" else len(dems)
                o_txt_t = o_txt_t if o_txt_t is not None else o_txt.T.tocsr()
                d_txt_t = d_txt_t if d_txt_t is not None or side == "demand" else d_txt.T.tocsr()
                parts = [self._best_in_full(side, chunk, n_short, d_txt=d_txt, o_txt=o_txt, o_txt_t=o_txt_t,
                                            d_txt_t=d_txt_t, tables=tables, d_vec=d_vec, o_vec=o_vec)
                         for chunk in np.array_split(uncertain, -(-len(uncertain) * others // _DENSE_BLOCK))]
                sub_d, sub_o = (np.concatenate([p[i] for p in parts]) for i in range(2))
                fresh = ~_contains(np.sort(d_idx * len(orgs) + o_idx), sub_d * len(orgs) + sub_o)
                if not fresh.any():
                    continue
                sub_d, sub_o = sub_d[fresh], sub_o[fresh]
                sub_lin = pair_products(d_txt, o_txt, sub_d, sub_o)
                new = pair_signals(sub_d, sub_o, sub_lin)
                d_idx, o_idx = np.concatenate([d_idx, sub_d]), np.concatenate([o_idx, sub_o])
                linear = np.concatenate([linear, sub_lin])
                sig = {k: np.concatenate([sig[k], new[k]]) for k in sig}
        lap("signals")

        # ranking: each demand's capped list, each organization's list
        excluded = set(excluded_pairs)
        dkeys, okeys = [d.key for d in dems], [o.key for o in orgs]
        cap = cfg.org_cap or auto_cap(len(dems), len(orgs), cfg.top_k, cfg.org_cap_factor)
        stats.org_cap = cap
        for deeper in (False, True):
            # Pairs in (demand, organization) order, however they were found: equal scores then rank the
            # same way whichever path found them.
            canonical = np.argsort(d_idx * len(orgs) + o_idx, kind="stable")
            d_idx, o_idx, linear = d_idx[canonical], o_idx[canonical], linear[canonical]
            sig = {k: v[canonical] for k, v in sig.items()}
            total = sig["total"].astype(np.float32)
            keep = total >= cfg.min_score
            if excluded:
                keep &= np.array([(dkeys[a], okeys[b]) not in excluded
                                  for a, b in zip(d_idx, o_idx, strict=True)], dtype=bool)
            kept = np.flatnonzero(keep)
            # The organizations' lists beside the demands' capped ones: numpy's sorts let go of the GIL,
            # so the two share the cores (~0.3 s less at Jilin scale, the same answers).
            k_o, k_total = o_idx[kept], total[kept]
            with ThreadPoolExecutor(1) as pool:
                org_lists = pool.submit(top_k, k_o, k_total, cfg.top_k)
                chosen_d, rank_d = capped_top_k(d_idx[kept], k_o, k_total, cfg.top_k, cap)
                chosen_o, rank_o = org_lists.result()
            del k_o, k_total
            # Demands the cap (or staff's rejections) left short of k while the kernel had more to give
            # take eight times as many candidates, once, and the lists are made again: a bounded cost
            # (those rows alone), where going on until none is short can cost more than the match.
            short = np.flatnonzero((np.bincount(d_idx[kept[chosen_d]], minlength=len(dems)) < cfg.top_k)
                                   & listed_in_full)
            if deeper or len(short) == 0 or n_short >= len(orgs):
                break
            if every_pair:  # the reference goes as deep, scoring those rows in full
                o_txt_t = o_txt_t if o_txt_t is not None else o_txt.T.tocsr()
                parts = [self._best_in_full("demand", chunk, 8 * n_short, d_txt=d_txt, o_txt=o_txt, o_txt_t=o_txt_t,
                                            d_txt_t=None, tables=tables, d_vec=d_vec, o_vec=o_vec)
                         for chunk in np.array_split(short, -(-len(short) * len(orgs) // _DENSE_BLOCK))]
                sub_d, sub_o, sub_s = (np.concatenate([p[i] for p in parts]) for i in range(3))
                sub_d, sub_o = sub_d[sub_s > 0], sub_o[sub_s > 0]
                sub_lin = pair_products(d_txt, o_txt, sub_d, sub_o)
            else:
                (sub_d, sub_o, _, sub_lin), _ = best_pairs(d_txt[short], o_txt, tables.demands(short), cfg,
                                                           8 * n_short, right_t=o_txt_t, columns=False)
                sub_d = short[sub_d]
            fresh = ~_contains(d_idx * len(orgs) + o_idx, sub_d * len(orgs) + sub_o)  # in key order
            sub_d, sub_o, sub_lin = sub_d[fresh], sub_o[fresh], sub_lin[fresh]
            new = pair_signals(sub_d, sub_o, sub_lin)
            d_idx, o_idx = np.concatenate([d_idx, sub_d]), np.concatenate([o_idx, sub_o])
            linear = np.concatenate([linear, sub_lin])
            sig = {k: np.concatenate([sig[k], new[k]]) for k in sig}
        d_pairs, o_pairs = kept[chosen_d], kept[chosen_o]
        cat, reach_w = sig["cat"], sig["reach_w"]
        text, scale, semantic, kind = sig["text"], sig["scale"], sig["sem"], sig["kind"]
        # The products are done with (an index keeps its own).
        del d_txt, o_txt, o_txt_t
        if other_side_limit is not None:  # never below k: a record's own list stays whole
            limit = max(other_side_limit, cfg.top_k)
            o_pairs, rank_o = _best_of(o_pairs, rank_o, total, limit)
            d_pairs, rank_d = _best_of(d_pairs, rank_d, total, limit)
        # Each pair's rank in its demand's and its organization's list, 0 where it is in none.
        demand_rank = np.zeros(len(total), dtype=np.int32)
        demand_rank[d_pairs] = rank_d
        org_rank = np.zeros(len(total), dtype=np.int32)
        org_rank[o_pairs] = rank_o
        lap("ranking")

        # explanations for the pairs that made a list, a chunk of columns at a time
        picked = np.flatnonzero((demand_rank > 0) | (org_rank > 0))  # in (demand, organization) order
        a_drank, a_orank = demand_rank[picked].astype(np.int64), org_rank[picked].astype(np.int64)
        del demand_rank, org_rank
        a_d, a_o = d_idx[picked], o_idx[picked]
        # Kind of reach and distance only for the pairs shown (the score has them in the reach table).
        a_county = d_county[a_d]
        c_lon, c_lat = self.regions.county_lonlat()
        a_kind = reach.kind[a_o, a_county]
        dist = haversine_km(reach.lon[a_o], reach.lat[a_o], c_lon[a_county], c_lat[a_county])

        def rounded(values: np.ndarray, digits: int = 4) -> np.ndarray:
            return np.round(values[picked].astype(np.float64), digits)  # float64 first: 0.3942, not 0.39419999

        a_signals = {"text": rounded(text), "category": rounded(cat), "reach": rounded(reach_w),
                     "distance_km": np.round(dist, 1), "scale": rounded(scale), "semantic": rounded(semantic),
                     "kind": rounded(kind)}
        a_total = rounded(total)
        with_candidates = np.unique(d_idx[d_pairs])
        # The pairs' arrays are done with: free them before the explanations take their memory.
        del sig, d_idx, o_idx, linear, cat, reach_w, text, scale, semantic, kind, total, keep, kept

        def demand_facts(i: int) -> tuple[str, bool, str]:
            d = dems[i]
            if d.category in ACTION_INDEX:
                return d.category, False, text_action[i]  # type: ignore[return-value]
            return inferred[d.key].action, True, text_action[i]

        explainer = Explainer(
            dems=dems, orgs=orgs, dem_tokens=dem_tokens, org_tokens=org_tokens,
            idf=dict(zip(word_vec.get_feature_names_out(), word_vec.idf_, strict=True)), demand_facts=demand_facts,
            place=self.regions.place_name, feedback=feedback, ratings=ratings, demands_used=np.unique(a_d),
            orgs_used=np.unique(a_o), unrelated=unrelated)
        history = (explainer.o_feedback >= 0) | (explainer.o_rating >= 0)
        a_signals["feedback"] = np.where(history[a_o], np.round(factor64[a_o], 4), np.nan)
        d_keys = np.array([d.key for d in dems], dtype=object)
        o_keys = np.array([o.key for o in orgs], dtype=object)
        recs: list[Recommendation] = []
        for start in range(0, len(picked), SINK_CHUNK):
            part = slice(start, start + SINK_CHUNK)
            batch = RecommendationBatch(
                demand_keys=d_keys[a_d[part]], organization_keys=o_keys[a_o[part]], score=a_total[part],
                demand_rank=a_drank[part], organization_rank=a_orank[part],
                signals={k: v[part] for k, v in a_signals.items()},
                keyword_ids=explainer.keyword_ids(a_d[part], a_o[part]),
                reason_ids=explainer.reason_ids(a_d[part], a_o[part], a_kind[part], a_signals["distance_km"][part],
                                                a_signals["scale"][part], a_signals["semantic"][part]),
                words=explainer.words, parts=explainer.parts)
            if sink is not None:
                sink(batch)
            else:
                recs.extend(batch.recommendations())
        stats.demands_with_candidates = len(with_candidates)
        has_list = np.zeros(len(dems), dtype=bool)
        has_list[with_candidates] = True
        stats.demands_without_candidates = [d.key for d, listed in zip(dems, has_list.tolist(), strict=True)
                                            if not listed]
        stats.n_recommendations = len(picked)
        lap("explain")
        stats.timings = timings
        return MatchResult(recs, stats, inferred)
