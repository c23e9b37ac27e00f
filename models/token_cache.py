"""Tokens of the texts a full re-match read, kept for the next one (texts rarely change)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class TokenCache(SQLModel, table=True):
    __tablename__ = "token_cache"

    # blake2b of the tokenizer's fingerprint and the text: a changed dictionary misses every entry.
    key: str = Field(primary_key=True, max_length=32)
    tokens: str  # JSON list of the text's tokens
