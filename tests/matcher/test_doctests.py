"""The docstring examples of the public surface run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["matcher.text", "matcher.categories", "matcher.regions", "matcher.config", "matcher.signals",
           "matcher.scoring", "matcher.ranking", "matcher.evaluation", "matcher.engine", "matcher.diagnosis"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
