"""Shared set-up for the notebooks: Chinese text in plots, and a database holding the demo data.

The notebooks read ``DUIJIE_DATABASE_URL`` like the application does (default: the
``duijie.db`` that ``make run`` creates at the repository's root). A database without
organizations gets the demo data first, exactly as ``duijie demo && duijie rematch`` make it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib
from matplotlib import font_manager

ROOT = Path(__file__).resolve().parent.parent
CJK_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei",
             "PingFang SC"]


def chinese_fonts() -> str:
    """Use the first CJK font installed; refuse to go on with one that would draw boxes."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found is None:
        raise RuntimeError("没有找到中文字体，图中的中文会显示为方框：请安装 fonts-noto-cjk")
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [found, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False  # the CJK fonts lack U+2212
    matplotlib.rcParams["figure.dpi"] = 100
    return found


def database_url() -> str:
    return os.environ.get("DUIJIE_DATABASE_URL", f"sqlite:///{ROOT / 'duijie.db'}")


def ensure_demo_data() -> str:
    """The database URL, with the demo data and a re-match in it if it held no organizations."""
    from sqlmodel import Session, select

    from api.db import create_tables, make_engine
    from models import Organization

    url = database_url()
    engine = make_engine(url)
    create_tables(engine)
    with Session(engine) as session:
        empty = session.exec(select(Organization.id)).first() is None
    engine.dispose()
    if empty:
        env = {**os.environ, "DUIJIE_DATABASE_URL": url}
        env.setdefault("DUIJIE_DEMO_DIR", str(ROOT / "demo_data"))
        for command in (["demo"], ["rematch"]):
            subprocess.run([sys.executable, "-c", "from api.cli import app; app()", *command], env=env, cwd=ROOT,
                           check=True, stdout=subprocess.DEVNULL)
    return url
