"""Accounts, passwords, tokens and what each account may see (its scope)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pwdlib import PasswordHash
from sqlalchemy import ColumnElement, false, true
from sqlmodel import Session, col, select

from api.errors import Conflict, Forbidden, InvalidInput, NotFound
from matcher.regions import RegionIndex
from matcher.resources import data_dir
from models import Demand, Organization, User
from models.base import utcnow
from models.user import ROLE_LABELS, ROLES, UserPublic

Clock = Callable[[], datetime]
_hasher = PasswordHash.recommended()  # argon2id
TOKEN_MAX_AGE_S = 8 * 3600


@dataclass(frozen=True)
class AccountPolicy:
    """Password and lockout rules (DUIJIE_PASSWORD_MIN_LENGTH, DUIJIE_MAX_FAILED_LOGINS,
    DUIJIE_LOCKOUT_MINUTES)."""

    min_length: int = 10
    max_failed_logins: int = 5
    lockout_minutes: int = 15

    @classmethod
    def of(cls, settings: object) -> AccountPolicy:
        return cls(getattr(settings, "password_min_length", 10), getattr(settings, "max_failed_logins", 5),
                   getattr(settings, "lockout_minutes", 15))


DEFAULT_POLICY = AccountPolicy()


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = data_dir() / "common_passwords.txt"
    return frozenset(line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.startswith("#"))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # malformed hash: treat as a failed login, never a 500
        return False


def check_password_rules(password: str, username: str, policy: AccountPolicy = DEFAULT_POLICY) -> None:
    if len(password) < policy.min_length:
        raise InvalidInput(f"密码至少{policy.min_length}位")
    if len(password) > 128:
        raise InvalidInput("密码不能超过128位")
    lowered = password.lower()
    if username and username.lower() in lowered:
        raise InvalidInput("密码不能包含用户名")
    if lowered in common_passwords() or len(set(password)) <= 2:
        raise InvalidInput("密码过于常见或简单，请换一个（可用几个词加数字组成的长密码）")


def create_user(session: Session, *, username: str, password: str, role: str,
                region_code: str | None = None, organization: Organization | None = None,
                display_name: str = "", email: str | None = None, regions: RegionIndex,
                must_change_password: bool = False, policy: AccountPolicy = DEFAULT_POLICY) -> User:
    if role not in ROLES:
        raise InvalidInput(f"角色应为{'、'.join(ROLES)}之一")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"用户名{username}已存在")
    if role == "city" and region_code not in regions.cities:
        raise InvalidInput("市州工作人员须指定所在市（州）")
    if role == "county" and region_code not in regions.counties:
        raise InvalidInput("县区工作人员须指定所在县（市、区）")
    if role == "org" and organization is None:
        raise InvalidInput("社会组织账号须指定统一社会信用代码")
    check_password_rules(password, username, policy)
    user = User(username=username, password_hash=hash_password(password), role=role,
                region_code=region_code if role in ("city", "county") else None,
                organization_id=organization.id if organization else None,
                display_name=display_name or (organization.name if organization else username),
                email=email, must_change_password=must_change_password)
    session.add(user)
    session.flush()
    return user


def resolve_region(regions: RegionIndex, role: str, text: str | None) -> str | None:
    """A region name as people write it (延边州, 汪清县) to its code, for staff accounts."""
    if role not in ("city", "county"):
        return None
    if not text:
        raise InvalidInput("市州或县区工作人员须用 --region 指定地区")
    if role == "city":
        city = regions.resolve_city(text)
        if city is None:
            raise InvalidInput(f"无法识别的市（州）：{text}")
        return city.code
    county = regions.resolve_county(text)
    if county is None:
        raise InvalidInput(f"无法识别的县（市、区）：{text}")
    return county.code


class LoginFailed(InvalidInput):
    code = "login_failed"
    status_code = 401


class LoginLocked(InvalidInput):
    code = "login_locked"
    status_code = 429


def authenticate(session: Session, username: str, password: str, *, clock: Clock = utcnow,
                 policy: AccountPolicy = DEFAULT_POLICY) -> User:
    """The user, or LoginFailed / LoginLocked. Repeated failures lock the account for a while."""
    user = session.exec(select(User).where(User.username == username)).first()
    now = clock()
    if user is None:
        verify_password(password, _DUMMY_HASH)  # same cost whether or not the name exists
        raise LoginFailed("用户名或密码错误")
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, -(-int((user.locked_until - now).total_seconds()) // 60))  # rounded up
        raise LoginLocked(f"登录失败次数过多，请{minutes}分钟后再试")
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failed_logins:
            user.locked_until = now + timedelta(minutes=policy.lockout_minutes)
            user.failed_logins = 0
        session.add(user)
        session.flush()
        raise LoginFailed("用户名或密码错误")
    if not user.is_active:
        raise LoginFailed("账号已停用，请联系管理员")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    session.flush()
    return user


_DUMMY_HASH = hash_password("duijie-timing-equaliser")


class PasswordChangeRequired(Forbidden):
    code = "password_change_required"


def change_password(session: Session, user: User, old: str, new: str, *, policy: AccountPolicy = DEFAULT_POLICY
                    ) -> None:
    """The account's own password change: the old one proves it is the owner."""
    if not verify_password(old, user.password_hash):
        raise InvalidInput("原密码不正确")
    if old == new:
        raise InvalidInput("新密码不能与原密码相同")
    check_password_rules(new, user.username, policy)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.add(user)
    session.flush()


