"""Staff accounts: who may sign in to the staff area, with which role.

Roles: `admin` (accounts and everything else) and `editor` (webinars). Passwords are
hashed with Argon2id (argon2-cffi); a hash made with older parameters is replaced at the
next successful sign-in. E-mail addresses are kept in lower case, so they compare without
regard to case. This module knows nothing of Flask: the web layer adapts a `User` to
Flask-Login through the attributes it looks for (`is_active`, `get_id`, ...).

A session names its user by id and the user's session token (`get_id`, checked by
`from_session_id` on every request). Signing out, a new password, a new role and
deactivation replace the token, so every session made before ends at its next request.
"""
from __future__ import annotations

import datetime as dt
import functools
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, DateTime, Integer, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .models import Base, utcnow
from .wording import N_

ROLES = ("admin", "editor")
MIN_PASSWORD_LENGTH = 12
HASHER = PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's recommendations


class AccountError(Exception):
    """A request the accounts cannot honour (bad address, taken, last admin, ...)."""


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # always lower case
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="editor")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)

    # What Flask-Login asks of a user object.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """What a session stores: replacing the token ends every session of this user."""
        return f"{self.id}:{self.session_token}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may(self, role: str | None) -> bool:
        """True when this user holds `role` (None: any staff role); admins hold every role."""
        return self.active and (role is None or self.role == role or self.role == "admin")


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 320:
        raise AccountError(N_("not an e-mail address: %(email)s", email=repr(email)))
    return email


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(N_("the password must have at least %(count)s characters", count=MIN_PASSWORD_LENGTH))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(N_("no such role: %(role)s (roles: %(roles)s)", role=repr(role), roles=", ".join(ROLES)))


def get(session: Session, user_id: int | str) -> User | None:
    try:
        return session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


def from_session_id(session: Session, session_id: str) -> User | None:
    """The active user a session names (see `User.get_id`), or None when the session
    was ended (a new token) or the account deactivated."""
    user_id, _, token = (session_id or "").partition(":")
    user = get(session, user_id) if token else None
    if user is None or not user.active or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


def end_sessions(session: Session, user: User) -> None:
    """Every existing session of `user` ends at its next request."""
    user.session_token = new_session_token()
    session.flush()


def by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == (email or "").strip().lower()))


def find(session: Session, email: str) -> User:
    user = by_email(session, email)
    if user is None:
        raise AccountError(N_("no account for %(email)s", email=repr(email.strip().lower())))
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.active.desc(), User.email)))


def add_user(session: Session, email: str, password: str, role: str = "editor",
             hasher: PasswordHasher = HASHER) -> User:
    """A new active account (flushed in the caller's transaction)."""
    email = normalize_email(email)
    _check_role(role)
    _check_password(password)
    if by_email(session, email) is not None:
        raise AccountError(N_("there is already an account for %(email)s", email=repr(email)))
    user = User(email=email, password_hash=hasher.hash(password), role=role, active=True)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as e:  # added by someone else at the same moment
        raise AccountError(N_("there is already an account for %(email)s", email=repr(email))) from e
    return user


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the address is unknown, so that a wrong address takes as long
    as a wrong password and sign-in timing does not tell which addresses have accounts."""
    return HASHER.hash("not a password of anyone")


def authenticate(session: Session, email: str, password: str, hasher: PasswordHasher = HASHER) -> User | None:
    """The active user with this address and password, or None. Records the sign-in and
    rehashes the password when the hasher's parameters have changed since it was set."""
    user = by_email(session, email)
    try:
        hasher.verify(user.password_hash if user is not None else _dummy_hash(), password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


def set_password(session: Session, user: User, password: str, hasher: PasswordHasher = HASHER) -> None:
    _check_password(password)
    user.password_hash = hasher.hash(password)
    end_sessions(session, user)


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True)))


def set_role(session: Session, user: User, role: str) -> None:
    _check_role(role)
    if user.role == "admin" and role != "admin" and user.active and _active_admins(session) <= 1:
        raise AccountError(N_("the last active admin cannot stop being one"))
    if user.role != role:
        user.role = role
        end_sessions(session, user)


def deactivate(session: Session, user: User) -> None:
    """The account can no longer sign in; its sessions end at their next request."""
    if user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise AccountError(N_("the last active admin cannot be deactivated"))
    user.active = False
    end_sessions(session, user)


def activate(session: Session, user: User) -> None:
    user.active = True
    session.flush()
