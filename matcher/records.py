"""Plain records the engine takes in and gives out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Level = Literal["province", "city", "county"]


@dataclass(frozen=True, slots=True)
class OrganizationRecord:
    """An organization as the engine sees it. ``key`` is the caller's id (credit code)."""

    key: str
    name: str
    level: Level
    city_code: str
    county_code: str | None
    actions: tuple[str, ...]
    capability: str
    scope: str = ""
    org_type: str = ""
    service_area: str = ""
    funds: float | None = None
    staff: int | None = None
    active: bool = True

    @property
    def text(self) -> str:
        return f"{self.name} {self.org_type} {self.scope} {self.capability}"


@dataclass(frozen=True, slots=True)
class DemandRecord:
    """A village demand point. ``category`` is None when the form left it blank."""

    key: str
    city_code: str
    county_code: str
    title: str
    description: str
    category: str | None = None
    township: str = ""
    village: str = ""
    beneficiaries: int | None = None
    funding_needed: float | None = None
    due_date: date | None = None
    open: bool = True

    @property
    def text(self) -> str:
        return f"{self.title} {self.description}"


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One scored pair with its signals and reasons in Chinese."""

    demand_key: str
    organization_key: str
    score: float
    signals: dict[str, float]
    reasons: tuple[str, ...]
    demand_rank: int | None = None
    organization_rank: int | None = None
    keywords: tuple[str, ...] = field(default=())
