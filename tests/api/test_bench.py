"""The national benchmark's streaming path: province blocks matched by worker processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from api.bench import engine as bench


def test_blocks_are_matched_within_themselves_and_all_get_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(bench.SCALES, "tiny-national", (60, 600))
    monkeypatch.setitem(bench.BLOCKS, "tiny-national", 3)
    made: list[Path] = []
    real_mkdtemp = bench.tempfile.mkdtemp

    def mkdtemp(**kwargs: str) -> str:
        made.append(Path(real_mkdtemp(**kwargs)))
        return str(made[-1])

    monkeypatch.setattr(bench.tempfile, "mkdtemp", mkdtemp)
    row = bench.run_blocks("tiny-national", workers=2)
    assert row["organizations"] == 60 and row["demands"] == 600 and row["blocks"] == 3
    assert row["pairs"] == 3 * 20 * 200  # pairs within blocks only, not 60 x 600
    with sqlite3.connect(made[0] / "bench.db") as con:
        blocks = con.execute(
            "SELECT (r.demand_id - 1) / 200, (r.organization_id - 1) / 20, count(*) FROM recommendation r "
            "GROUP BY 1, 2").fetchall()
        listed = con.execute("SELECT count(DISTINCT demand_id) FROM recommendation WHERE demand_rank = 1").fetchone()
        stored = con.execute("SELECT count(*) FROM recommendation").fetchone()
    assert sorted((d, o) for d, o, _ in blocks) == [(0, 0), (1, 1), (2, 2)]  # never across provinces
    assert stored[0] == row["recommendations"]
    assert listed[0] > 0.9 * 600
    assert set(row["stages"]) >= {"tokenize", "candidates", "ranking", "explain", "db_write"}
    assert "in 3 blocks, 2 workers" in bench.table([row])
