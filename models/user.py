"""Accounts: 省级管理员, 市州工作人员, 县区工作人员 and 社会组织."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow

ROLES = ("province", "city", "county", "org")
ROLE_LABELS = {"province": "省级管理员", "city": "市州工作人员", "county": "县区工作人员", "org": "社会组织"}


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=10)
    region_code: str | None = Field(default=None, max_length=6)  # city or county code for staff
    organization_id: int | None = Field(default=None, foreign_key="organization.id", ondelete="CASCADE")
    display_name: str = Field(default="", max_length=100)
    email: str | None = Field(default=None, max_length=200)
    is_active: bool = True
    must_change_password: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserPublic(SQLModel):
    username: str
    role: str
    role_label: str
    region_code: str | None
    region_name: str | None = None
    credit_code: str | None = None
    display_name: str
    is_active: bool
