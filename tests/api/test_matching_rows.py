"""Recommendation rows carry the same JSON that json.dumps would write, however they are built."""

from __future__ import annotations

import json

from api.services.matching import recommendation_rows
from matcher import Recommendation


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_rows_hold_exactly_the_json_of_signals_and_reasons() -> None:
    recs = [
        Recommendation("7", "9", 0.8123, {"text": 0.1, "category": 1e-05, "reach": 1.0, "distance_km": 12.5,
                                          "scale": 0.6, "feedback": 1}, ("类别一致：医护康养", '带"引号"\\与换行\n'),
                       demand_rank=1, organization_rank=None, keywords=("义诊", "老年人")),
        Recommendation("8", "9", 0.5, {"text": float("nan"), "reach": 2.0}, (), keywords=()),
    ]
    rows = recommendation_rows(3, recs)
    assert [r[:6] for r in rows] == [(3, 7, 9, 1, None, 0.8123), (3, 8, 9, None, None, 0.5)]
    for row, rec in zip(rows, recs, strict=True):
        assert row[6] == _dumps({**rec.signals, "keywords": list(rec.keywords)})
        assert row[7] == _dumps(list(rec.reasons))
    assert json.loads(rows[0][7])[1] == '带"引号"\\与换行\n'
