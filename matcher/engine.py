"""The Matcher facade: records in, ranked and explained recommendations out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matcher import reach as reach_mod
from matcher.candidates import top_pairs
from matcher.categories import ACTION_INDEX, ACTIONS, ActionLexicon, Inference
from matcher.config import MatchConfig
from matcher.ranking import auto_cap, capped_top_k, top_k
from matcher.records import DemandRecord, OrganizationRecord, Recommendation
from matcher.regions import RegionIndex
from matcher.scoring import explain, total_score
from matcher.signals import scale_fit
from matcher.text import Tokenizer, char_text

Progress = Callable[[str], None]


def _identity(tokens: list[str]) -> list[str]:
    return tokens


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
    ) -> None:
        self.config = config or MatchConfig()
        self.regions = regions or RegionIndex.default()
        self.lexicon = lexicon or ActionLexicon.from_file()
        self.tokenizer = tokenizer or Tokenizer(extra_words=self.lexicon.words())

    # -- single-record helpers used by importers -------------------------------------

    def infer_action(self, text: str) -> Inference:
        """The action a demand's text points to (for a blank or unknown category)."""
        return self.lexicon.infer(self.tokenizer.tokens(text), text)

    # -- the full match ----------------------------------------------------------------

    def match(
        self,
        organizations: Sequence[OrganizationRecord],
        demands: Sequence[DemandRecord],
        *,
        excluded_pairs: Iterable[tuple[str, str]] = (),
        organization_feedback: Mapping[str, tuple[int, int]] | None = None,
        today: date | None = None,
        progress: Progress | None = None,
    ) -> MatchResult:
        """Rank organizations for every open demand and demands for every active organization.

        ``excluded_pairs`` holds (demand key, organization key) pairs never to suggest
        (rejected by staff, dismissed by the organization). ``organization_feedback``
        maps an organization key to its (approved, rejected) counts. ``today`` drops
        demands whose due date has passed.
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

        orgs = [o for o in organizations if o.active]
        dems = [d for d in demands
                if d.open and (today is None or d.due_date is None or d.due_date >= today)]
        stats = MatchStats(n_organizations=len(orgs), n_demands=len(dems))
        if not orgs or not dems:
            stats.demands_without_candidates = [d.key for d in dems]
            return MatchResult([], stats, {})

        # tokenize
        org_texts = [o.text for o in orgs]
        dem_texts = [d.text for d in dems]
        org_tokens = self.tokenizer.tokens_many(org_texts)
        dem_tokens = self.tokenizer.tokens_many(dem_texts)
        lap("tokenize")

        # vectorize
        word_vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, dtype=np.float32)
        word_vec.fit(org_tokens + dem_tokens)
        o_word, d_word = word_vec.transform(org_tokens), word_vec.transform(dem_tokens)
        char_vec = TfidfVectorizer(
            analyzer="char", ngram_range=(cfg.char_ngram_min, cfg.char_ngram_max),
            sublinear_tf=True, min_df=2, dtype=np.float32,
        )
        o_chars = [char_text(t) for t in org_texts]
        d_chars = [char_text(t) for t in dem_texts]
        try:
            char_vec.fit(o_chars + d_chars)
            o_char, d_char = char_vec.transform(o_chars), char_vec.transform(d_chars)
        except ValueError:  # too few documents for min_df
            o_char = sp.csr_matrix((len(orgs), 0), dtype=np.float32)
            d_char = sp.csr_matrix((len(dems), 0), dtype=np.float32)

        inferred: dict[str, Inference] = {}
        text_probs = np.zeros((len(dems), len(ACTIONS)), dtype=np.float32)
        d_cat = np.zeros((len(dems), len(ACTIONS)), dtype=np.float32)
        text_action: list[str] = []
        inferences = [self.lexicon.infer(toks, d.text) for d, toks in zip(dems, dem_tokens, strict=True)]
        declared_idx = np.array([ACTION_INDEX.get(d.category or "", -1) for d in dems])
        fallback = _centroid_actions(d_word, declared_idx)
        for i, (d, inf) in enumerate(zip(dems, inferences, strict=True)):
            if inf.evidence == 0 and fallback is not None:
                # The text names no action: take the nearest action among this corpus's filed demands.
                inf = Inference(ACTIONS[fallback[i]], inf.confidence, inf.probabilities, 0.0)
            text_probs[i] = inf.probabilities
            text_action.append(inf.action)
            declared = d.category if d.category in ACTION_INDEX else None
            if declared is None:
                inferred[d.key] = inf
                declared = inf.action
            d_cat[i, ACTION_INDEX[declared]] += cfg.category_declared_share
            d_cat[i] += (1 - cfg.category_declared_share) * text_probs[i]
        o_cat = np.zeros((len(orgs), len(ACTIONS)), dtype=np.float32)
        for i, o in enumerate(orgs):
            for a in o.actions:
                if a in ACTION_INDEX:
                    o_cat[i, ACTION_INDEX[a]] = 1.0

        reach = reach_mod.build_reach(orgs, self.regions, cfg)
        d_county = np.array([self.regions.county_pos[d.county_code] for d in dems], dtype=np.int64)
        n_c = len(self.regions.county_codes)
        d_region = sp.csr_matrix(
            (np.ones(len(dems), dtype=np.float32), (np.arange(len(dems)), d_county)),
            shape=(len(dems), n_c),
        )
        d_aug = sp.hstack([
            cfg.w_text_word * d_word, cfg.w_text_char * d_char,
            sp.csr_matrix(cfg.w_category * d_cat), cfg.w_reach * d_region,
        ], format="csr", dtype=np.float32)
        o_aug = sp.hstack([
            o_word, o_char, sp.csr_matrix(o_cat), sp.csr_matrix(reach.weight),
        ], format="csr", dtype=np.float32)
        lap("vectorize")

        # candidates, both ways, merged into one set of unique pairs
        n_short = max(cfg.shortlist, cfg.top_k)
        dr, oc, lin1 = top_pairs(d_aug, o_aug, n_short)
        orow, dcol, lin2 = top_pairs(o_aug, d_aug, n_short)
        d_idx = np.concatenate([dr, dcol])
        o_idx = np.concatenate([oc, orow])
        linear = np.concatenate([lin1, lin2])
        pair_id = d_idx * len(orgs) + o_idx
        _, first = np.unique(pair_id, return_index=True)
        d_idx, o_idx, linear = d_idx[first], o_idx[first], linear[first]
        stats.pairs_considered = len(dems) * len(orgs)
        lap("candidates")

        # signals on the shortlist
        cat = (d_cat[d_idx] * o_cat[o_idx]).sum(axis=1)
        reach_w = reach.weight[o_idx, d_county[d_idx]]
        reach_k = reach.kind[o_idx, d_county[d_idx]]
        c_lon, c_lat = self.regions.county_lonlat()
        from matcher.regions import haversine_km  # local: keeps module import light

        dist = haversine_km(reach.lon[o_idx], reach.lat[o_idx], c_lon[d_county[d_idx]],
                            c_lat[d_county[d_idx]])
        text_w = cfg.w_text_word + cfg.w_text_char
        text = np.clip((linear - cfg.w_category * cat - cfg.w_reach * reach_w) / text_w, 0.0, 1.0)
        funds = np.array([np.nan if o.funds is None else o.funds for o in orgs])[o_idx]
        needed = np.array([np.nan if d.funding_needed is None else d.funding_needed
                           for d in dems])[d_idx]
        scale = scale_fit(funds, needed)
        total = total_score(text, cat, reach_w, scale, cfg)
        feedback = organization_feedback or {}
        org_factor = np.ones(len(orgs), dtype=np.float32)
        for i, o in enumerate(orgs):
            if o.key in feedback:
                approved, rejected = feedback[o.key]
                org_factor[i] = 1.0 + cfg.feedback_weight * (approved - rejected) / (approved + rejected + 2)
        total = total * org_factor[o_idx]
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
        chosen_d, rank_d = capped_top_k(d_idx[kept], o_idx[kept], total[kept], cfg.top_k, cap)
        chosen_o, rank_o = top_k(o_idx[kept], total[kept], cfg.top_k)
        demand_rank: dict[int, int] = dict(zip(kept[chosen_d].tolist(), rank_d.tolist(), strict=True))
        org_rank: dict[int, int] = dict(zip(kept[chosen_o].tolist(), rank_o.tolist(), strict=True))
        lap("ranking")

        # explanations for the pairs that made a list
        idf = dict(zip(word_vec.get_feature_names_out(), word_vec.idf_, strict=True))
        org_sets = [set(t) for t in org_tokens]
        recs: list[Recommendation] = []
        for p in sorted(set(demand_rank) | set(org_rank)):
            di, oi = int(d_idx[p]), int(o_idx[p])
            d, o = dems[di], orgs[oi]
            common = [t for t in dict.fromkeys(dem_tokens[di]) if t in org_sets[oi]]
            common.sort(key=lambda t: -idf.get(t, 0.0))
            keywords = tuple(common[:4])
            signals = {
                "text": round(float(text[p]), 4),
                "category": round(float(cat[p]), 4),
                "reach": round(float(reach_w[p]), 4),
                "distance_km": round(float(dist[p]), 1),
                "scale": round(float(scale[p]), 4),
            }
            reasons = explain(
                demand_category=d.category if d.category in ACTION_INDEX else inferred[d.key].action,
                demand_category_inferred=d.key in inferred,
                text_action=text_action[di],
                org_actions=o.actions,
                reach_kind=int(reach_k[p]),
                distance_km=float(dist[p]),
                demand_place=self.regions.place_name(d.city_code, d.county_code),
                org_place=self.regions.place_name(o.city_code, o.county_code),
                keywords=keywords,
                funds=o.funds,
                needed=d.funding_needed,
                scale=float(scale[p]),
            )
            if o.key in feedback:
                approved, rejected = feedback[o.key]
                reasons.append(f"过往对接：通过{approved}次，驳回{rejected}次")
                signals["feedback"] = round(float(org_factor[oi]), 4)
            recs.append(Recommendation(
                demand_key=d.key, organization_key=o.key, score=round(float(total[p]), 4),
                signals=signals, reasons=tuple(reasons), demand_rank=demand_rank.get(p),
                organization_rank=org_rank.get(p), keywords=keywords,
            ))
        with_candidates = {dems[int(d_idx[p])].key for p in demand_rank}
        stats.demands_with_candidates = len(with_candidates)
        stats.demands_without_candidates = [d.key for d in dems if d.key not in with_candidates]
        stats.n_recommendations = len(recs)
        lap("explain")
        stats.timings = timings
        return MatchResult(recs, stats, inferred)
