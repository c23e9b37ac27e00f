"""A full re-match does not cut again the texts an earlier run already cut (issue 6)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from api.services.records import demand_record, org_record
from api.services.runs import latest_run, run_rematch
from api.services.tokens import text_key
from matcher import Matcher
from matcher.text import Tokenizer
from models import Demand, Organization, Recommendation, TokenCache
from tests.world import World


class CountingTokenizer(Tokenizer):
    """The engine's tokenizer, counting the texts it actually segments."""

    segmented: list[str]

    def plain_tokens(self, text: str) -> list[str]:
        self.segmented.append(text)
        return super().plain_tokens(text)


def fresh_matcher(shared: Matcher, **tokenizer_args: object) -> tuple[Matcher, CountingTokenizer]:
    """A matcher as a new process has it: nothing cached."""
    tokenizer = CountingTokenizer(extra_words=shared.lexicon.words(), **tokenizer_args)  # type: ignore[arg-type]
    tokenizer.segmented = []
    return Matcher(shared.config, regions=shared.regions, lexicon=shared.lexicon, tokenizer=tokenizer), tokenizer


def lists(session: Session) -> list[tuple[int, int, int | None, int | None, float]]:
    run = latest_run(session)
    assert run is not None
    rows = session.exec(select(Recommendation).where(Recommendation.run_id == run.id)
                        .order_by(col(Recommendation.demand_id), col(Recommendation.organization_id))).all()
    return [(r.demand_id, r.organization_id, r.demand_rank, r.organization_rank, r.score) for r in rows]


def test_a_later_run_reads_stored_tokens_and_cuts_only_changed_texts(world: World, shared_matcher: Matcher,
                                                                     tmp_path: Path) -> None:
    with Session(world.engine) as session:
        before = lists(session)
        stored = {t.key for t in session.exec(select(TokenCache)).all()}
        orgs = session.exec(select(Organization).where(Organization.status == "active")).all()
        demands = session.exec(select(Demand).where(Demand.status == "open")).all()
        texts = {org_record(o).text for o in orgs} | {demand_record(d).text for d in demands}
        assert stored == {text_key(shared_matcher.tokenizer.fingerprint, t) for t in texts}

        # A new process: every text comes from the store, and the lists are those of the first run.
        matcher, tokenizer = fresh_matcher(shared_matcher)
        run_rematch(session, matcher)
        session.commit()
        assert tokenizer.segmented == []
        assert lists(session) == before

        # One changed description: only that text is cut, its old entry goes, the new one is stored.
        demand = demands[0]
        old_key = text_key(tokenizer.fingerprint, demand_record(demand).text)
        demand.description = demand.description + " 另需冬季取暖棉衣"
        session.add(demand)
        session.commit()
        matcher, tokenizer = fresh_matcher(shared_matcher)
        run_rematch(session, matcher)
        session.commit()
        assert tokenizer.segmented == [demand_record(demand).text]
        keys = {t.key for t in session.exec(select(TokenCache)).all()}
        assert old_key not in keys and text_key(tokenizer.fingerprint, demand_record(demand).text) in keys
        assert len(keys) == len(stored)

        # Another dictionary: another fingerprint, so nothing stored applies.
        dictionary = tmp_path / "dictionary.txt"
        dictionary.write_text("取暖棉衣 5 n\n", encoding="utf-8")
        matcher, tokenizer = fresh_matcher(shared_matcher, dictionary=dictionary)
        run_rematch(session, matcher)
        session.commit()
        assert len(set(tokenizer.segmented)) == len(keys)
