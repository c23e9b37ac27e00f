"""Meaning vectors of texts (a sentence encoder's output), computed once per distinct text and model."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class TextVector(SQLModel, table=True):
    __tablename__ = "text_vector"

    # sha256 of the model's name, the text's role (demand or organization) and the text itself:
    # a changed text or another model is a new row, an unchanged text is never encoded again.
    digest: str = Field(primary_key=True, max_length=64)
    model: str = Field(max_length=80, index=True)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float16, little-endian
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
