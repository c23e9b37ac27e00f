"""Where the reference data lives (``data/`` beside the packages, or ``DUIJIE_DATA_DIR``)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The folder holding divisions, dictionaries and the dev set."""
    override = os.environ.get("DUIJIE_DATA_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "data"
