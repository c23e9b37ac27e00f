"""The FastAPI application: the JSON API under /api/v1 and the server-rendered pages."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from api import metrics
from api.db import create_tables, make_engine
from api.errors import AppError
from api.limits import LOGIN_PATHS, UPLOAD_PATHS, BodyLimit, RateLimit, Rule
from api.routes import api_projects, api_review, api_v1, web, web_projects, web_review
from api.services.auth import PasswordChangeRequired
from api.services.importer import ImportRejected
from api.settings import Settings, get_settings
from matcher import Matcher
from matcher.regions import RegionIndex
from models.base import utcnow

WEB_DIR = Path(__file__).resolve().parent / "web"
_FIELD_NAMES = {"body": "请求体", "query": "查询参数", "path": "路径参数", "form": "表单"}


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] = utcnow,
               matcher: Matcher | None = None, start_scheduler: bool = False, settle_heap: bool = False) -> FastAPI:
    """The application. ``settle_heap`` (a served process, not tests): what it builds to last is
    moved out of the garbage collector's scans (see ``settle``)."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    create_tables(engine)
    app = FastAPI(
        lifespan=_scheduler_lifespan if start_scheduler else None,
        title="duijie 对接 API",
        version="0.2.0",
        description="社会组织参与乡村振兴供需对接平台。登录：POST /api/v1/auth/token（OAuth2 密码模式），"
                    "之后以 `Authorization: Bearer <token>` 访问。错误统一为 `{\"error\": {code, message, details}}`。",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock
    app.state.secret = settings.resolved_secret()
    app.state.run_threads = []
    app.state.run_processes = []
    # Full re-matches (started from the web or by its scheduler) in a process of their own; an
    # injected matcher cannot follow a run there.
    app.state.full_runs_in_own_process = settings.rematch_process and matcher is None

    @lru_cache(maxsize=1)
    def shared_matcher() -> Matcher:
        built = matcher or Matcher()
        if settle_heap:
            settle()  # its dictionary is millions of objects that live as long as the process
        return built

    app.state.matcher = shared_matcher
    app.state.regions = matcher.regions if matcher else RegionIndex.default()

    app.add_middleware(IdleTimeout, idle_seconds=settings.session_idle_minutes * 60, clock=clock)
    app.add_middleware(SessionMiddleware, secret_key=app.state.secret, session_cookie="duijie_session",
                       same_site="lax", https_only=settings.https_only_cookies, max_age=12 * 3600)
    app.add_middleware(RateLimit, clock=clock, rules=[
        Rule("login", LOGIN_PATHS, settings.login_rate_per_minute),
        Rule("upload", UPLOAD_PATHS, settings.upload_rate_per_minute)])
    app.add_middleware(BodyLimit, max_body=settings.max_body_kb * 1024,
                       max_upload=settings.max_upload_mb * 2**20 + 256 * 1024)  # room for the multipart envelope
    app.add_middleware(SecurityHeaders)  # the last added runs first: every response has the headers
    registry, request_histogram = metrics.registry_for(engine)
    app.add_middleware(metrics.RequestTimer, histogram=request_histogram)  # outermost: the whole request
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(api_v1.router)
    app.include_router(api_projects.router)
    app.include_router(api_review.router)
    app.include_router(web.router)
    app.include_router(web_projects.router)
    app.include_router(web_review.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        return metrics.metrics_response(request, registry, settings.metrics_token)

    app.add_exception_handler(AppError, _app_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    if settle_heap:
        # A served process builds its matcher before it serves, then settles the heap with it in.
        # Built on the first demand edit or upload instead, it held that worker's interpreter for
        # ~1.2 s while every request on it waited (~90 MB either way, once it is needed).
        shared_matcher()
    return app


def served_app() -> FastAPI:
    """The app as a web worker process serves it (`duijie serve --workers N`)."""
    return create_app(settle_heap=True)


def settle() -> None:
    """Move every object alive now (modules, tables, the matcher) into the collector's permanent
    generation, after a full collection. A full collection otherwise walks all of them: it paused
    the web process 115-150 ms every few thousand requests under load, 8-13 ms after this, holding
    every request in flight for that long (BENCHMARKS.md). What is frozen is still freed when its
    last reference goes; only the cycle collector stops looking at it."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def _scheduler_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """In a single-process deployment (`make run`) the web process runs the scheduled jobs too."""
    from api.services.jobs import Jobs, build_scheduler

    jobs = Jobs(app.state.engine, app.state.settings, app.state.matcher, secret=app.state.secret,
                clock=app.state.clock, full_runs_in_own_process=app.state.full_runs_in_own_process)
    scheduler = build_scheduler(jobs)
    scheduler.start()
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)


def _error(status: int, code: str, message: str, details: list[dict[str, object]] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or []}}, status_code=status)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


async def _app_error(request: Request, exc: AppError) -> Response:
    if isinstance(exc, PasswordChangeRequired) and not request.url.path.startswith("/api/"):
        return RedirectResponse("/account/password", 303)
    if _wants_html(request):
        return web.error_page(request, exc.status_code, exc.message)
    details = []
    if isinstance(exc, ImportRejected):
        details = [{"row": e.row, "column": e.column, "value": e.value, "reason": e.reason} for e in exc.errors]
    return _error(exc.status_code, exc.code, exc.message, details)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    details = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ())]
        where = _FIELD_NAMES.get(loc[0], loc[0]) if loc else ""
        field = ".".join(loc[1:])
        label = f"「{field}」" if field else ""
        details.append({"column": field, "reason": f"{where}{label}{_explain(err)}"})
    if _wants_html(request):
        return web.error_page(request, 422, "提交的内容不合法")
    return _error(422, "invalid_input", "请求内容不合法", details)


def _explain(err: dict[str, object]) -> str:
    """Pydantic's error, said in Chinese."""
    ctx = err.get("ctx") or {}
    assert isinstance(ctx, dict)
    kind = str(err.get("type", ""))
    table = {
        "missing": "缺少必填项",
        "greater_than_equal": f"不能小于{ctx.get('ge')}",
        "greater_than": f"应大于{ctx.get('gt')}",
        "less_than_equal": f"不能大于{ctx.get('le')}",
        "less_than": f"应小于{ctx.get('lt')}",
        "int_parsing": "应为整数",
        "int_from_float": "应为整数",
        "float_parsing": "应为数字",
        "bool_parsing": "应为true或false",
        "literal_error": f"应为以下之一：{ctx.get('expected')}",
        "enum": f"应为以下之一：{ctx.get('expected')}",
        "string_too_long": f"过长（最多{ctx.get('max_length')}个字符）",
        "too_long": f"过多（最多{ctx.get('max_length')}项）",
        "string_type": "应为文本",
        "list_type": "应为列表",
        "dict_type": "应为对象",
        "model_attributes_type": "应为对象",
        "json_invalid": "不是合法的JSON",
        "model_type": "应为对象",
    }
    return table.get(kind, "格式不正确")


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    messages = {404: "页面或资源不存在", 405: "不支持该请求方法", 401: "请先登录", 403: "无权访问"}
    message = messages.get(exc.status_code, str(exc.detail))
    if _wants_html(request):
        return web.error_page(request, exc.status_code, message)
    return _error(exc.status_code, "http_error", message)


class SecurityHeaders:
    """CSP, frame denial and friends on every response (pure ASGI: cheap and streaming-safe)."""

    HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"content-security-policy",
         b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
         b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/redoc")  # the OpenAPI page loads its own assets

        async def wrapped(message) -> None:  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(h for h in self.HEADERS if not (docs and h[0] == b"content-security-policy"))
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


class IdleTimeout:
    """Forget a web session left idle too long."""

    def __init__(self, app, *, idle_seconds: int, clock: Callable[[], datetime]) -> None:  # type: ignore[no-untyped-def]
        self.app, self.idle, self.clock = app, idle_seconds, clock

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and "session" in scope:
            session = scope["session"]
            now = self.clock().timestamp()
            if session.get("uid") is not None and now - session.get("seen", now) > self.idle:
                session.clear()
                session["expired"] = True
            if session.get("uid") is not None:
                session["seen"] = now
        await self.app(scope, receive, send)