def set_active(session: Session, scope: Scope, user: User, active: bool) -> User:
    """An administrator disables (or re-enables) an account; its tokens and sessions stop working."""
    if scope.role != "province":
        raise Forbidden("只有省级管理员可以停用或启用账号")
    if scope.user_id == user.id and not active:
        raise Conflict("不能停用自己的账号")
    user.is_active = active
    session.add(user)
    session.flush()
    return user


def reset_password(session: Session, user: User) -> str:
    """A new random password the account must change at its next login."""
    password = new_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    session.flush()
    return password


# -- tokens ----------------------------------------------------------------------------

def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="duijie-api-token")


def issue_token(user: User, secret: str) -> str:
    return _serializer(secret).dumps({"uid": user.id})


def user_from_token(session: Session, token: str, secret: str) -> User | None:
    try:
        data = _serializer(secret).loads(token, max_age=TOKEN_MAX_AGE_S)
    except (BadSignature, SignatureExpired):
        return None
    user = session.get(User, data.get("uid")) if isinstance(data, dict) else None
    return user if user is not None and user.is_active else None


def new_password() -> str:
    return secrets.token_urlsafe(12)


# -- scope -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """What one account (or the public) may see and decide."""

    role: str  # province | city | county | org | public
    region_code: str | None = None
    organization_id: int | None = None
    user_id: int | None = None

    @classmethod
    def of(cls, user: User | None) -> Scope:
        if user is None:
            return cls("public")
        return cls(user.role, user.region_code, user.organization_id, user.id)

    @property
    def is_staff(self) -> bool:
        return self.role in ("province", "city", "county")

    def covers(self, city_code: str | None, county_code: str | None) -> bool:
        """Is this place inside the staff member's region?"""
        if self.role == "province":
            return True
        if self.role == "city":
            return city_code == self.region_code
        if self.role == "county":
            return county_code is not None and county_code == self.region_code
        return False

    def demand_clause(self) -> ColumnElement[bool]:
        if self.role == "province":
            return true()
        if self.role == "city":
            return col(Demand.city_code) == self.region_code
        if self.role == "county":
            return col(Demand.county_code) == self.region_code
        return false()

    def organization_clause(self) -> ColumnElement[bool]:
        if self.role == "province":
            return true()
        if self.role == "city":
            return col(Organization.city_code) == self.region_code
        if self.role == "county":
            return col(Organization.county_code) == self.region_code
        if self.role == "org":
            return col(Organization.id) == self.organization_id
        return false()

    def require_staff(self) -> None:
        if not self.is_staff:
            raise Forbidden("仅限民政工作人员")

    def require_demand(self, demand: Demand) -> None:
        if not self.covers(demand.city_code, demand.county_code):
            raise Forbidden("该需求不在您负责的地区")

    def may_see_organization(self, org: Organization) -> bool:
        if self.role == "org":
            return org.id == self.organization_id
        return self.covers(org.city_code, org.county_code)

    def require_organization(self, org: Organization, *, own: bool = False) -> None:
        """Staff of its region (unless ``own``), or the organization itself."""
        if self.role == "org" and org.id == self.organization_id:
            return
        if not own and self.is_staff and self.may_see_organization(org):
            return
        raise Forbidden("无权访问该社会组织的数据")


def user_public(user: User, session: Session, regions: RegionIndex) -> UserPublic:
    org = session.get(Organization, user.organization_id) if user.organization_id else None
    region = None
    if user.region_code:
        region = regions.city_name(user.region_code) or regions.county_name(user.region_code)
    return UserPublic(username=user.username, role=user.role, role_label=ROLE_LABELS[user.role],
                      region_code=user.region_code, region_name=region,
                      credit_code=org.credit_code if org else None, display_name=user.display_name,
                      is_active=user.is_active)


def get_user(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"用户{username}不存在")
    return user
