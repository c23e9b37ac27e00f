"""`duijie bench`: the engine at several scales against two baselines measured in the same run.

Each scale runs in a child process of its own (so its peak memory is its own): synthetic forms
from the demo generator, imported into a fresh SQLite file (timed apart, with the 需复核 checks an
upload runs, and the nightly 需复核 pass after it), then timed:
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
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SCALES = {"quick": (2_000, 2_000), "demo": (320, 2_400), "jilin": (20_000, 20_000),
          "national": (100_000, 1_000_000), "national-mini": (3_100, 31_000)}
# The country is matched province by province (31 blocks): a village is paired with organizations
# of its own province, as the programme is run. Memory is then bounded by the largest block.
BLOCKS = {"national": 31, "national-mini": 31}


def _rss_mb() -> float:
    """This process's own peak resident memory. VmHWM, where Linux has it: ru_maxrss also counts what
    the parent held when it started this process (Linux carries the parent's peak across the fork
    and exec), which would charge the benchmark's own data to the re-match it times."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


MEANING = "+meaning"  # a spec's suffix: every text encoded and stored first, the re-matches use the vectors


def split_spec(spec: str) -> tuple[str, str]:
    """``jilin``, ``jilin:boilerplate`` or ``jilin+meaning``: the scale and the shape of the data
    (demo_shapes.SHAPES); the ``+meaning`` suffix is read by ``run_one``."""
    scale, _, shape = spec.removesuffix(MEANING).partition(":")
    return scale, shape or "plain"


