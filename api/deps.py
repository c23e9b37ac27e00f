"""Request dependencies: a unit of work per request, the current user and their scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.db import session_scope
from api.errors import Unauthorized
from api.services.auth import PasswordChangeRequired, Scope, user_from_token
from matcher import Matcher
from models import User

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the request succeeds, roll back otherwise: transactions at the boundary."""
    with session_scope(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_matcher(request: Request) -> Matcher:
    return request.app.state.matcher()


MatcherDep = Annotated[Matcher, Depends(get_matcher)]


# What an account that must change its initial password may still reach.
PASSWORD_CHANGE_PATHS = frozenset({"/api/v1/me", "/api/v1/me/password", "/account/password", "/logout"})


def optional_user(request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2)]) -> User | None:
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
    if user is None:
        raise Unauthorized("请先登录")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def scope_of(user: OptionalUser) -> Scope:
    return Scope.of(user)


ScopeDep = Annotated[Scope, Depends(scope_of)]
