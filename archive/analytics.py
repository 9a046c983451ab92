"""Views, plays and downloads per webinar and per file, counted by day.

Nothing personal is kept: no address, no cookie, no user agent; a count is a day, a
webinar, a file (or none, for the webinar's page) and what happened. The web process
adds up events in memory and writes the sums at intervals, so a page view costs a
dictionary update and not a database write; several processes each add their own sums.

A play is counted once per viewer (client address and browser) per webinar and UTC day:
the shared counters (`throttle`) remember an HMAC of the three for the rest of that day.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Date, ForeignKey, Integer, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from .catalog import Catalog
from .models import Base, Webinar
from .throttle import Counters

log = logging.getLogger(__name__)

EVENTS = ("view", "play", "download")
WEBINAR_LEVEL = ""  # asset_id of counts about the webinar's page itself


class DailyCount(Base):
    __tablename__ = "daily_counts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(16), primary_key=True, default=WEBINAR_LEVEL)
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


DAY = 24 * 3600


def first_play(counters: Counters, webinar_id: str, client: str, user_agent: str) -> bool:
    """True the first time this viewer plays this webinar today (UTC): its play counts."""
    return counters.hit(f"play|{webinar_id}|{client}|{user_agent}", DAY) == 1


def beacon_allowed(counters: Counters, client: str, per_minute: int) -> bool:
    """The play beacon's rate limit per client address."""
    return counters.hit(f"play beacon|{client}", 60) <= per_minute


def add_counts(session: Session, counts: dict[tuple[dt.date, str, str, str], int]) -> None:
    """Add (day, webinar, asset, event) -> n to the table, creating rows as needed."""
    if not counts:
        return
    rows = [{"day": d, "webinar_id": w, "asset_id": a, "event": e, "count": n}
            for (d, w, a, e), n in counts.items()]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(DailyCount)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "webinar_id", "asset_id", "event"],
        set_={"count": DailyCount.count + stmt.excluded["count"]})
    # Counts of a webinar deleted since the event was seen are dropped, not an error.
    known = set(session.scalars(select(Webinar.id).where(Webinar.id.in_({r["webinar_id"] for r in rows}))))
    rows = [r for r in rows if r["webinar_id"] in known]
    if rows:
        session.execute(stmt, rows)


class Tally:
    """Events added up in memory; `flush` writes them, and a thread does so at intervals."""

    def __init__(self, catalog: Catalog, interval: float = 10.0):
        self.catalog = catalog
        self.interval = interval
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, webinar_id: str, event: str, asset_id: str = WEBINAR_LEVEL) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        with self._lock:
            self._counts[(_today(), webinar_id, asset_id or WEBINAR_LEVEL, event)] += 1
        if self._thread is None and self.interval > 0:
            self._start()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        try:
            with self.catalog.transaction() as s:
                add_counts(s, counts)
        except Exception:  # the database is away: keep the sums for the next flush
            log.warning("could not write %d view counts; keeping them for the next try", len(counts))
            with self._lock:
                self._counts.update(counts)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, daemon=True, name="analytics-flush")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


# -- reading, for the staff page ---------------------------------------------------------

@dataclass
class Row:
    webinar_id: str
    title: str
    views: int
    plays: int
    downloads: int


def _sum(event: str):
    return func.coalesce(func.sum(DailyCount.count).filter(DailyCount.event == event), 0)


def top_webinars(session: Session, since: dt.date, limit: int = 20) -> list[Row]:
    q = (select(Webinar.id, Webinar.title, _sum("view"), _sum("play"), _sum("download"))
         .join(DailyCount, DailyCount.webinar_id == Webinar.id)
         .where(DailyCount.day >= since).group_by(Webinar.id, Webinar.title)
         .order_by(_sum("view").desc(), _sum("play").desc(), Webinar.title).limit(limit))
    return [Row(*r) for r in session.execute(q)]


def per_day(session: Session, since: dt.date, until: dt.date | None = None,
            webinar_id: str | None = None) -> list[tuple[dt.date, dict[str, int]]]:
    """Every day from `since` to `until` (today) with its counts per event, zeros included."""
    until = until or _today()
    q = select(DailyCount.day, DailyCount.event, func.sum(DailyCount.count)).where(
        DailyCount.day >= since, DailyCount.day <= until).group_by(DailyCount.day, DailyCount.event)
    if webinar_id is not None:
        q = q.where(DailyCount.webinar_id == webinar_id)
    found: dict[dt.date, dict[str, int]] = {}
    for day, event, n in session.execute(q):
        found.setdefault(day, {})[event] = int(n)
    days = (until - since).days + 1
    return [(d, {e: found.get(d, {}).get(e, 0) for e in EVENTS})
            for d in (since + dt.timedelta(days=i) for i in range(days))]


def per_file(session: Session, webinar_id: str) -> dict[str, dict[str, int]]:
    """asset id ("" for the page) -> event -> total."""
    q = select(DailyCount.asset_id, DailyCount.event, func.sum(DailyCount.count)).where(
        DailyCount.webinar_id == webinar_id).group_by(DailyCount.asset_id, DailyCount.event)
    out: dict[str, dict[str, int]] = {}
    for asset_id, event, n in session.execute(q):
        out.setdefault(asset_id, {})[event] = int(n)
    return out
