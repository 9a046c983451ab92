"""The two configurations the job queue must work in: one machine (SQLite, the embedded
queue) and several (PostgreSQL, Redis; their servers are tests/conftest.py's fixtures)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.config import Settings

from ..services import archive_env

BACKENDS = ("sqlite", "postgres+redis")
WEBINAR_ARCHIVE = Path(sys.executable).parent / "webinar-archive"


@pytest.fixture(params=BACKENDS)
def backend(request) -> dict[str, str]:
    """Settings that pick the configuration: nothing for the default one, a fresh
    PostgreSQL database and the Redis server for the scale-out one."""
    if request.param == "sqlite":
        return {}
    pg = request.getfixturevalue("postgres")
    redis = request.getfixturevalue("redis_server")
    return {"WEBINAR_ARCHIVE_DATABASE_URL": pg.create_database(), "WEBINAR_ARCHIVE_REDIS_URL": redis.url}


@pytest.fixture
def backend_env(minio, tmp_path, backend) -> dict[str, str]:
    """A test archive's environment on the backend under test, retries without delay."""
    return archive_env(minio, tmp_path, WEBINAR_ARCHIVE_JOB_RETRY_DELAY="0", **backend)


@pytest.fixture
def backend_settings(backend_env) -> Settings:
    """Settings on the backend under test: a module's `settings` fixture returns it to run
    every test there on both backends."""
    return Settings.from_env(backend_env)


class WorkerProcess:
    """`webinar-archive worker` as its own process group, its output in a file."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen([str(WEBINAR_ARCHIVE), "worker"], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (finish the job in hand, then stop); SIGKILL the group if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_group()
        return self.proc.returncode

    def kill_group(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._log.close()


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    """Poll until `condition()` returns something true; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
