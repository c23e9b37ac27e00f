"""The re-match on every shape of data the bench uses: its candidates come from one pass of the
kernel, whatever the near-ties, and its lists are those of scoring every pair (BENCHMARKS.md has the
Jilin-scale figures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.services.demo import generate
from api.services.demo_shapes import SHAPES
from api.services.evaluation import demand_from_fields, org_from_fields, parse_form
from matcher import Matcher
from matcher.evaluation import topk_recall


@pytest.mark.parametrize("shape", SHAPES)
def test_the_rematch_lists_the_exhaustive_top_10_on_every_shape(shape: str, tmp_path: Path, shared_matcher: Matcher,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import matcher.candidates as candidates

    monkeypatch.setattr(candidates, "SMALL", 0)  # the compiled kernel, as at scale
    files = generate(tmp_path, organizations=500, demands=700, seed=17, shape=shape)
    orgs = [org_from_fields(r) for r in parse_form(files.organizations, "orgs", shared_matcher)]
    demands = [demand_from_fields(r) for r in parse_form(files.demands, "demands", shared_matcher)]
    fast = shared_matcher.match(orgs, demands)
    exhaustive = shared_matcher.match(orgs, demands, every_pair=True)
    by_demand, by_org = topk_recall(fast, exhaustive)
    print(f"{shape}: recall of the exhaustive top 10 — demands {by_demand:.4f}, organizations {by_org:.4f}")
    # Equal scores may fall either side of a list's end: nothing else may differ.
    assert by_demand >= 0.999 and by_org >= 0.999
