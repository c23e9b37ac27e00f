"""The notebooks run top to bottom on a fresh database (which gets the demo data), and their
plots are drawn with a Chinese font: no cell fails, no glyph goes missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "notebooks"))

from run import execute  # noqa: E402 - notebooks/ is not a package


def outputs(nb):  # type: ignore[no-untyped-def]
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "min_plots"), [("match_quality.ipynb", 4), ("regional_overview.ipynb", 5)])
def test_notebook_runs_and_draws_chinese(name: str, min_plots: int, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUIJIE_DATABASE_URL", f"sqlite:///{tmp_path / 'nb.db'}")
    monkeypatch.setenv("DUIJIE_DEMO_DIR", str(tmp_path / "demo"))
    nb = execute(ROOT / "notebooks" / name, save=False)  # raises on the first failing cell
    outs = outputs(nb)
    assert not [o for o in outs if o.output_type == "error"]
    plots = [o for o in outs if "image/png" in o.get("data", {})]
    assert len(plots) >= min_plots
    text = "".join(o.get("text", "") for o in outs if o.output_type == "stream")
    assert "图表字体： Noto Sans CJK SC" in text
    # Matplotlib warns "Glyph ... missing from font(s)" for every character it draws as a box.
    assert "missing from" not in text and "Glyph" not in text
