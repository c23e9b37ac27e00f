"""What staff decisions, organizations' dismissals and villages' ratings teach the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from api.services import projects
from models import Pairing
from models.pairing import CLOSED_STATUSES


@dataclass
class Learning:
    excluded: set[tuple[int, int]]  # (demand id, organization id) never to suggest again
    feedback: dict[int, tuple[int, int]]  # organization id: (approved, rejected)
    ratings: dict[int, tuple[float, int]]  # organization id: (mean village rating, rated projects)

    def keyed(self) -> dict[str, Any]:
        """As the engine takes them, keyed by its string keys."""
        return {"excluded_pairs": {(str(d), str(o)) for d, o in self.excluded},
                "organization_feedback": {str(k): v for k, v in self.feedback.items()},
                "organization_ratings": {str(k): v for k, v in self.ratings.items()}}


def learning_inputs(session: Session) -> Learning:
    """What staff decisions, organizations' dismissals and villages' ratings teach the engine."""
    excluded: set[tuple[int, int]] = set()
    feedback: dict[int, list[int]] = {}
    for pairing in session.exec(select(Pairing).where(col(Pairing.status).in_(CLOSED_STATUSES))).all():
        if pairing.status in ("rejected", "dismissed"):
            excluded.add((pairing.demand_id, pairing.organization_id))
        counts = feedback.setdefault(pairing.organization_id, [0, 0])
        if pairing.status == "approved":
            counts[0] += 1
        elif pairing.status == "rejected":
            counts[1] += 1
    return Learning(excluded, {k: (a, r) for k, (a, r) in feedback.items()}, projects.village_ratings(session))

