"""Matching one demand against the cached organization index (the incremental job's path)
ranks as well as the full match on the labeled dev set."""

from __future__ import annotations

import numpy as np

from api.services.evaluation import demand_from_fields, load_labels, org_from_fields, parse_form
from matcher import Matcher
from matcher.evaluation import engine_rankings, ndcg_at_k
from matcher.resources import data_dir


def test_the_index_path_ranks_as_well_as_a_full_match(shared_matcher: Matcher) -> None:
    m, folder = shared_matcher, data_dir() / "eval"
    orgs = [org_from_fields(r) for r in parse_form(folder / "orgs.csv", "orgs", m)]
    demands = [demand_from_fields(r) for r in parse_form(folder / "demands.csv", "demands", m)]
    labels = load_labels(folder / "qrels.csv")
    queries = [q for q, grades in labels.items() if any(g >= 2 for g in grades.values())]
    index = m.index_organizations(orgs)
    alone = {}
    for d in demands:
        recs = m.match(index.orgs, [d], organization_index=index).for_demand(d.key)
        assert recs and all(r.reasons for r in recs)
        assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
        alone[d.key] = [r.organization_key for r in recs]
    full = engine_rankings(m.match(orgs, demands))[0]
    ndcg_alone = np.mean([ndcg_at_k(alone.get(q, []), labels[q], 10) for q in queries])
    ndcg_full = np.mean([ndcg_at_k(full.get(q, []), labels[q], 10) for q in queries])
    assert ndcg_alone >= ndcg_full - 0.01
    # The same demand's best organization, most of the time (the IDF differs slightly).
    agree = sum(alone[q][:1] == full.get(q, [])[:1] for q in queries) / len(queries)
    assert agree >= 0.85


def test_the_demand_index_path_ranks_as_well_as_a_full_match(shared_matcher: Matcher) -> None:
    from matcher.evaluation import invert

    m, folder = shared_matcher, data_dir() / "eval"
    orgs = [org_from_fields(r) for r in parse_form(folder / "orgs.csv", "orgs", m)]
    demands = [demand_from_fields(r) for r in parse_form(folder / "demands.csv", "demands", m)]
    labels = invert(load_labels(folder / "qrels.csv"))  # organization → graded demands
    queries = [q for q, grades in labels.items() if any(g >= 2 for g in grades.values())]
    index = m.index_demands(demands)
    alone = {}
    for o in orgs:
        recs = m.match([o], index.dems, demand_index=index).for_organization(o.key)
        assert recs and all(r.reasons for r in recs)
        alone[o.key] = [r.demand_key for r in recs]
    full = engine_rankings(m.match(orgs, demands))[1]
    ndcg_alone = np.mean([ndcg_at_k(alone.get(q, []), labels[q], 10) for q in queries])
    ndcg_full = np.mean([ndcg_at_k(full.get(q, []), labels[q], 10) for q in queries])
    assert ndcg_alone >= ndcg_full - 0.02
