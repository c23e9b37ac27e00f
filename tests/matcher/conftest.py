from __future__ import annotations

import pytest

from matcher import Matcher
from matcher.regions import RegionIndex


@pytest.fixture(scope="session")
def matcher() -> Matcher:
    return Matcher()


@pytest.fixture(scope="session")
def regions(matcher: Matcher) -> RegionIndex:
    return matcher.regions
