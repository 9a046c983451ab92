"""How workers learn that there is work: the transport beside the jobs table.

The jobs table is the queue and the only truth about a job (state, lease, attempts);
the transport only wakes idle workers. Embedded (the default) it is an in-process
event and workers look in the table every `worker_poll_seconds`. With Redis, every
committed job pushes its id onto a list, idle workers block on that list (BLPOP) and
the one that wakes claims from the table, where the conditional UPDATE decides who
wins. A message that is lost (Redis restarted, a push failed) costs only latency:
idle workers still scan the table, less often.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Iterable, Protocol

from .config import ConfigError, Settings

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    def push(self, job_ids: Iterable[int]) -> None:
        """Tell idle workers that these jobs can be claimed (after the commit)."""

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True when woken by a push."""

    def close(self) -> None: ...


class LocalQueue:
    """The embedded default: no server; wakes workers in this process only."""

    def __init__(self) -> None:
        self._pushed = threading.Event()

    def push(self, job_ids: Iterable[int]) -> None:
        self._pushed.set()

    def wait(self, timeout: float) -> bool:
        woken = self._pushed.wait(max(0.0, timeout))
        self._pushed.clear()
        return woken

    def close(self) -> None:
        pass


class RedisQueue:
    """Job ids on a Redis list; workers on any machine block on it."""

    MAX_BLOCK = 30.0  # seconds one BLPOP may block; the socket times out after more
    MAX_LENGTH = 10_000  # wake-ups kept while no worker listens; the table keeps the jobs

    def __init__(self, url: str, key: str):
        try:
            import redis  # the optional extra `redis`; only this configuration needs it
        except ImportError as e:
            raise ConfigError("WEBINAR_ARCHIVE_REDIS_URL is set but the `redis` package is missing: "
                              "pip install 'webinar-archive[redis]'") from e
        self.key = key
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=5,
                                          socket_timeout=self.MAX_BLOCK + 10)
        self._errors = (redis.RedisError, OSError)
        self._down = False

    def _trouble(self, what: str, e: Exception) -> None:
        if not self._down:  # once per outage, not once per poll
            log.warning("Redis %s failed (%s); workers fall back to scanning the jobs table", what, e)
        self._down = True

    def push(self, job_ids: Iterable[int]) -> None:
        ids = [str(i) for i in job_ids]
        if not ids:
            return
        try:
            with self.redis.pipeline() as p:
                p.rpush(self.key, *ids).ltrim(self.key, -self.MAX_LENGTH, -1).execute()
        except self._errors as e:
            self._trouble("push", e)

    def wait(self, timeout: float) -> bool:
        timeout = min(max(timeout, 0.01), self.MAX_BLOCK)
        started = time.monotonic()
        try:
            woken = self.redis.blpop([self.key], timeout=timeout) is not None
        except self._errors as e:
            self._trouble("wait", e)
            time.sleep(max(0.0, timeout - (time.monotonic() - started)))
            return False
        if self._down:
            log.info("Redis is reachable again")
            self._down = False
        return woken

    def close(self) -> None:
        self.redis.close()


def queue_from_settings(settings: Settings) -> JobQueue:
    if settings.redis_url:
        # One list per archive: the bucket names the archive, so two archives (or two
        # test runs) can share a Redis server.
        return RedisQueue(settings.redis_url, key=f"webinar-archive:{settings.bucket}:jobs")
    return LocalQueue()
