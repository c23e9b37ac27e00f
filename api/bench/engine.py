"""`duijie bench`: the engine at several scales against two baselines measured in the same run.

Each scale runs in a child process of its own (so its peak memory is its own): synthetic forms
from the demo generator, imported into a fresh SQLite file (not timed), then timed:
- the full re-match end to end (load, tokenize, vectorize, candidates, signals, ranking,
  explanations, database write), as `duijie rematch` does it;
- the plain BM25 baseline: bm25s top-k for every demand over jieba tokens (tokenizing included);
- the straightforward implementation: every pair scored in a Python loop, timed on a sample of
  demands and extrapolated to all pairs;
- one new demand matched incrementally, end to end including the database write.
"""

from __future__ import annotations

import json
import math
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SCALES = {"quick": (2_000, 2_000), "demo": (320, 2_400), "jilin": (20_000, 20_000)}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(scale: str) -> dict[str, object]:
    from sqlmodel import Session, select

    from api.db import create_tables, make_engine
    from api.services.auth import Scope
    from api.services.catalog import create_demand
    from api.services.demo import generate
    from api.services.incremental import match_pending
    from api.services.matching import demand_record, org_record, run_rematch
    from api.services.uploads import import_for_scope
    from matcher import Matcher
    from matcher.evaluation import bm25_rankings
    from models import Demand, Organization

    n_orgs, n_demands = SCALES[scale]
    tmp = Path(tempfile.mkdtemp(prefix=f"duijie-bench-{scale}-"))
    files = generate(tmp, organizations=n_orgs, demands=n_demands, seed=11)
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    create_tables(engine)
    loader = Matcher()
    with Session(engine, expire_on_commit=False) as session:
        import_for_scope(session, files.organizations, "orgs", scope=Scope("province"), matcher=loader)
        import_for_scope(session, files.demands, "demands", scope=Scope("province"), matcher=loader)
        session.commit()
        orgs = [org_record(o) for o in session.exec(select(Organization)).all()]
        demands = [demand_record(d) for d in session.exec(select(Demand)).all()]
    rss_before = _rss_mb()

    matcher = Matcher()  # cold: no cached tokens
    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        run = run_rematch(session, matcher)
        session.commit()
    full_s = time.perf_counter() - started
    peak_mb = _rss_mb()

    started = time.perf_counter()
    bm25_rankings(orgs, demands, Matcher().tokenizer, k=10)  # its own tokenizer: tokenizing counted too
    bm25_s = time.perf_counter() - started

    naive_us = _naive_pair_us(orgs, demands, matcher)
    pairs = len(orgs) * len(demands)

    # New demands, each matched incrementally against everything, end to end with the write, in a
    # warm process as the scheduler is. The first call also builds the organizations' index (once
    # per process, and again only after an organization changes); the figure is the median of the rest.
    calls: list[float] = []
    for i in range(6):
        with Session(engine, expire_on_commit=False) as session:
            create_demand(session, Scope("province"), {
                "ref": f"BENCH-{i}", "city": "延边州", "county": "汪清县", "title": "空巢老人义诊",
                "description": f"为村里{i + 20}位空巢老人测血压血糖，送常用药", "contact_name": "李",
                "contact_phone": "13904330001",
            }, matcher)
            session.commit()
            started = time.perf_counter()
            match_pending(session, matcher)
            session.commit()
            calls.append((time.perf_counter() - started) * 1000)
    index_build_ms = calls[0]
    incremental_ms = sorted(calls[1:])[len(calls[1:]) // 2]

    timings = dict(run.timings)
    return {
        "scale": scale, "organizations": run.n_organizations, "demands": run.n_demands, "pairs": pairs,
        "full_s": round(full_s, 2), "stages": {k: round(float(v), 2) for k, v in timings.items()},
        "load_s": round(full_s - sum(float(v) for v in timings.values()), 2),
        "peak_rss_mb": round(peak_mb), "rss_before_mb": round(rss_before),
        "pairs_per_s": round(pairs / full_s), "recommendations": run.n_recommendations, "coverage": run.coverage,
        "bm25_s": round(bm25_s, 2), "naive_us_per_pair": round(naive_us, 1),
        "naive_extrapolated_s": round(naive_us * pairs / 1e6), "incremental_ms": round(incremental_ms, 1),
        "index_build_ms": round(index_build_ms),
    }


def _naive_pair_us(orgs, demands, matcher, sample: int = 20) -> float:  # type: ignore[no-untyped-def]
    """Score pairs one by one in Python (term-count cosine + category + same county), on a sample."""
    tok = matcher.tokenizer
    org_vecs = [Counter(tok.tokens(o.text)) for o in orgs]
    org_norm = [math.sqrt(sum(v * v for v in c.values())) or 1.0 for c in org_vecs]
    chosen = demands[:sample]
    started = time.perf_counter()
    for d in chosen:
        dv = Counter(tok.tokens(d.text))
        dn = math.sqrt(sum(v * v for v in dv.values())) or 1.0
        scores = []
        for o, ov, on in zip(orgs, org_vecs, org_norm, strict=True):
            dot = sum(c * ov.get(w, 0) for w, c in dv.items())
            s = 0.5 * dot / (dn * on) + 0.2 * (d.category in o.actions) + 0.3 * (d.county_code == o.county_code)
            scores.append(s)
        sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:10]
    return (time.perf_counter() - started) / (len(chosen) * len(orgs)) * 1e6


