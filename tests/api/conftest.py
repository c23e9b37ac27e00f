from __future__ import annotations

from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from matcher import Matcher
from tests.inbox import Inbox, free_port
from tests.world import World, build_world


@pytest.fixture(scope="session")
def shared_matcher() -> Matcher:
    return Matcher()


@pytest.fixture
def world(db_url: str, tmp_path: Path, shared_matcher: Matcher) -> World:
    w = build_world(db_url, tmp_path, shared_matcher)
    yield w
    for thread in w.app.state.run_threads:  # type: ignore[attr-defined]
        thread.join(timeout=60)
    w.engine.dispose()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int):  # type: ignore[no-untyped-def]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield handler
    controller.stop()
