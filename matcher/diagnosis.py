"""Why one pair is recommended, or why not: its signals and its rank on both sides when it is ranked
against everything, with no list length, cap or score floor in the way.

>>> from matcher import DemandRecord, Matcher, OrganizationRecord
>>> m = Matcher()
>>> orgs = [OrganizationRecord(key="1", name="仁爱医院", level="county", city_code="222400",
...                            county_code="222424", actions=("医护康养",), capability="医生下乡义诊，为老年人体检"),
...         OrganizationRecord(key="2", name="电商协会", level="county", city_code="222400",
...                            county_code="222424", actions=("消费帮扶",), capability="开网店直播带货")]
>>> dems = [DemandRecord(key="D", city_code="222400", county_code="222424", title="老人义诊",
...                      description="为空巢老人义诊体检", category="医护康养")]
>>> d = diagnose(m, orgs, dems, demand_key="D", organization_key="2")
>>> (d.demand_rank, d.demand_candidates, d.below_text_gate)
(2, 2, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from matcher.config import MatchConfig
from matcher.engine import DemandIndex, Matcher, OrganizationIndex
from matcher.records import DemandRecord, OrganizationRecord, Recommendation
from matcher.semantic import SemanticVectors


@dataclass(frozen=True)
class PairDiagnosis:
    """One pair against everything: ``recommendation`` is the pair as scored (None: it is not even
    a candidate, nothing in common), ranks are 1-based among every candidate of that side."""

    recommendation: Recommendation | None
    demand_rank: int | None
    demand_candidates: int
    organization_rank: int | None
    organization_candidates: int
    top_k: int
    min_score: float
    text_gate: float
    config: MatchConfig | None = None

    @property
    def without_evidence(self) -> bool:
        """No capability evidence at all: no words, no meaning and no kind that points to the need
        (the engine's floor), so never recommended whatever the organization declared."""
        cfg, rec = self.config, self.recommendation
        if cfg is None or rec is None or cfg.evidence_floor is None:
            return False
        s = rec.signals
        return (s.get("text", 0.0) <= cfg.evidence_floor and s.get("semantic", 0.0) <= cfg.semantic_evidence
                and s.get("kind", 0.0) < cfg.kind_evidence)

    @property
    def below_text_gate(self) -> bool:
        return self.recommendation is not None and self.recommendation.signals.get("text", 0.0) < self.text_gate

    @property
    def out_of_reach(self) -> bool:
        return self.recommendation is not None and self.recommendation.signals.get("reach", 0.0) <= 0.0

    @property
    def below_min_score(self) -> bool:
        return self.recommendation is not None and self.recommendation.score < self.min_score


def diagnose(matcher: Matcher, organizations: Sequence[OrganizationRecord], demands: Sequence[DemandRecord], *,
             demand_key: str, organization_key: str, excluded_pairs: Iterable[tuple[str, str]] = (),
             organization_feedback: Mapping[str, tuple[int, int]] | None = None,
             organization_ratings: Mapping[str, tuple[float, int]] | None = None,
             today: date | None = None, organization_index: OrganizationIndex | None = None,
             demand_index: DemandIndex | None = None, vectors: SemanticVectors | None = None) -> PairDiagnosis:
    """The pair's signals and ranks; ``excluded_pairs`` drop other pairs, never this one (why a
    rejected pair is not suggested is the caller's to say). With the indexes the incremental job
    keeps (``Matcher.index_organizations``, ``index_demands``) the pair scores as a single new
    record does there, within the third decimal of a full run."""
    demand = next(d for d in demands if d.key == demand_key)
    org = next(o for o in organizations if o.key == organization_key)
    cfg = matcher.config
    everything = max(len(organizations), len(demands), cfg.top_k)
    wide = Matcher(cfg.with_(top_k=everything, shortlist=everything, org_cap=everything, min_score=0.0),
                   regions=matcher.regions, tokenizer=matcher.tokenizer, lexicon=matcher.lexicon, kinds=matcher.kinds)
    kept = [p for p in excluded_pairs if p != (demand_key, organization_key)]
    learned = {"excluded_pairs": kept, "organization_feedback": organization_feedback,
               "organization_ratings": organization_ratings, "today": today, "vectors": vectors,
               "scored_pairs": [(demand_key, organization_key)]}
    by_demand = wide.match(organization_index.orgs if organization_index else organizations, [demand],
                           organization_index=organization_index, **learned).for_demand(demand_key)  # type: ignore[arg-type]
    by_org = wide.match([org], demand_index.dems if demand_index else demands, demand_index=demand_index,
                        **learned).for_organization(organization_key)  # type: ignore[arg-type]
    mine = next((r for r in by_demand if r.organization_key == organization_key), None)
    d_rank = next((i for i, r in enumerate(by_demand, 1) if r.organization_key == organization_key), None)
    o_rank = next((i for i, r in enumerate(by_org, 1) if r.demand_key == demand_key), None)
    return PairDiagnosis(mine, d_rank, len(by_demand), o_rank, len(by_org), cfg.top_k, cfg.min_score, cfg.text_gate,
                         cfg)