def table(rows: list[dict[str, object]]) -> str:
    head = ("| scale | orgs × demands | full re-match (s) | tokenize | vectorize | candidates | signals | ranking "
            "| explain | db write | peak RSS (MB) | pairs/s | BM25 baseline (s) | ratio engine/BM25 "
            "| naive Python (s, extrapolated) | ratio naive/engine | one demand incremental (ms) "
            "| first incremental, with index build (ms) |")
    lines = [head, "|" + "|".join(["---"] * 18) + "|"]
    for r in rows:
        st = r["stages"]
        assert isinstance(st, dict)
        lines.append(
            f"| {r['scale']} | {r['organizations']:,} × {r['demands']:,} | {r['full_s']} | {st.get('tokenize')} | "
            f"{st.get('vectorize')} | {st.get('candidates')} | {st.get('signals')} | {st.get('ranking')} | "
            f"{st.get('explain')} | {st.get('db_write')} | {r['peak_rss_mb']} | {r['pairs_per_s']:,} | {r['bm25_s']} | "
            f"{float(r['full_s']) / float(r['bm25_s']):.2f} | {r['naive_extrapolated_s']:,} | "
            f"{float(r['naive_extrapolated_s']) / float(r['full_s']):.0f} | {r['incremental_ms']} | "
            f"{r['index_build_ms']} |")
    return "\n".join(lines)


def run(scales: list[str], out: Path | None) -> list[dict[str, object]]:
    rows = []
    for scale in scales:
        proc = subprocess.run([sys.executable, "-m", "api.bench.engine", "--one", scale], capture_output=True,
                              text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    text = table(rows)
    if out is not None:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
        out.write_text(RESULTS_HEADER.format(commit=commit or "unknown", machine=machine,
                                             date=time.strftime("%Y-%m-%d"), table=text), encoding="utf-8")
    return rows


RESULTS_HEADER = """# Latest `make bench` run

Commit `{commit}` on {date}, {machine}, 2 cores (the shared CI machine: compare ratios, not seconds).
Command: `make bench` (scales quick and jilin) or `duijie bench --scale quick --scale jilin`.

{table}

Full re-match = `duijie rematch` end to end: loading records from SQLite, every engine stage,
and the database write. BM25 = plain all-pairs BM25 top-10 for every demand over jieba tokens
(bm25s, tokenizing included). Naive = every pair scored in a Python loop, timed on 20 demands.
"""


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2]), ensure_ascii=False))
