"""Tokens of unchanged texts are not computed again: each full re-match stores the tokens of the
texts it read (under the tokenizer's fingerprint) and the next one starts from them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from matcher.text import Tokenizer
from models import TokenCache


def text_key(fingerprint: str, text: str) -> str:
    return hashlib.blake2b(f"{fingerprint}\n{text}".encode(), digest_size=16).hexdigest()


class StoredTokens:
    """The store as one run sees it: ``load`` before the match, ``save`` after it."""

    def __init__(self, session: Session, tokenizer: Tokenizer) -> None:
        self.session, self.tokenizer = session, tokenizer
        self.keys: dict[str, str] = {}
        self.stored: set[str] = set()

    def load(self, texts: Iterable[str]) -> int:
        """Hand the tokenizer the stored tokens of these texts; how many it got."""
        fingerprint = self.tokenizer.fingerprint
        self.keys = {text: text_key(fingerprint, text) for text in texts}
        rows = self.session.execute(select_columns(TokenCache.key, TokenCache.tokens))
        stored: dict[str, str] = {key: tokens for key, tokens in rows}  # noqa: C416 (rows are not pairs to mypy)
        self.stored = set(stored)
        known = {text: json.loads(stored[key]) for text, key in self.keys.items() if key in stored}
        self.tokenizer.remember(known)
        return len(known)

    def save(self) -> None:
        """Store the tokens of this run's new texts and drop those of texts it no longer has."""
        wanted = set(self.keys.values())
        fresh = [(self.keys[text], json.dumps(tokens, ensure_ascii=False))
                 for text, tokens in self.tokenizer.cached(self.keys).items() if self.keys[text] not in self.stored]
        if fresh:
            # Through the driver (tens of thousands of rows on a first run); both drivers take a sequence.
            conn = self.session.connection()
            marks = "?, ?" if conn.dialect.paramstyle == "qmark" else "%s, %s"
            conn.exec_driver_sql(f"INSERT INTO token_cache (key, tokens) VALUES ({marks})", fresh)
        stale = sorted(self.stored - wanted)
        for start in range(0, len(stale), 500):
            self.session.execute(delete(TokenCache).where(col(TokenCache.key).in_(stale[start:start + 500])))
        self.stored = wanted
