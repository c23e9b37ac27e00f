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
from matcher.candidates import pair_products, top_pairs, top_pairs_both
from matcher.categories import ACTION_INDEX, ACTIONS, ActionLexicon, Inference, smoothed_probabilities
from matcher.config import MatchConfig
from matcher.explanations import Explainer, RecommendationBatch
from matcher.kinds import KindTable
from matcher.ranking import auto_cap, capped_top_k, top_k
from matcher.records import DemandRecord, OrganizationRecord, Recommendation
from matcher.regions import RegionIndex, haversine_km
from matcher.scoring import total_score
from matcher.semantic import SemanticVectors
from matcher.signals import N_FUNDS_BINS, funds_bins, scale_fit, scale_upper
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
_DENSE_BLOCK = 2_000_000  # pairs scored at once when settling uncertain rows (a few bytes each, several arrays)
_SIGNAL_CHUNK = 262_144  # shortlisted pairs whose signals are computed at once


def _text_and_total(lin: np.ndarray, cat: np.ndarray, reach_w: np.ndarray, upper: np.ndarray, scale: np.ndarray,
                    factor: np.ndarray, cfg: MatchConfig, semantic: np.ndarray | float = 0.0,
                    kind: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Text fit recovered from the linear score (less its category, reach and scale-bound parts),
    and the final score: for shortlisted pairs and for rows scored in full alike."""
    rest = cfg.w_category * cat + cfg.w_reach * reach_w + upper
    text = np.clip((lin - rest) / (cfg.w_text_word + cfg.w_text_char), 0.0, 1.0)
    total = total_score(text, cat, reach_w, scale, cfg, semantic, kind) * factor
    if cfg.evidence_floor is not None:  # no evidence of capability: no score (and so no recommendation)
        evidence = (text > cfg.evidence_floor) | (np.asarray(semantic) > cfg.semantic_evidence) \
            | (np.asarray(kind) >= cfg.kind_evidence)
        total = np.where(evidence, total, np.float32(0.0))
    return text, total


def _needed(dems: Sequence[DemandRecord]) -> np.ndarray:
    return np.array([np.nan if d.funding_needed is None else d.funding_needed for d in dems], dtype=np.float64)


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def _unique_pairs(d_idx: np.ndarray, o_idx: np.ndarray, linear: np.ndarray,
                  n_orgs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair once (its first occurrence), in (demand, organization) order: ``np.unique``'s
    answer with ``return_index``. A stable sort keeps equal pairs in input order, so each run's
    first is the first occurrence."""
    if len(d_idx) == 0:
        return d_idx, o_idx, linear
    key = d_idx * n_orgs + o_idx
    order = np.argsort(key, kind="stable")
    k = key[order]
    first = order[np.flatnonzero(np.r_[True, k[1:] != k[:-1]])]
    return d_idx[first], o_idx[first], linear[first]


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


def _uncertain_rows(rows: np.ndarray, total: np.ndarray, threshold: np.ndarray, k: int, factor: float,
                    semantic: np.ndarray) -> np.ndarray:
    """Rows whose top k might change if their shortlists were wider.

    Every pair not yet known for a row has a linear score at most the row's ``threshold`` (the
    width-th best of its own shortlist; -inf when the shortlist holds every pair with a word in
    common, and the rest have a linear score of 0) and a semantic part at most ``semantic`` (the
    weight x the signal of its width-th nearest text). The linear score plus the semantic part bounds
    the final score, so its final score is at most their sum x factor; a row is certain once k known
    pairs reach that.
    """
    finite = np.isfinite(threshold)
    bound = (np.where(finite, threshold, 0.0) + semantic) * factor
    reached = np.bincount(rows[total >= bound[rows]], minlength=len(threshold))
    return np.flatnonzero((finite | (semantic > 0)) & (reached < k))


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


@dataclass(frozen=True)
class Signatures:
    """The organizations' distinct (declared actions, funds bin) pairs.

    Category and the scale bound ride in the sparse product as one column per pair: an
    organization has one non-zero there instead of one per action plus one for its bin, and the
    demand's entry is its category weight for those actions plus its scale bound for that bin.
    Every pair is still non-zero, but the product does ~40 % fewer multiply-adds at Jilin scale.
    Without signatures (a demand index, built before any organization is known) the columns are
    the six actions and the funds bins.
    """

    actions: np.ndarray  # (signatures, actions) 0/1
    bins: np.ndarray  # (signatures,)
    of_org: np.ndarray  # (organizations,) each one's signature

    @classmethod
    def of(cls, o_cat: np.ndarray, o_bin: np.ndarray) -> Signatures:
        keys = o_bin * (1 << len(ACTIONS)) + (o_cat > 0).astype(np.int64) @ (1 << np.arange(len(ACTIONS)))
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return cls(o_cat[first], o_bin[first], inverse.ravel())


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
    o_bin: np.ndarray
    signatures: Signatures
    o_aug: sp.csr_matrix
    o_aug_t: sp.csr_matrix
    funds: np.ndarray
    positions: dict[str, int]
    o_kind: np.ndarray | None = None  # each one's kinds' actions (matcher.kinds)
    unrelated: np.ndarray | None = None  # of a kind far from rural revitalization


@dataclass
class _DemandSide:
    d_cat: np.ndarray
    text_action: list[str]
    inferred: dict[str, Inference]
    d_county: np.ndarray
    d_upper: np.ndarray
    d_aug: sp.csr_matrix


@dataclass
class DemandIndex:
    """The demands' side, prepared once for matching a changed organization against them all
    (the mirror of ``OrganizationIndex``; vocabulary and IDF from the demands alone)."""

    dems: list[DemandRecord]
    tokens: list[list[str]]
    word_vec: TfidfVectorizer
    char_vec: TfidfVectorizer | None
    side: _DemandSide
    d_aug_t: sp.csr_matrix
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

    def _org_side(self, orgs: Sequence[OrganizationRecord], o_word: sp.csr_matrix, o_char: sp.csr_matrix, *,
                  signatures: bool = True
                  ) -> tuple[np.ndarray, reach_mod.ReachTable, np.ndarray, Signatures | None, sp.csr_matrix]:
        """Category vectors, reach table, funds bins, signatures (unless asked not to) and the
        augmented matrix of the organizations: [words | characters | signature, or actions and
        funds bin | counties reached]. What an organization of an unrelated kind declared counts
        for nothing."""
        o_cat = np.zeros((len(orgs), len(ACTIONS)), dtype=np.float32)
        _, unrelated = self.organization_kinds(orgs)
        for i, o in enumerate(orgs):
            if unrelated[i]:
                continue
            for a in o.actions:
                if a in ACTION_INDEX:
                    o_cat[i, ACTION_INDEX[a]] = 1.0
        reach = reach_mod.build_reach(orgs, self.regions, self.config)
        o_bin = funds_bins(_funds(orgs))
        ones, rows = np.ones(len(orgs), dtype=np.float32), np.arange(len(orgs))
        if signatures:
            sig: Signatures | None = Signatures.of(o_cat, o_bin)
            kind = [sp.csr_matrix((ones, (rows, sig.of_org)), shape=(len(orgs), len(sig.bins)))]  # type: ignore[union-attr]
        else:
            sig = None
            kind = [sp.csr_matrix(o_cat), sp.csr_matrix((ones, (rows, o_bin)), shape=(len(orgs), N_FUNDS_BINS))]
        o_aug = sp.hstack([o_word, o_char, *kind, sp.csr_matrix(reach.weight)], format="csr", dtype=np.float32)
        return o_cat, reach, o_bin, sig, o_aug

    def index_organizations(self, organizations: Sequence[OrganizationRecord]) -> OrganizationIndex:
        """Prepare the active organizations once for many small matches against them."""
        orgs = [o for o in organizations if o.active]
        tokens = self.tokenizer.tokens_many([o.text for o in orgs])
        word_vec, o_word, char_vec, o_char = self._fit_text(tokens, [o.text for o in orgs])
        o_cat, reach, o_bin, sig, o_aug = self._org_side(orgs, o_word, o_char)
        assert sig is not None
        o_kind, unrelated = self.organization_kinds(orgs)
        return OrganizationIndex(orgs, tokens, word_vec, char_vec, o_word, o_char, o_cat, reach, o_bin, sig, o_aug,
                                 o_aug.T.tocsr(), _funds(orgs), {o.key: i for i, o in enumerate(orgs)}, o_kind,
                                 unrelated)

    def _demand_side(self, dems: Sequence[DemandRecord], dem_tokens: list[list[str]], d_word: sp.csr_matrix,
                     d_char: sp.csr_matrix, signatures: Signatures | None) -> _DemandSide:
        """Category vectors (declared, else inferred from the text), places, the scale bound per
        funds bin and the weighted augmented matrix of the demands, in the columns of the
        organizations' (their ``signatures``, or actions and funds bins when None)."""
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
        d_region = sp.csr_matrix(
            (np.ones(len(dems), dtype=np.float32), (np.arange(len(dems)), d_county)),
            shape=(len(dems), len(self.regions.county_codes)),
        )
        # With the scale's upper bound in the product, its linear score bounds the final score.
        d_upper = (cfg.w_scale * scale_upper(_needed(dems))).astype(np.float32)
        if signatures is not None:
            kind = [sp.csr_matrix(cfg.w_category * d_cat @ signatures.actions.T + d_upper[:, signatures.bins])]
        else:
            kind = [sp.csr_matrix(cfg.w_category * d_cat), sp.csr_matrix(d_upper)]
        d_aug = sp.hstack([cfg.w_text_word * d_word, cfg.w_text_char * d_char, *kind, cfg.w_reach * d_region],
                          format="csr", dtype=np.float32)
        return _DemandSide(d_cat, text_action, inferred, d_county, d_upper, d_aug)

    def index_demands(self, demands: Sequence[DemandRecord], *, today: date | None = None) -> DemandIndex:
        """Prepare the open demands once for matching changed organizations against them."""
        dems = [d for d in demands if d.open and (today is None or d.due_date is None or d.due_date >= today)]
        tokens = self.tokenizer.tokens_many([d.text for d in dems])
        word_vec, d_word, char_vec, d_char = self._fit_text(tokens, [d.text for d in dems])
        side = self._demand_side(dems, tokens, d_word, d_char, None)  # the organizations are not known yet
        return DemandIndex(dems, tokens, word_vec, char_vec, side, side.d_aug.T.tocsr(), _needed(dems))

    def _best_by_total(self, side: str, chunk: np.ndarray, n: int, *, d_aug: sp.csr_matrix, o_aug: sp.csr_matrix,
                       o_aug_t: sp.csr_matrix | None, d_aug_t: sp.csr_matrix | None, d_cat: np.ndarray,
                       o_cat: np.ndarray, reach: reach_mod.ReachTable, d_county: np.ndarray, d_upper: np.ndarray,
                       o_bin: np.ndarray, org_funds: np.ndarray, dem_needed: np.ndarray, org_factor: np.ndarray,
                       d_vec: np.ndarray, o_vec: np.ndarray, o_kind: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair of the rows in ``chunk`` (demands or organizations) scored as the final score
        scores it, densely; the ``n`` best of each row as (demand index, organization index, linear)."""
        cfg = self.config
        if side == "demand":
            lin = (d_aug[chunk] @ o_aug_t).toarray()
            cat = d_cat[chunk] @ o_cat.T
            reach_w = reach.weight[:, d_county[chunk]].T
            upper = d_upper[chunk][:, o_bin]
            funds, needed = np.broadcast_to(org_funds[None, :], lin.shape), \
                np.broadcast_to(dem_needed[chunk][:, None], lin.shape)
            factor = org_factor[None, :]
            cos = d_vec[chunk] @ o_vec.T if d_vec.shape[1] else None
            kind = d_cat[chunk] @ o_kind.T
        else:
            lin = (o_aug[chunk] @ d_aug_t).toarray()
            cat = o_cat[chunk] @ d_cat.T
            reach_w = reach.weight[chunk][:, d_county]
            upper = d_upper[:, o_bin[chunk]].T
            funds, needed = np.broadcast_to(org_funds[chunk][:, None], lin.shape), \
                np.broadcast_to(dem_needed[None, :], lin.shape)
            factor = org_factor[chunk][:, None]
            cos = o_vec[chunk] @ d_vec.T if d_vec.shape[1] else None
            kind = o_kind[chunk] @ d_cat.T
        semantic = 0.0 if cos is None else sem_mod.signal(cos, cfg.semantic_floor)
        _, total = _text_and_total(lin, cat, reach_w, upper, scale_fit(funds, needed), factor, cfg, semantic, kind)
        n = min(n, lin.shape[1])
        best = np.argpartition(-total, n - 1, axis=1)[:, :n]
        row = np.repeat(chunk, n)
        col = best.ravel()
        values = np.take_along_axis(lin, best, axis=1).ravel().astype(np.float32)
        return (row, col, values) if side == "demand" else (col, row, values)

    def _text_pairs(self, side: str, rows: np.ndarray, width: int, n_text: int, *, d_aug: sp.csr_matrix,
                    o_aug: sp.csr_matrix, d_cat: np.ndarray, o_cat: np.ndarray, reach: reach_mod.ReachTable,
                    d_county: np.ndarray, d_upper: np.ndarray, o_bin: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``width`` best pairs of each of ``rows`` by text fit alone (the text columns of the
        augmented matrices), as (demand index, organization index, linear score)."""
        cfg = self.config
        # Only the rows in doubt are sliced on their side; the other side's text columns in full.
        if side == "demand":
            sub_d, sub_o, text_lin = top_pairs(d_aug[rows][:, :n_text], o_aug[:, :n_text], width)
            sub_d = rows[sub_d]
        else:
            sub_o, sub_d, text_lin = top_pairs(o_aug[rows][:, :n_text], d_aug[:, :n_text], width)
            sub_o = rows[sub_o]
        # The rest of the linear score, as the sparse product would have added it.
        rest = cfg.w_category * (d_cat[sub_d] * o_cat[sub_o]).sum(axis=1) + d_upper[sub_d, o_bin[sub_o]] \
            + cfg.w_reach * reach.weight[sub_o, d_county[sub_d]]
        return sub_d, sub_o, (text_lin + rest).astype(np.float32)

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
        a signal; a record without a vector is matched by words alone.
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

        # The organizations first: the demands' matrix takes their signatures' columns.
        if index is not None:
            o_cat, reach, o_bin, sig, o_aug = index.o_cat, index.reach, index.o_bin, index.signatures, index.o_aug
        else:
            o_cat, reach, o_bin, sig, o_aug = self._org_side(orgs, o_word, o_char, signatures=dindex is None)
        if index is not None and index.o_kind is not None and index.unrelated is not None:
            o_kind, unrelated = index.o_kind, index.unrelated
        else:
            o_kind, unrelated = self.organization_kinds(orgs)
        side = dindex.side if dindex is not None else self._demand_side(dems, dem_tokens, d_word, d_char, sig)
        d_cat, text_action, inferred, d_county, d_upper, d_aug = side.d_cat, side.text_action, side.inferred, \
            side.d_county, side.d_upper, side.d_aug
        n_text = o_word.shape[1] + o_char.shape[1]  # the augmented matrices' first columns: words, characters
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
            # They live on in the augmented matrices (the explanations count words from the tokens):
            # at Jilin scale ~80 MB less for the rest of the match.
            del o_word, d_word, o_char, d_char
        lap("vectorize")

        # candidates, both ways, merged into one set of unique pairs
        n_short = max(cfg.shortlist, cfg.top_k)
        o_aug_t = index.o_aug_t if index is not None else None
        d_aug_t = dindex.d_aug_t if dindex is not None else None
        # One pass over the product keeps each demand's and each organization's best.
        (dr, oc, lin1), (orow, dcol, lin2) = top_pairs_both(d_aug, o_aug, n_short, right_t=o_aug_t)
        # Each row's n_short-th best linear score: no pair outside its shortlist scores more.
        thresholds = {"demand": _row_threshold(dr, lin1, len(dems), n_short),
                      "organization": _row_threshold(orow, lin2, len(orgs), n_short)}
        # Each row's semantic bound: weight x the signal of its n-th nearest text (none without vectors).
        sem_bound = {"demand": np.zeros(len(dems), dtype=np.float32),
                     "organization": np.zeros(len(orgs), dtype=np.float32)}
        if use_sem:
            # The nearest texts in meaning, both ways: candidates that may share no word.
            n_sem = max(cfg.semantic_shortlist, cfg.top_k)
            sd, so, s_cos = sem_mod.top_pairs(d_vec, o_vec, n_sem, floor)
            po, pd, p_cos = sem_mod.top_pairs(o_vec, d_vec, n_sem, floor)
            sem_bound["demand"] = cfg.w_semantic * sem_mod.signal(
                sem_mod.row_threshold(sd, s_cos, len(dems), n_sem, floor), floor)
            sem_bound["organization"] = cfg.w_semantic * sem_mod.signal(
                sem_mod.row_threshold(po, p_cos, len(orgs), n_sem, floor), floor)
            sem_d, sem_o = np.concatenate([sd, pd]), np.concatenate([so, po])
            dr, oc = np.concatenate([dr, sem_d]), np.concatenate([oc, sem_o])
            lin1 = np.concatenate([lin1, pair_products(d_aug, o_aug, sem_d, sem_o)])
            del sd, so, s_cos, po, pd, p_cos, sem_d, sem_o
        d_idx, o_idx, linear = _unique_pairs(np.concatenate([dr, dcol]), np.concatenate([oc, orow]),
                                             np.concatenate([lin1, lin2]), len(orgs))
        del dr, oc, lin1, orow, dcol, lin2
        stats.pairs_considered = len(dems) * len(orgs)
        lap("candidates")

        # signals on the shortlist
        c_lon, c_lat = self.regions.county_lonlat()
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
                text_, total_ = _text_and_total(lin_, cat_, reach_w_, d_upper[d_, o_bin[o_]], scale_, org_factor[o_],
                                                cfg, sem_, kind_)
                parts.append({"cat": cat_, "reach_w": reach_w_, "text": text_, "scale": scale_, "sem": sem_,
                              "kind": kind_, "total": total_})
            if len(parts) == 1:
                return parts[0]
            return {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in
                    ("cat", "reach_w", "text", "scale", "sem", "kind", "total")}

        sig = pair_signals(d_idx, o_idx, linear)
        # The final score re-weighs the linear one (text gate, out of reach, feedback), so a pair left
        # out of a row's shortlist may still belong in its top k. It cannot score more than the row's
        # n_short-th linear score x the largest feedback factor. Rows whose k-th final score is below
        # that bound get a shortlist four times wider; those still below it are scored against every
        # column, a dense block of rows at a time, and take their n_short best by final score, which
        # settles them exactly.
        bound_factor = float(org_factor.max())
        for side in ("demand", "organization"):
            rows_total = len(dems) if side == "demand" else len(orgs)
            others = len(orgs) if side == "demand" else len(dems)
            if n_short >= others:  # every pair of the row is known already
                continue
            width, threshold = n_short, thresholds[side]
            # First a shortlist four times wider plus the best pairs by text (cheap, and it settles most);
            # then, when exactness is asked for (the default), every column for the rest. Without it the
            # cost stays bounded whatever the data, at a measured loss of recall (BENCHMARKS.md).
            for dense in (False, True):
                if dense and not cfg.exact_top_k:
                    break
                rows = d_idx if side == "demand" else o_idx
                uncertain = _uncertain_rows(rows, sig["total"], threshold, cfg.top_k, bound_factor, sem_bound[side])
                if len(uncertain) == 0:
                    break
                width = min(others, width * 4)
                if not dense and side == "demand":
                    sub_d, sub_o, sub_lin = top_pairs(d_aug[uncertain], o_aug, width, right_t=o_aug_t)
                    threshold = np.full(rows_total, -np.inf)  # only the rows in doubt are looked at again
                    threshold[uncertain] = _row_threshold(sub_d, sub_lin, len(uncertain), width)
                    sub_d = uncertain[sub_d]
                elif not dense:
                    sub_o, sub_d, sub_lin = top_pairs(o_aug[uncertain], d_aug, width, right_t=d_aug_t)
                    threshold = np.full(rows_total, -np.inf)
                    threshold[uncertain] = _row_threshold(sub_o, sub_lin, len(uncertain), width)
                    sub_o = uncertain[sub_o]
                else:
                    if side == "demand":
                        o_aug_t = o_aug_t if o_aug_t is not None else o_aug.T.tocsr()
                    else:
                        d_aug_t = d_aug_t if d_aug_t is not None else d_aug.T.tocsr()
                    parts = [self._best_by_total(side, chunk, n_short, d_aug=d_aug, o_aug=o_aug, o_aug_t=o_aug_t,
                                                 d_aug_t=d_aug_t, d_cat=d_cat, o_cat=o_cat, reach=reach,
                                                 d_county=d_county, d_upper=d_upper, o_bin=o_bin, org_funds=org_funds,
                                                 dem_needed=dem_needed, org_factor=org_factor, d_vec=d_vec,
                                                 o_vec=o_vec, o_kind=o_kind)
                             for chunk in np.array_split(uncertain, -(-len(uncertain) * others // _DENSE_BLOCK))]
                    sub_d, sub_o, sub_lin = (np.concatenate([p[i] for p in parts]) for i in range(3))
                if not dense:
                    # A second source for the rows in doubt: their best pairs by text alone. The linear
                    # score carries category and reach in full while the final one gates them by text fit,
                    # so where many organizations declare every action the texts that fit are found here.
                    t_d, t_o, t_lin = self._text_pairs(side, uncertain, width, n_text, d_aug=d_aug, o_aug=o_aug,
                                                       d_cat=d_cat, o_cat=o_cat, reach=reach, d_county=d_county,
                                                       d_upper=d_upper, o_bin=o_bin)
                    sub_d, sub_o = np.concatenate([sub_d, t_d]), np.concatenate([sub_o, t_o])
                    sub_lin = np.concatenate([sub_lin, t_lin])
                    if use_sem:  # and their nearest texts in meaning, as widely
                        if side == "demand":
                            n_d, n_o, n_cos = sem_mod.top_pairs(d_vec, o_vec, width, floor, rows=uncertain)
                            nth = sem_mod.row_threshold(np.searchsorted(uncertain, n_d), n_cos, len(uncertain),
                                                        width, floor)
                        else:
                            n_o, n_d, n_cos = sem_mod.top_pairs(o_vec, d_vec, width, floor, rows=uncertain)
                            nth = sem_mod.row_threshold(np.searchsorted(uncertain, n_o), n_cos, len(uncertain),
                                                        width, floor)
                        sem_bound[side] = np.zeros_like(sem_bound[side])
                        sem_bound[side][uncertain] = cfg.w_semantic * sem_mod.signal(nth, floor)
                        sub_d, sub_o = np.concatenate([sub_d, n_d]), np.concatenate([sub_o, n_o])
                        sub_lin = np.concatenate([sub_lin, pair_products(d_aug, o_aug, n_d, n_o)])
                    sub_d, sub_o, sub_lin = _unique_pairs(sub_d, sub_o, sub_lin, len(orgs))
                # Stable sorts here and below: the pairs are mostly in order already (those found
                # since are appended), runs that timsort merges (~0.1 s against 0.02 s a sort).
                known = np.sort(d_idx * len(orgs) + o_idx, kind="stable")
                fresh = ~_contains(known, sub_d * len(orgs) + sub_o)
                if not fresh.any():
                    continue
                new = pair_signals(sub_d[fresh], sub_o[fresh], sub_lin[fresh])
                d_idx = np.concatenate([d_idx, sub_d[fresh]])
                o_idx = np.concatenate([o_idx, sub_o[fresh]])
                linear = np.concatenate([linear, sub_lin[fresh]])
                sig = {k: np.concatenate([sig[k], new[k]]) for k in sig}
        # Pairs in (demand, organization) order, however they were found: equal scores then rank the
        # same way whichever path found them.
        canonical = np.argsort(d_idx * len(orgs) + o_idx, kind="stable")
        d_idx, o_idx, linear = d_idx[canonical], o_idx[canonical], linear[canonical]
        sig = {k: v[canonical] for k, v in sig.items()}
        cat, reach_w = sig["cat"], sig["reach_w"]
        text, scale, semantic, kind = sig["text"], sig["scale"], sig["sem"], sig["kind"]
        total = sig["total"].astype(np.float32)
        # The products are done with (an index keeps its own): ~45 MB at Jilin scale, before ranking's peak.
        del d_aug, o_aug, o_aug_t, d_aug_t
        lap("signals")

        # ranking
        keep = total >= cfg.min_score
        excluded = set(excluded_pairs)
        if excluded:
            dkeys = [d.key for d in dems]
            okeys = [o.key for o in orgs]
            keep &= np.array([(dkeys[a], okeys[b]) not in excluded
                              for a, b in zip(d_idx, o_idx, strict=True)], dtype=bool)
        kept = np.flatnonzero(keep)
        cap = cfg.org_cap or auto_cap(len(dems), len(orgs), cfg.top_k, cfg.org_cap_factor)
        stats.org_cap = cap
        # The organizations' lists beside the demands' capped ones: numpy's sorts let go of the GIL,
        # so the two share the cores (~0.3 s less at Jilin scale, the same answers).
        k_o, k_total = o_idx[kept], total[kept]
        with ThreadPoolExecutor(1) as pool:
            org_lists = pool.submit(top_k, k_o, k_total, cfg.top_k)
            chosen_d, rank_d = capped_top_k(d_idx[kept], k_o, k_total, cfg.top_k, cap)
            chosen_o, rank_o = org_lists.result()
        del k_o, k_total
        d_pairs, o_pairs = kept[chosen_d], kept[chosen_o]
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
