"""One run of the engine over everything: when, with which config, what came out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class MatchRun(SQLModel, table=True):
    __tablename__ = "match_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="running", max_length=20)  # running | done | failed
    config_hash: str = Field(max_length=32)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    n_organizations: int = 0
    n_demands: int = 0
    pairs_considered: int = 0
    n_recommendations: int = 0
    coverage: float = 0.0
    demands_without_candidates: int = 0
    duration_s: float = 0.0
    timings: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = None
