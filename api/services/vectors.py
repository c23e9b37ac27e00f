"""Meaning vectors of the records' texts: encoded once per distinct text, stored, reused.

A full or incremental run reads the vectors stored so far (``stored_vectors``); texts without one
are matched by words alone until the background job (``encode_missing``, the scheduler's
``encode_texts`` and ``duijie encode``) has encoded them, a committed batch at a time, so a crash
loses at most one batch and a restart goes on where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from api.settings import get_settings
from matcher import DemandRecord, OrganizationRecord
from matcher.semantic import E5Encoder, Encoder, Role, SemanticVectors, text_digest
from models import TextVector

BATCH = 64  # texts encoded and committed at a time


@lru_cache(maxsize=1)
def default_encoder() -> Encoder:
    return E5Encoder()


def encoder_name() -> str | None:
    """The model whose vectors runs use; None when meaning is turned off."""
    return E5Encoder.name if get_settings().semantic else None


def pack(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()  # float16: half the bytes, cosines to ~1e-3


def unpack(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


def _texts(orgs: Sequence[OrganizationRecord], demands: Sequence[DemandRecord], model: str
           ) -> tuple[list[str], list[str], dict[str, tuple[Role, str]]]:
    """Each record's digest (organizations', demands') and every distinct digest's role and text."""
    texts: dict[str, tuple[Role, str]] = {}
    o_digests, d_digests = [], []
    for role, records, out in (("organization", orgs, o_digests), ("demand", demands, d_digests)):
        for r in records:
            digest = text_digest(model, role, r.text)  # type: ignore[arg-type]
            out.append(digest)
            texts.setdefault(digest, (role, r.text))  # type: ignore[arg-type]
    return o_digests, d_digests, texts


_FEW = 500  # digests looked up by key; more, and the model's whole store is read once instead


def _stored(session: Session, model: str, digests: Sequence[str], *, vectors: bool = True) -> dict[str, bytes | None]:
    """The stored vectors (or, with ``vectors=False``, just which are stored) of these digests: a
    lookup by key for a few (a new record in the incremental job), one read of the store for many."""
    columns = (TextVector.digest, TextVector.vector) if vectors else (TextVector.digest,)
    if len(digests) > _FEW:
        rows = session.execute(select_columns(*columns).where(TextVector.model == model))
        return {r[0]: r[1] if vectors else None for r in rows}
    return {r[0]: r[1] if vectors else None
            for r in session.execute(select_columns(*columns).where(col(TextVector.digest).in_(list(digests))))}


def stored_vectors(session: Session, orgs: Sequence[OrganizationRecord], demands: Sequence[DemandRecord],
                   model: str | None = None) -> SemanticVectors | None:
    """The vectors stored for these records' texts (records without one are left out); None when
    meaning is turned off."""
    model = model or encoder_name()
    if model is None:
        return None
    o_digests, d_digests, texts = _texts(orgs, demands, model)
    stored = _stored(session, model, list(texts))
    return SemanticVectors(
        demands={d.key: unpack(stored[g]) for d, g in zip(demands, d_digests, strict=True) if g in stored},
        organizations={o.key: unpack(stored[g]) for o, g in zip(orgs, o_digests, strict=True) if g in stored})


@dataclass
class EncodeReport:
    encoded: int
    total: int  # distinct texts of the records given
    already: int  # of them stored before
    seconds: float

    @property
    def rate(self) -> float:
        return self.encoded / self.seconds if self.seconds > 0 else 0.0


def encode_missing(session: Session, orgs: Sequence[OrganizationRecord], demands: Sequence[DemandRecord], *,
                   encoder: Encoder | None = None, batch: int = BATCH, limit: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> EncodeReport:
    """Encode the texts of these records that have no vector yet, committing each batch;
    ``progress(done, to_do)`` after each. ``limit`` caps how many are encoded in this call."""
    encoder = encoder or default_encoder()
    began = time.perf_counter()
    _, _, texts = _texts(orgs, demands, encoder.name)
    stored = set(_stored(session, encoder.name, list(texts), vectors=False))
    # Demands first: a new village need is what staff wait to see matched.
    missing = sorted((d for d in texts if d not in stored), key=lambda d: texts[d][0] != "demand")
    if limit is not None:
        missing = missing[:limit]
    done = 0
    for start in range(0, len(missing), batch):
        part = missing[start:start + batch]
        rows = []
        for role in ("demand", "organization"):
            of_role = [d for d in part if texts[d][0] == role]
            if of_role:
                vectors = encoder.encode([texts[d][1] for d in of_role], role)  # type: ignore[arg-type]
                rows += [TextVector(digest=d, model=encoder.name, vector=pack(v))
                         for d, v in zip(of_role, vectors, strict=True)]
        # Another process may have stored some meanwhile (a manual run beside the scheduler's).
        there = set(session.execute(select_columns(TextVector.digest)
                                    .where(col(TextVector.digest).in_(part))).scalars())
        session.add_all([r for r in rows if r.digest not in there])
        session.commit()
        done += len(part)
        if progress is not None:
            progress(done, len(missing))
    return EncodeReport(encoded=done, total=len(texts), already=len(texts.keys() & stored),
                        seconds=time.perf_counter() - began)
