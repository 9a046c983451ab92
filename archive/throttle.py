"""Counters shared by every process and machine of an archive: for limits (sign-in
attempts, play beacons) and for "seen already in this window" (one counted play per
viewer and day).

Counts are kept per fixed window (a minute, ten minutes, a UTC day): in the catalog, or in
Redis when the archive has one. A key may name a client address or an e-mail address: it is
stored only as an HMAC made with the archive's secret key, and forgotten one window after
its window ends (limits read the window before too), so nothing personal is kept in clear.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import DateTime, Integer, String, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from .catalog import Catalog
from .config import ConfigError, Settings
from .models import Base

log = logging.getLogger(__name__)


class RateCount(Base):
    """One counter in one window; `key` is a digest (see `_digest`)."""

    __tablename__ = "rate_counts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    count: Mapped[int] = mapped_column(Integer)


class Counters(Protocol):
    def hit(self, key: str, window: int, amount: int = 1) -> int:
        """Adds `amount` to `key`'s count in the current window of `window` seconds and
        returns the new count, atomically across processes."""

    def count(self, key: str, window: int, ago: int = 0) -> int:
        """`key`'s count in the current window (`ago`=1: in the window before it)."""


def _window_start(window: int, now: float, ago: int = 0) -> int:
    return (int(now) // window - ago) * window


def _digest(secret: str, key: str, window: int, start: int) -> str:
    return hmac.new(secret.encode(), f"{window}|{start}|{key}".encode(), hashlib.sha256).hexdigest()


class CatalogCounters:
    """Counters in the catalog's `rate_counts` table; each hit is one upsert, and rows of
    ended windows are deleted as hits come."""

    def __init__(self, catalog: Catalog, secret: str):
        self.catalog = catalog
        self.secret = secret

    def hit(self, key: str, window: int, amount: int = 1) -> int:
        now = time.time()
        start = _window_start(window, now)
        # Kept through the next window too: limits weigh the window before (SignInLimits).
        expires = dt.datetime.fromtimestamp(start + 2 * window, dt.timezone.utc).replace(tzinfo=None)
        with self.catalog.transaction() as s:
            insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
            stmt = insert(RateCount).values(key=_digest(self.secret, key, window, start),
                                            expires_at=expires, count=amount)
            stmt = stmt.on_conflict_do_update(index_elements=["key"],
                                              set_={"count": RateCount.count + amount})
            count = s.execute(stmt.returning(RateCount.count)).scalar_one()
            ended = dt.datetime.fromtimestamp(now, dt.timezone.utc).replace(tzinfo=None)
            s.execute(delete(RateCount).where(RateCount.expires_at <= ended))
        return count

    def count(self, key: str, window: int, ago: int = 0) -> int:
        start = _window_start(window, time.time(), ago)
        with self.catalog.session() as s:
            found = s.scalar(select(RateCount.count).where(
                RateCount.key == _digest(self.secret, key, window, start)))
        return found or 0


class RedisCounters:
    """Counters in Redis (INCRBY with an expiry); the catalog's counters stand in while
    Redis cannot be reached, so that limits still hold."""

    def __init__(self, url: str, prefix: str, secret: str, fallback: Counters):
        try:
            import redis  # the optional extra `redis`; only this configuration needs it
        except ImportError as e:
            raise ConfigError("WEBINAR_ARCHIVE_REDIS_URL is set but the `redis` package is missing: "
                              "pip install 'webinar-archive[redis]'") from e
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self._errors = (redis.RedisError, OSError)
        self.prefix = prefix
        self.secret = secret
        self.fallback = fallback

    def _key(self, key: str, window: int, ago: int = 0) -> str:
        return f"{self.prefix}{_digest(self.secret, key, window, _window_start(window, time.time(), ago))}"

    def hit(self, key: str, window: int, amount: int = 1) -> int:
        name = self._key(key, window)
        try:
            with self.redis.pipeline() as p:
                count, _ = p.incrby(name, amount).expire(name, 2 * window + 1).execute()
            return int(count)
        except self._errors as e:
            log.warning("Redis counter failed (%s); counting in the catalog", e)
            return self.fallback.hit(key, window, amount)

    def count(self, key: str, window: int, ago: int = 0) -> int:
        try:
            return int(self.redis.get(self._key(key, window, ago)) or 0)
        except self._errors as e:
            log.warning("Redis counter failed (%s); counting in the catalog", e)
            return self.fallback.count(key, window, ago)


def counters_from_settings(settings: Settings, catalog: Catalog) -> Counters:
    in_catalog = CatalogCounters(catalog, settings.secret_key)
    if settings.redis_url:
        # One namespace per archive, as the job queue's list: the bucket names the archive.
        return RedisCounters(settings.redis_url, f"webinar-archive:{settings.bucket}:count:",
                             settings.secret_key, in_catalog)
    return in_catalog


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins are limited per client address and per account, separately.

    An attempt is counted before its password is checked (so that parallel attempts
    cannot pass the limit together) and given back when it succeeds: the limits count
    failures only. A client over its limit is refused whatever it sends, the right password
    included, or the limit would not stop a guesser. An account's limit is higher than a
    client's, so one client alone cannot lock its owner out: the owner, from another client,
    still signs in.

    The windows slide: a count is this window's plus the window before's, weighed by how
    much of that one still lies within `window` seconds of now, so that a guesser gains no
    fresh allowance when a fixed window turns over (nor a test that runs across the turn).
    """

    counters: Counters
    window: int
    per_client: int
    per_account: int

    @classmethod
    def from_settings(cls, settings: Settings, counters: Counters) -> "SignInLimits":
        return cls(counters, settings.login_window_seconds, settings.login_client_failures,
                   settings.login_account_failures)

    def _keys(self, client: str, account: str) -> list[tuple[str, int]]:
        return [(f"sign-in client|{client}", self.per_client),
                (f"sign-in account|{account.strip().lower()}", self.per_account)]

    def begin(self, client: str, account: str) -> bool:
        """Counts an attempt; False when the client or the account is over its limit
        (the attempt must then be refused without checking the password)."""
        for key, limit in self._keys(client, account):
            count = self.counters.hit(key, self.window)
            if count > limit:
                return False
            before = self.counters.count(key, self.window, ago=1)
            if before and count + before * (1 - time.time() % self.window / self.window) > limit:
                return False
        return True

    def succeeded(self, client: str, account: str) -> None:
        for key, _ in self._keys(client, account):
            self.counters.hit(key, self.window, -1)
