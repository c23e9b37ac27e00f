"""The web application. A placeholder page until the API issue lands; the CLI is the main door."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api.db import create_tables, make_engine, session_scope
from api.services.matching import counts, latest_run
from api.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    create_tables(engine)
    app = FastAPI(title="duijie 对接", version="0.1.0")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        with session_scope(engine) as session:
            c = counts(session)
            run = latest_run(session)
        run_line = (f"最近一次匹配：第{run.id}次，推荐{run.n_recommendations}条，覆盖率{run.coverage:.1%}"
                    if run else "尚未匹配")
        return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>duijie 对接</title></head>
<body><h1>社会组织参与乡村振兴供需对接平台</h1>
<p>社会组织{c['organizations']}个，需求{c['demands']}个（在办{c['open_demands']}个）。{run_line}</p>
<p>网页与接口正在建设中；当前请使用命令行 <code>duijie</code>。</p></body></html>"""

    return app
