"""Meaning vectors are the application's: encoded once per distinct text, stored, reused by full and
incremental runs; matching works by words alone until they are there."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app
from api.db import session_scope
from api.services.records import load_demands, load_organizations
from api.services.runs import run_rematch
from api.services.vectors import encode_missing, pack, stored_vectors, unpack
from matcher import Matcher
from matcher.semantic import E5Encoder, Role
from models import Demand, Recommendation, TextVector
from tests.world import World


class Counting:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self, inner: E5Encoder) -> None:
        self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, 0

    def encode(self, texts, role: Role):  # type: ignore[no-untyped-def]
        self.texts += len(texts)
        return self.inner.encode(texts, role)


def records(session: Session):  # type: ignore[no-untyped-def]
    return load_organizations(session), load_demands(session)[0]


def test_vectors_are_stored_once_and_reused_while_a_text_is_unchanged(world: World, encoder: E5Encoder) -> None:
    counting = Counting(encoder)
    with session_scope(world.engine) as session:
        orgs, dems = records(session)
        distinct = len({o.text for o in orgs}) + len({d.text for d in dems})
        first = encode_missing(session, orgs, dems, encoder=counting, batch=2)
        assert first.encoded == counting.texts == distinct and first.already == 0
        again = encode_missing(session, orgs, dems, encoder=counting)
        assert again.encoded == 0 and again.already == distinct and counting.texts == distinct  # nothing recomputed
        vectors = stored_vectors(session, orgs, dems, encoder.name)
        assert vectors is not None
        assert set(vectors.demands) == {d.key for d in dems} and set(vectors.organizations) == {o.key for o in orgs}
        # Stored as float16: the cosine of a text with itself stays 1 to three decimals.
        v = next(iter(vectors.demands.values()))
        assert abs(float(v @ v) - 1.0) < 2e-3
        demand = session.get(Demand, int(dems[0].key))
        assert demand is not None
        demand.description += "，另需冬季取暖棉衣"
        session.add(demand)
    with session_scope(world.engine) as session:
        orgs, dems = records(session)
        third = encode_missing(session, orgs, dems, encoder=counting)
        assert third.encoded == 1 and counting.texts == distinct + 1  # only the changed text
        assert session.exec(select(TextVector)).first() is not None


def test_pack_and_unpack_keep_a_vector() -> None:
    v = np.random.default_rng(1).normal(size=384).astype(np.float32)
    v /= np.linalg.norm(v)
    assert np.allclose(unpack(pack(v)), v, atol=1e-3)
    assert len(pack(v)) == 768


def test_a_run_before_encoding_matches_by_words_and_after_it_by_meaning_too(world: World, shared_matcher: Matcher,
                                                                           encoder: E5Encoder) -> None:
    with session_scope(world.engine) as session:
        before = run_rematch(session, shared_matcher, keep_runs=3)
        assert before.config["semantic_records"] == 0
        assert before.config["records"] == before.n_demands + before.n_organizations > 0
        words = {(r.demand_id, r.organization_id): r.signals for r in
                 session.exec(select(Recommendation).where(Recommendation.run_id == before.id))}
        assert all(s["semantic"] == 0 for s in words.values())
    with session_scope(world.engine) as session:
        encode_missing(session, *records(session), encoder=encoder)
    with session_scope(world.engine) as session:
        after = run_rematch(session, shared_matcher, keep_runs=3)
        assert after.config["semantic_records"] == after.config["records"]
        recs = list(session.exec(select(Recommendation).where(Recommendation.run_id == after.id)))
        assert any(r.signals["semantic"] > 0 for r in recs)


def test_duijie_encode_reports_progress_and_rematch_says_what_had_meaning(cli_env: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--organizations", "12", "--demands", "20"]).exit_code == 0
    out = runner.invoke(app, ["rematch"]).output
    assert "其余本次仅按词语匹配" in out and "duijie encode" in out
    first = runner.invoke(app, ["encode", "--limit", "5"])
    assert first.exit_code == 0, first.output
    assert "已编码 5/5" in first.output and "新编码5条" in first.output
    rest = runner.invoke(app, ["encode"]).output
    assert "此前已有5条" in rest
    assert "均已有语义向量" in runner.invoke(app, ["rematch"]).output


def test_meaning_can_be_turned_off(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.settings import get_settings

    monkeypatch.setenv("DUIJIE_SEMANTIC", "false")
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--organizations", "12", "--demands", "20"]).exit_code == 0
    assert "已关闭" in runner.invoke(app, ["encode"]).output
    assert "已关闭" in runner.invoke(app, ["rematch"]).output
    get_settings.cache_clear()


def test_the_staff_overview_says_how_much_of_the_last_run_had_meaning(world: World, shared_matcher: Matcher,
                                                                    encoder: E5Encoder) -> None:
    page = world.web_login("admin").get("/staff/overview").text
    assert "条记录已有语义向量，其余仅按词语匹配" in page
    with session_scope(world.engine) as session:
        encode_missing(session, *records(session), encoder=encoder)
    with session_scope(world.engine) as session:
        run_rematch(session, shared_matcher, keep_runs=3)
    assert "全部记录按词语与语义匹配" in world.web_login("admin").get("/staff/overview").text
