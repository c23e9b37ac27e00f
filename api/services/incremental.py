"""Incremental matching: a created, changed or closed record is matched alone, without a full run.

Its pairs in the latest run are replaced by fresh ones against everything on the other side, and
the lists they touch are re-ranked. The per-organization cap of a full run is not re-applied
here; the next nightly run restores it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import and_, delete, func, text
from sqlmodel import Session, col, select

from api.services.bulk import insert_recommendations, recommendation_rows
from api.services.learning import learning_inputs
from api.services.records import demand_record, load_demands, load_organizations, org_record
from api.services.runs import latest_run
from api.services.vectors import default_encoder, encode_missing, encoder_name, stored_vectors
from matcher import Matcher
from matcher.engine import DemandIndex, OrganizationIndex
from matcher.semantic import SemanticVectors
from models import Demand, Organization, PendingMatch, Recommendation

FULL_RUN_THRESHOLD = 200  # more pending records than this: a full re-match is cheaper


# One prepared side per (database, matcher, side), with the version it was built from.
_indexes: dict[tuple[str, int, str], tuple[tuple[object, ...], Any]] = {}


def _cached_index(session: Session, matcher: Matcher, side: str, version: tuple[object, ...],
                  build: Callable[[], Any]) -> Any:
    key = (str(session.get_bind().url), id(matcher), side)
    cached = _indexes.get(key)
    if cached is None or cached[0] != version:
        cached = _indexes[key] = (version, build())
    return cached[1]


def organization_index(session: Session, matcher: Matcher) -> OrganizationIndex:
    """The organizations prepared for matching, kept in this process (the scheduler's) while no
    organization is added, changed or withdrawn: a new demand then costs milliseconds."""
    active = Organization.status == "active"
    version = tuple(session.execute(select(func.count(), func.max(Organization.updated_at), func.max(Organization.id))
                                    .where(active)).one())
    return _cached_index(session, matcher, "organizations", version, lambda: matcher.index_organizations(
        load_organizations(session, active)))


def demand_index(session: Session, matcher: Matcher, today: date | None) -> DemandIndex:
    """The open demands prepared for matching, kept while none is added, changed or closed (and
    the day is the same: expiry depends on it); the mirror of ``organization_index``."""
    is_open = Demand.status == "open"
    version = (*session.execute(select(func.count(), func.max(Demand.updated_at), func.max(Demand.id))
                                .where(is_open)).one(), today)
    return _cached_index(session, matcher, "demands", version, lambda: matcher.index_demands(
        load_demands(session, is_open)[0], today=today))


def _side_vectors(session: Session, matcher: Matcher, side: str, records: list[Any]) -> SemanticVectors | None:
    """The stored meaning vectors of one prepared side, kept while that side is unchanged (reading
    20,000 of them is ~0.2 s; a new demand is matched in milliseconds). Records without a vector yet
    are looked up again on each call, those alone: every new record's own encoding adds to the store,
    which must not send the whole side to be read again."""
    model = encoder_name()
    if model is None:
        return None
    orgs = side == "organizations"

    def read(some: list[Any]) -> SemanticVectors:
        found = stored_vectors(session, some if orgs else [], [] if orgs else some, model)
        assert found is not None  # its maps are fresh dicts, kept and topped up below
        return found

    vectors: SemanticVectors = _cached_index(session, matcher, f"{side}-vectors", (len(records), id(records), model),
                                             lambda: read(records))
    have = vectors.organizations if orgs else vectors.demands
    missing = [r for r in records if r.key not in have]
    if missing:
        more = read(missing)
        have.update(more.organizations if orgs else more.demands)  # type: ignore[attr-defined]
    return vectors


def _encode_pending(session: Session, demand_ids: list[int], org_ids: list[int]) -> None:
    """The new texts' meaning, before they are matched (one text: ~30 ms), committed on its own."""
    if encoder_name() is None:
        return
    orgs = load_organizations(session, col(Organization.id).in_(org_ids)) if org_ids else []
    dems = load_demands(session, col(Demand.id).in_(demand_ids))[0] if demand_ids else []
    encode_missing(session, orgs, dems, encoder=default_encoder())


# Of the other side, only the best-scoring few can take the new record into their own top k;
# their current k-th scores are read in one query. The nightly full run re-checks everyone.
OTHER_SIDE_CANDIDATES = 200


def match_pending(session: Session, matcher: Matcher, *, today: date | None = None) -> dict[str, int]:
    pending = list(session.exec(select(PendingMatch).order_by(col(PendingMatch.id))).all())
    if not pending:
        return {"demands": 0, "organizations": 0}
    run = latest_run(session)
    ids = [p.id for p in pending]
    if run is None:  # nothing to update yet: the first full run will cover these
        session.execute(delete(PendingMatch).where(col(PendingMatch.id).in_(ids)))
        return {"demands": 0, "organizations": 0}
    demand_ids = sorted({p.record_id for p in pending if p.kind == "demand"})
    org_ids = sorted({p.record_id for p in pending if p.kind == "organization"})
    _encode_pending(session, demand_ids, org_ids)
    learned = learning_inputs(session).keyed()
    k = matcher.config.top_k
    touched_demands: set[int] = set(demand_ids)
    touched_orgs: set[int] = set(org_ids)

    if demand_ids:
        index = organization_index(session, matcher)
        org_vectors = _side_vectors(session, matcher, "organizations", index.orgs)
        for demand_id in demand_ids:
            session.execute(delete(Recommendation).where(Recommendation.run_id == run.id,
                                                         Recommendation.demand_id == demand_id))
            demand = session.get(Demand, demand_id)
            if demand is None or demand.status != "open":
                continue
            record = demand_record(demand)
            vectors = None if org_vectors is None else SemanticVectors(
                demands=stored_vectors(session, [], [record]).demands,  # type: ignore[union-attr]
                organizations=org_vectors.organizations)
            result = matcher.match(index.orgs, [record], **learned, today=today, organization_index=index,
                                   other_side_limit=OTHER_SIDE_CANDIDATES, vectors=vectors)
            recs = _entering(session, run.id, result.recommendations, k, other="organization")  # type: ignore[arg-type]
            touched_orgs |= _insert(session, run.id, recs)  # type: ignore[arg-type]
    if org_ids:
        dindex = demand_index(session, matcher, today)
        dem_vectors = _side_vectors(session, matcher, "demands", dindex.dems)
        for org_id in org_ids:
            session.execute(delete(Recommendation).where(Recommendation.run_id == run.id,
                                                         Recommendation.organization_id == org_id))
            org = session.get(Organization, org_id)
            if org is None or org.status != "active":
                continue
            record = org_record(org)
            vectors = None if dem_vectors is None else SemanticVectors(
                demands=dem_vectors.demands,
                organizations=stored_vectors(session, [record], []).organizations)  # type: ignore[union-attr]
            result = matcher.match([record], dindex.dems, **learned, today=today, demand_index=dindex,
                                   other_side_limit=OTHER_SIDE_CANDIDATES, vectors=vectors)
            recs = _entering(session, run.id, result.recommendations, k, other="demand")  # type: ignore[arg-type]
            touched_demands |= {int(r.demand_key) for r in recs}
            _insert(session, run.id, recs)  # type: ignore[arg-type]
    session.flush()
    _rerank(session, run.id, k, demand_ids=touched_demands, org_ids=touched_orgs)  # type: ignore[arg-type]
    session.execute(delete(PendingMatch).where(col(PendingMatch.id).in_(ids)))
    return {"demands": len(demand_ids), "organizations": len(org_ids)}


def _entering(session: Session, run_id: int, recs: list, k: int, *, other: str) -> list:  # type: ignore[type-arg]
    """The pairs worth storing: the new record's own list, and the pairs that beat the k-th
    entry of the other side's list (or fill a list shorter than k)."""
    own_rank = "demand_rank" if other == "organization" else "organization_rank"
    other_key = "organization_key" if other == "organization" else "demand_key"
    keep = [r for r in recs if getattr(r, own_rank)]
    contenders = sorted((r for r in recs if not getattr(r, own_rank)), key=lambda r: -r.score)
    contenders = contenders[:OTHER_SIDE_CANDIDATES]
    if not contenders:
        return keep
    column = Recommendation.organization_id if other == "organization" else Recommendation.demand_id
    rank = Recommendation.organization_rank if other == "organization" else Recommendation.demand_rank
    wanted = [int(getattr(r, other_key)) for r in contenders]
    kth = {row[0]: (row[1], row[2]) for row in session.execute(
        select(column, func.count(), func.min(Recommendation.score))
        .where(Recommendation.run_id == run_id, col(rank).is_not(None), col(column).in_(wanted))
        .group_by(column)).all()}
    for r in contenders:
        n, lowest = kth.get(int(getattr(r, other_key)), (0, 0.0))
        if n < k or r.score > lowest:
            keep.append(r)
    return keep


def _insert(session: Session, run_id: int, recs: list) -> set[int]:  # type: ignore[type-arg]
    rows = recommendation_rows(run_id, recs, ranked=False)
    insert_recommendations(session, rows)
    return {row[2] for row in rows}


def _rerank(session: Session, run_id: int, k: int, *, demand_ids: set[int], org_ids: set[int]) -> None:
    """Ranks 1..k by score within each touched list; rows in no list are dropped. One read and
    one batched update per side, however many lists were touched."""
    for ids, column, rank_name in ((demand_ids, "demand_id", "demand_rank"),
                                   (org_ids, "organization_id", "organization_rank")):
        owner = getattr(Recommendation, column)
        ranks: list[dict[str, int | None]] = []
        chunk = sorted(ids)
        for start in range(0, len(chunk), 500):  # keep IN lists short on every database
            rows = session.execute(
                select(Recommendation.id, owner, Recommendation.score, getattr(Recommendation, rank_name))
                .where(Recommendation.run_id == run_id, col(owner).in_(chunk[start:start + 500]))
                .order_by(owner, col(Recommendation.score).desc(), col(Recommendation.id))).all()
            position: dict[int, int] = {}
            for rec_id, owner_id, _score, current in rows:
                i = position.get(owner_id, 0)
                position[owner_id] = i + 1
                new = i + 1 if i < k else None
                if new != current:
                    ranks.append({"run": run_id, "rid": rec_id, "r": new})
        if ranks:
            # With the run as well: on PostgreSQL it names the one partition to look in.
            session.execute(text(f"UPDATE recommendation SET {rank_name} = :r WHERE run_id = :run AND id = :rid"),
                            ranks)
    # A row can fall out of every list only where a list was re-ranked: look there, by index.
    for ids, owner in ((demand_ids, Recommendation.demand_id), (org_ids, Recommendation.organization_id)):
        chunk = sorted(ids)
        for start in range(0, len(chunk), 500):
            session.execute(delete(Recommendation).where(
                Recommendation.run_id == run_id, col(owner).in_(chunk[start:start + 500]),
                and_(col(Recommendation.demand_rank).is_(None), col(Recommendation.organization_rank).is_(None)))
                .execution_options(synchronize_session=False))
