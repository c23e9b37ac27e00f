"""One Matcher per process: it loads the dictionary once."""

from __future__ import annotations

from functools import lru_cache

from matcher import MatchConfig, Matcher


@lru_cache(maxsize=4)
def get_matcher(config: MatchConfig | None = None) -> Matcher:
    return Matcher(config or MatchConfig())