def run_one(spec: str) -> dict[str, object]:
    scale, shape = split_spec(spec)
    meaning = spec.endswith(MEANING)
    if scale in BLOCKS:
        return run_blocks(scale)
    from sqlalchemy import true
    from sqlmodel import Session

    from api.db import create_tables, make_engine
    from api.services import review
    from api.services.auth import Scope
    from api.services.catalog import create_demand
    from api.services.demo import generate
    from api.services.incremental import match_pending
    from api.services.records import load_demands, load_organizations
    from api.services.uploads import import_for_scope
    from matcher import Matcher
    from models.base import utcnow

    n_orgs, n_demands = SCALES[scale]
    tmp = Path(tempfile.mkdtemp(prefix=f"duijie-bench-{scale}-"))
    files = generate(tmp, organizations=n_orgs, demands=n_demands, seed=11, shape=shape)
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    create_tables(engine)
    loader = Matcher()
    with Session(engine, expire_on_commit=False) as session:
        started = time.perf_counter()
        import_for_scope(session, files.organizations, "orgs", scope=Scope("province"), matcher=loader)
        import_for_scope(session, files.demands, "demands", scope=Scope("province"), matcher=loader)
        session.commit()
        import_s = time.perf_counter() - started
        started = time.perf_counter()  # the nightly 需复核 pass over every open record (nothing new to flag)
        review.scan(session, loader, now=utcnow())
        session.commit()
        review_scan_s = time.perf_counter() - started
        orgs = load_organizations(session, true())
        demands, _ = load_demands(session, true())
        encoded: dict[str, object] = {}
        vectors = None
        if meaning:  # what the scheduler's encode job does after a first import, timed
            from api.services.vectors import default_encoder, encode_missing

            report = encode_missing(session, orgs, demands, encoder=default_encoder())
            encoded = {"texts_encoded": report.encoded, "encode_s": round(report.seconds, 1),
                       "texts_per_s": round(report.rate, 1)}
            from api.services.vectors import stored_vectors

            vectors = stored_vectors(session, orgs, demands)
    engine.dispose()  # no connection of this process stays open on the file the re-matches use
    os.sync()  # the import's dirty pages written out now, not by the kernel during the timed run
    rss_before = _rss_mb()

    # The full re-match in a process of its own, as `duijie rematch` runs: its peak memory is its own,
    # not the import's that made the data.
    def rematch() -> dict[str, object]:
        proc = subprocess.run([sys.executable, "-m", "api.bench.engine", "--rematch", str(tmp / "bench.db")],
                              capture_output=True, text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    run = rematch()  # the first: every text cut
    full_s, peak_mb = run["full_s"], run["peak_rss_mb"]
    warm = rematch()  # the next one, as every later night: the tokens of unchanged texts are stored

    matcher = Matcher()
    bm25_s, bm25_fast_s = _bm25_seconds(orgs, demands)

    naive_us = _naive_pair_us(orgs, demands, matcher)
    recall = _exact_recall(orgs, demands, matcher, vectors)
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

    timings = dict(run["timings"])
    return {
        "scale": (scale if shape == "plain" else f"{scale} ({shape})") + (" + meaning" if meaning else ""),
        "organizations": run["n_organizations"], "demands": run["n_demands"], "pairs": pairs,
        "full_s": round(full_s, 2), "stages": {k: round(float(v), 2) for k, v in timings.items()},
        "warm_s": round(float(warm["full_s"]), 2),  # type: ignore[arg-type]
        "warm_tokenize_s": round(float(warm["timings"]["tokenize"]), 2),  # type: ignore[index]
        "load_s": round(full_s - sum(float(v) for v in timings.values()), 2),
        "peak_rss_mb": round(peak_mb), "rss_before_mb": round(rss_before),
        "pairs_per_s": round(pairs / full_s), "recommendations": run["n_recommendations"], "coverage": run["coverage"],
        "bm25_s": round(bm25_s, 2), "bm25_fast_s": round(bm25_fast_s, 2), "naive_us_per_pair": round(naive_us, 1),
        "naive_extrapolated_s": round(naive_us * pairs / 1e6), "incremental_ms": round(incremental_ms, 1),
        "index_build_ms": round(index_build_ms), "setup_s": run.get("setup_s", "—"),
        "import_s": round(import_s, 2), "review_scan_s": round(review_scan_s, 2), **recall, **encoded,
    }


def _exact_recall(orgs, demands, matcher, vectors=None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The share of the exhaustive top 10 (every pair scored, ``every_pair``) that the engine's lists
    hold, both sides; and the same over pairs sharing a word. Uncapped: the cap is applied to what the
    candidates give, and a record's own top 10 is what they must find."""
    from matcher import Matcher
    from matcher.evaluation import topk_recall

    uncapped = Matcher(matcher.config.with_(org_cap=10**9), tokenizer=matcher.tokenizer, regions=matcher.regions,
                       lexicon=matcher.lexicon, kinds=matcher.kinds)
    fast, exhaustive = (uncapped.match(orgs, demands, vectors=vectors, every_pair=flag) for flag in (False, True))
    d, o = topk_recall(fast, exhaustive)
    ed, eo = topk_recall(fast, exhaustive, evidence_only=True)
    return {"recall_demands": round(d, 4), "recall_orgs": round(o, 4), "recall_words_demands": round(ed, 4),
            "recall_words_orgs": round(eo, 4)}


def rematch_only(db: str) -> dict[str, object]:
    """`duijie rematch` on the benchmark's database, timed from a cold matcher to the commit."""
    from sqlmodel import Session

    from api.db import create_tables, make_engine
    from api.services.runs import run_rematch
    from matcher import Matcher
    from matcher.candidates import prepare_bulk

    engine = make_engine(f"sqlite:///{db}")
    create_tables(engine)  # as `duijie rematch` does (a database made before a new table gets it)
    # What a process does once before it matches (`duijie rematch` and the re-match process alike):
    # the dictionary, numba and the compiled kernel. Reported apart, not in the re-match's time.
    setup = time.perf_counter()
    matcher = Matcher()
    prepare_bulk()
    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        run = run_rematch(session, matcher)
        session.commit()
        return {"full_s": round(time.perf_counter() - started, 2), "setup_s": round(started - setup, 2),
                "timings": run.timings,
                "peak_rss_mb": round(_rss_mb()), "n_organizations": run.n_organizations, "n_demands": run.n_demands,
                "n_recommendations": run.n_recommendations, "coverage": run.coverage}


def run_blocks(scale: str, *, seed: int = 11, workers: int = 2) -> dict[str, object]:
    """The national scale, streamed by province: all blocks are generated and stored first (not
    timed); then ``workers`` processes each take one block at a time, load it from the database,
    match it and write its recommendations (timed, wall clock), so memory holds one block per
    worker. Every block reuses Jilin's division table, the only one in data/ (the engine's cost
    depends on the counts, not on the names)."""
    import multiprocessing as mp
    import random

    from sqlalchemy import insert
    from sqlmodel import Session

    from api.db import create_tables, make_engine
    from api.services.demo import synthetic_demands, synthetic_organizations
    from api.services.runs import start_run
    from matcher import Matcher
    from models import Demand, Organization
    from models.base import utcnow

    n_orgs, n_demands = SCALES[scale]
    blocks = BLOCKS[scale]
    tmp = Path(tempfile.mkdtemp(prefix=f"duijie-bench-{scale}-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    create_tables(engine)
    matcher = Matcher()
    with Session(engine, expire_on_commit=False) as session:
        run_id = start_run(session, matcher.config).id
        session.commit()
    made = time.perf_counter()
    spans: list[tuple[int, int, int, int]] = []
    org_hi = dem_hi = 0
    for b in range(blocks):
        rng = random.Random(seed * 1000 + b)
        n_o = n_orgs // blocks + (b < n_orgs % blocks)
        n_d = n_demands // blocks + (b < n_demands % blocks)
        now = utcnow()
        org_rows = [{**clean, "id": org_hi + i + 1, "status": "active", "created_at": now, "updated_at": now}
                    for i, (_, clean) in enumerate(synthetic_organizations(rng, matcher.regions, n_o))]
        dem_rows = [{**clean, "ref": f"P{b + 1:02d}-{clean['ref']}", "id": dem_hi + j + 1, "status": "open",
                     "created_at": now, "updated_at": now}
                    for j, (_, clean) in enumerate(synthetic_demands(rng, matcher.regions, n_d))]
        with Session(engine) as session:
            session.execute(insert(Organization), org_rows)
            session.execute(insert(Demand), dem_rows)
            session.commit()
        spans.append((org_hi, org_hi + n_o, dem_hi, dem_hi + n_d))
        org_hi, dem_hi = org_hi + n_o, dem_hi + n_d
        del org_rows, dem_rows
    made_s = time.perf_counter() - made

    # Spawned, not forked: a fork of a process whose threads hold locks can hang. Each worker loads
    # its own matcher (about a second), inside the timed span.
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(workers, initializer=_block_worker, initargs=(url, run_id)) as pool:
        results = pool.map(_match_block, spans, chunksize=1)
    full_s = time.perf_counter() - started

    stages: dict[str, float] = {}
    for r in results:
        for stage, seconds in r["stages"].items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    pairs = sum(r["pairs"] for r in results)
    # The baselines, blocked the same way: block 1 timed, times the blocks, shared by as many workers.
    orgs, dems = _block_records(engine, spans[0])
    bm25_block_s, bm25_fast_block_s = _bm25_seconds(orgs, dems)
    naive_us = _naive_pair_us(orgs, dems, matcher)
    peak = max(_rss_mb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return {
        "scale": scale, "organizations": n_orgs, "demands": n_demands, "pairs": pairs, "blocks": blocks,
        "workers": workers, "full_s": round(full_s, 2), "stages": {k: round(v, 2) for k, v in stages.items()},
        "load_s": round(sum(r["load_s"] for r in results), 2), "made_s": round(made_s, 2),
        "peak_rss_mb": round(peak), "pairs_per_s": round(pairs / full_s),
        "recommendations": sum(r["recommendations"] for r in results),
        "bm25_s": round(bm25_block_s * blocks / workers, 2),
        "bm25_fast_s": round(bm25_fast_block_s * blocks / workers, 2),
        "naive_us_per_pair": round(naive_us, 1), "naive_extrapolated_s": round(naive_us * pairs / 1e6),
        "incremental_ms": "—", "index_build_ms": "—",
    }


_block_matcher = None  # each block worker's own matcher and database engine
_block_engine = None
_block_run = 0


def _block_worker(url: str, run_id: int) -> None:
    from api.db import make_engine
    from matcher import Matcher
    from matcher.candidates import prepare_bulk

    global _block_matcher, _block_engine, _block_run
    _block_matcher, _block_engine, _block_run = Matcher(), make_engine(url), run_id
    prepare_bulk()  # a process that matches in bulk, set up as `duijie rematch` sets up its own


def _block_records(engine, span: tuple[int, int, int, int]):  # type: ignore[no-untyped-def]
    from sqlmodel import Session, col

    from api.services.records import load_demands, load_organizations
    from models import Demand, Organization

    org_lo, org_hi, dem_lo, dem_hi = span
    with Session(engine) as session:
        orgs = load_organizations(session, col(Organization.id) > org_lo, col(Organization.id) <= org_hi)
        dems, _ = load_demands(session, col(Demand.id) > dem_lo, col(Demand.id) <= dem_hi)
    return orgs, dems


def _match_block(span: tuple[int, int, int, int]) -> dict[str, object]:
    """One block in a worker: load, match, write; the seconds of each stage."""
    from sqlalchemy import text
    from sqlmodel import Session

    from api.services.bulk import batch_rows, insert_recommendations

    assert _block_matcher is not None
    _block_matcher.tokenizer.clear_cache()  # cold for every block: the generator repeats its templates
    started = time.perf_counter()
    orgs, dems = _block_records(_block_engine, span)
    load_s = time.perf_counter() - started
    rows: list[tuple[object, ...]] = []
    encoding = 0.0

    def collect(batch) -> None:  # type: ignore[no-untyped-def]
        nonlocal encoding
        began = time.perf_counter()
        rows.extend(batch_rows(_block_run, batch))
        encoding += time.perf_counter() - began

    # Rows are made as the engine explains, and written at the end in one short transaction: the
    # other worker writes its blocks to the same file.
    result = _block_matcher.match(orgs, dems, sink=collect)
    write_start = time.perf_counter()
    with Session(_block_engine) as session:
        session.execute(text("PRAGMA busy_timeout=120000"))  # the other worker may be writing its block
        insert_recommendations(session, rows)
        session.commit()
    stages = {**result.stats.timings, "db_write": time.perf_counter() - write_start + encoding}
    stages["explain"] -= encoding
    return {"stages": stages, "load_s": load_s, "pairs": len(orgs) * len(dems), "recommendations": len(rows)}


def _bm25_seconds(orgs, demands) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The BM25 baseline's time with its own cold tokenizer (tokenizing counted): over jieba tokens,
    as specified, and over jieba-next's (the same tokens, faster), so the tokenizer's share shows."""
    from matcher.categories import ActionLexicon
    from matcher.evaluation import bm25_rankings
    from matcher.text import Tokenizer

    seconds = []
    for fast in (False, True):
        started = time.perf_counter()
        bm25_rankings(orgs, demands, Tokenizer(fast=fast, extra_words=ActionLexicon.from_file().words()), k=10)
        seconds.append(time.perf_counter() - started)
    return seconds[0], seconds[1]


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
    head = ("| scale | orgs × demands | full re-match (s) | load | tokenize | vectorize | candidates | signals "
            "| ranking | explain | db write | peak RSS (MB) | pairs/s | next re-match, tokens stored (s) "
            "| its tokenize "
            "| BM25 baseline, jieba (s) | ratio engine/BM25 | ratio next/BM25 "
            "| BM25, jieba-next tokens (s) | ratio | naive Python (s, extrapolated) | ratio naive/engine "
            "| one demand incremental (ms) | first incremental, with index build (ms) "
            "| process set-up before the clock (s) |")
    lines = [head, "|" + "|".join(["---"] * 25) + "|"]
    for r in rows:
        st = r["stages"]
        assert isinstance(st, dict)
        lines.append(
            f"| {r['scale']} | {r['organizations']:,} × {r['demands']:,}{_blocks(r)} | {r['full_s']} | {r['load_s']} | "
            f"{st.get('tokenize')} | "
            f"{st.get('vectorize')} | {st.get('candidates')} | {st.get('signals')} | {st.get('ranking')} | "
            f"{st.get('explain')} | {st.get('db_write')} | {r['peak_rss_mb']} | {r['pairs_per_s']:,} | "
            f"{r.get('warm_s', '—')} | {r.get('warm_tokenize_s', '—')} | {r['bm25_s']} | "
            f"{float(r['full_s']) / float(r['bm25_s']):.2f} | {_ratio(r.get('warm_s'), r['bm25_s'])} | "
            f"{r['bm25_fast_s']} | "
            f"{float(r['full_s']) / float(r['bm25_fast_s']):.2f} | {r['naive_extrapolated_s']:,} | "
            f"{float(r['naive_extrapolated_s']) / float(r['full_s']):.0f} | {r['incremental_ms']} | "
            f"{r['index_build_ms']} | {r.get('setup_s', '—')} |")
    lines += ["", "| scale | import of both forms, 需复核 checks included (s) | nightly 需复核 pass (s) "
              "| recall of the exhaustive top 10: demands / organizations | pairs sharing a word |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['scale']} | {r.get('import_s', '—')} | {r.get('review_scan_s', '—')} | "
              f"{r.get('recall_demands', '—')} / {r.get('recall_orgs', '—')} | "
              f"{r.get('recall_words_demands', '—')} / {r.get('recall_words_orgs', '—')} |" for r in rows]
    with_meaning = [r for r in rows if "texts_encoded" in r]
    if with_meaning:
        lines += ["", "| scale | distinct texts encoded | encoding, all of them (s) | texts/s |", "|---|---|---|---|"]
        lines += [f"| {r['scale']} | {r['texts_encoded']:,} | {r['encode_s']} | {r['texts_per_s']} |"
                  for r in with_meaning]
    return "\n".join(lines)


def _ratio(a: object, b: object) -> str:
    return "—" if a is None else f"{float(a) / float(b):.2f}"  # type: ignore[arg-type]


def _blocks(row: dict[str, object]) -> str:
    return f" in {row['blocks']} blocks, {row['workers']} workers" if row.get("blocks") else ""


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
Command: `make bench` (quick, and jilin on every shape of data) or `duijie bench --scale jilin:boilerplate …`.

{table}

Full re-match = `duijie rematch` end to end: loading records from SQLite, every engine stage,
and the database write. BM25 = plain all-pairs BM25 top-10 for every demand over jieba tokens
(bm25s, tokenizing included). Naive = every pair scored in a Python loop, timed on 20 demands.
"""


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2]), ensure_ascii=False))
    elif len(sys.argv) == 3 and sys.argv[1] == "--rematch":
        print(json.dumps(rematch_only(sys.argv[2]), ensure_ascii=False))
