"""How workers learn that there is work: the transport beside the jobs table.

The jobs table is the queue and the only truth about a job (state, lease, attempts);
the transport only wakes idle workers. Embedded (the default) it is an in-process
event plus, for the other processes of this machine (the web process waking the
worker of `scripts/run`), one UNIX datagram socket per waiting queue in the data
folder's `wake/`: a push sends a byte to each, so a new job is claimed at once instead
of at the worker's next look at the table (every `worker_poll_seconds`). With Redis, every
committed job pushes its id onto a list, idle workers block on that list (BLPOP) and
the one that wakes claims from the table, where the conditional UPDATE decides who
wins. A message that is lost (Redis restarted, a push failed) costs only latency:
idle workers still scan the table, less often.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import select
import socket
import threading
import time
from pathlib import Path
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
    """The embedded default: no server. Wakes workers in this process (an event) and, given
    `folder`, waiting workers of other processes on this machine: a queue that waits binds
    a datagram socket in the folder, and a push sends one byte to every socket there (a
    dead process's socket refuses it and is removed). Without the folder, or when a socket
    cannot be made there, other processes still find the job at their next poll."""

    # sun_path holds 108 bytes with its terminating NUL
    MAX_PATH = 107

    def __init__(self, folder: Path | None = None) -> None:
        self._pushed = threading.Event()
        self._folder = folder
        self._sock: socket.socket | None = None
        self._path: Path | None = None
        self._lock = threading.Lock()
        self._bind_tried = False

    def push(self, job_ids: Iterable[int]) -> None:
        self._pushed.set()
        if self._folder is None:
            return
        try:
            names = os.listdir(self._folder)
        except OSError:  # no worker ever waited here
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            out.setblocking(False)
            for name in names:
                path = self._folder / name
                try:
                    out.sendto(b"!", str(path))
                except OSError as e:
                    if e.errno in (errno.ECONNREFUSED, errno.ENOENT):  # its process is gone
                        with contextlib.suppress(OSError):
                            path.unlink()
                    # EAGAIN: its queue holds wake-ups already; it is awake or soon will be

    def _socket(self) -> socket.socket | None:
        """This queue's socket in the folder, bound by the first wait."""
        with self._lock:
            if self._bind_tried or self._folder is None:
                return self._sock
            self._bind_tried = True
            path = self._folder / f"{os.getpid()}.{secrets.token_hex(4)}"
            if len(os.fsencode(path)) > self.MAX_PATH:
                log.warning("%s is too long a path for a socket: other processes cannot wake this "
                            "worker (it polls the jobs table)", path)
                return None
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                sock.bind(str(path))
            except OSError as e:
                sock.close()
                log.warning("no wake-up socket in %s (%s): this worker polls the jobs table", self._folder, e)
                return None
            sock.setblocking(False)
            self._sock, self._path = sock, path
            return sock

    def wait(self, timeout: float) -> bool:
        sock = self._socket()
        if sock is None:
            woken = self._pushed.wait(max(0.0, timeout))
            self._pushed.clear()
            return woken
        if self._pushed.is_set():  # pushed in this process before the wait began
            self._pushed.clear()
            self._drain(sock)
            return True
        # A push in this process sends to this socket too: one thing to wait on.
        try:
            readable, _, _ = select.select([sock], [], [], max(0.0, timeout))
        except (OSError, ValueError):  # closed meanwhile
            return False
        self._drain(sock)
        self._pushed.clear()
        return bool(readable)

    @staticmethod
    def _drain(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while sock.recv(64):
                pass

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                with contextlib.suppress(OSError):
                    self._path.unlink()
                self._sock = None


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
    return LocalQueue(settings.data_dir / "wake")
