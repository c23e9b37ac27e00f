"""Request dependencies: a unit of work per request, the current user and their scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.errors import Unauthorized
from api.services.auth import PasswordChangeRequired, Scope, user_from_token
from matcher import Matcher
from models import User

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _in_process(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _wrote(session: Session) -> bool:
    """Has this unit of work anything to write or commit? On SQLite a transaction is opened only
    before a write (Python's sqlite3 begins one implicitly before INSERT/UPDATE/DELETE), so a
    request that only read has nothing to commit; other databases always count as written."""
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    if not _in_process(session):
        return True
    return bool(session.connection().connection.driver_connection.in_transaction)  # type: ignore[union-attr]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Commit when the request succeeds, roll back otherwise: transactions at the boundary.

    Opening a session does no I/O. The commit goes to a worker thread when there is something to
    write (an fsync may follow); a request that only read on SQLite commits in place, which costs
    nothing. A rollback (an error, rare) is done in place: it writes nothing."""
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
        if _wrote(session):
            await run_in_threadpool(session.commit)
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_matcher(request: Request) -> Matcher:
    return request.app.state.matcher()


MatcherDep = Annotated[Matcher, Depends(get_matcher)]


# What an account that must change its initial password may still reach.
PASSWORD_CHANGE_PATHS = frozenset({"/api/v1/me", "/api/v1/me/password", "/account/password", "/logout"})


def optional_user(request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2)]) -> User | None:
    """The bearer token's user (API) or the session cookie's (web pages).

    In a worker thread, as the endpoints are: a connection is taken from the pool here, and waiting
    for one must not hold the event loop (the requests holding them need it to finish)."""
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


async def current_user(user: OptionalUser) -> User:
    if user is None:
        raise Unauthorized("请先登录")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def scope_of(user: OptionalUser) -> Scope:
    return Scope.of(user)


ScopeDep = Annotated[Scope, Depends(scope_of)]
