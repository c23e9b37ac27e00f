"""The duijie matching engine: a pure library.

It takes plain records (:mod:`matcher.records`) and returns ranked, explained
recommendations. It imports no web, database or scheduler code.

Stages, one module each: :mod:`text` (normalise, tokenize), :mod:`regions`
(divisions, reach, distance), :mod:`categories` (the six actions, inference),
:mod:`candidates` (sparse top-k), :mod:`signals` (per-pair features),
:mod:`scoring` (features to score and reasons), :mod:`explanations` (the reasons of
many pairs at once, as columns), :mod:`ranking` (top-k, cap,
coverage), :mod:`evaluation` (NDCG, recall, the BM25 baseline); :mod:`engine`
composes them in the :class:`~matcher.engine.Matcher` facade.
"""

from matcher.config import MatchConfig
from matcher.engine import Matcher, MatchResult
from matcher.explanations import RecommendationBatch
from matcher.records import DemandRecord, OrganizationRecord, Recommendation

__all__ = [
    "DemandRecord",
    "MatchConfig",
    "MatchResult",
    "Matcher",
    "OrganizationRecord",
    "Recommendation",
    "RecommendationBatch",
]
