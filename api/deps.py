"""Request dependencies: a unit of work per request, the current user and their scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.db import read_scope, session_scope
from api.errors import Unauthorized
from api.services.auth import PasswordChangeRequired, Scope, user_from_token
from matcher import Matcher
from models import User

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2)]
T = TypeVar("T")


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the request succeeds, roll back otherwise: transactions at the boundary."""
    with session_scope(request.app.state.engine) as session:
        yield session


# "function": committed when the endpoint returns, before the response is sent. FastAPI's default
# for a dependency with yield ("request") ends it after the response, so a client could be told
# of a change, and read it back, before it was committed (a browser test caught that under load).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_matcher(request: Request) -> Matcher:
    return request.app.state.matcher()


MatcherDep = Annotated[Matcher, Depends(get_matcher)]


# What an account that must change its initial password may still reach.
PASSWORD_CHANGE_PATHS = frozenset({"/api/v1/me", "/api/v1/me/password", "/account/password", "/logout"})


def optional_user(request: Request, session: SessionDep, token: TokenDep) -> User | None:
    return resolve_user(request, session, token)


def resolve_user(request: Request, session: Session, token: str | None) -> User | None:
    """The bearer token's user (API) or the session cookie's (web pages)."""
    if token:
        user = user_from_token(session, token, request.app.state.secret)
        if user is None:
            raise Unauthorized("登录已过期或令牌无效，请重新登录")
    else:
        uid = request.session.get("uid") if "session" in request.scope else None
        found = session.get(User, uid) if uid is not None else None
        user = found if found is not None and found.is_active else None
    if user is not None and user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired("首次登录须先修改初始密码")
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]


def current_user(user: OptionalUser) -> User:
    return signed_in(user)


def signed_in(user: User | None) -> User:
    if user is None:
        raise Unauthorized("请先登录")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def scope_of(user: OptionalUser) -> Scope:
    return Scope.of(user)


ScopeDep = Annotated[Scope, Depends(scope_of)]


async def signed_in_read(request: Request, token: str | None, work: Callable[[Session, User, Scope], T]) -> T:
    """``work``, a read, with a session, the signed-in user and their scope, all in one worker thread.

    The dependencies above are synchronous, so FastAPI runs each in a worker thread of its own: a
    request through them wakes a thread seven times (the session's start and end, the user, the
    two checks, the endpoint, the response's validation): ~0.1 ms a hop back to back, more when
    the thread has gone idle, as between a province's requests. The busiest reads go this way
    instead, in one hop: a client's request took 3.4 ms instead of 5.1 (BENCHMARKS.md). Their connection
    is also taken and returned within the hop, so a request never holds one while it waits for a
    thread. The session is a ``read_scope``: ``work`` must not write."""

    def run() -> T:
        with read_scope(request.app.state.engine) as session:
            user = signed_in(resolve_user(request, session, token))
            return work(session, user, Scope.of(user))

    return await run_in_threadpool(run)
