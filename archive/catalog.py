"""Database engine, sessions and migrations (SQLite by default, PostgreSQL in production)."""
from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .queue import JobQueue, LocalQueue

MIGRATIONS = Path(__file__).parent / "migrations"
# The errors of a catalog that cannot be reached for a moment (PostgreSQL restarting or
# failing over, SQLite locked past its busy timeout): the web app answers 503 for them,
# the worker's loop tries again.
UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
SQLITE_MMAP_BYTES = 1 << 34  # an upper bound (SQLite caps it at its own maximum); only what is read is mapped


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may have to wait
    cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the worker
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Reads straight from the operating system's page cache, shared by every connection
    # and process, instead of copying pages into each connection's own small cache: a
    # search reads scattered pages of a large full-text index.
    cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cur.close()


class Catalog:
    """Owns the engine and hands out sessions. Its job `queue` wakes workers when a
    session commits new jobs (see jobs.enqueue)."""

    def __init__(self, database_url: str, queue: JobQueue | None = None):
        self.url = database_url
        if database_url.startswith("sqlite:///"):
            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # A server's connection can drop while pooled (checked before use); a file's cannot.
        sqlite = database_url.startswith("sqlite")
        self.engine: Engine = create_engine(database_url, pool_pre_ping=not sqlite)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.queue: JobQueue = queue or LocalQueue()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False,
                                      info={"job_queue": self.queue})

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is there)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        # Web and worker may start together on an empty catalog: one migrates, the
        # other waits and then finds the schema there.
        with self._migration_lock(), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    def has_schema(self) -> bool:
        """True when the schema has been made (by `migrate`); creates nothing, not even
        an empty SQLite file."""
        if self.engine.dialect.name == "sqlite":
            database = self.engine.url.database
            if database not in (None, "", ":memory:") and not Path(database).is_file():
                return False
        return inspect(self.engine).has_table("alembic_version")

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            yield
            return
        with open(f"{self.engine.url.database}.migrate-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
        self.queue.close()
