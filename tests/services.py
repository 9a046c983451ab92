"""Real services for the tests, started as plain processes (no Docker engine here)."""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from archive import localdev
from archive.config import LOCAL_SERVICES_FILE, read_env_file

if TYPE_CHECKING:
    from archive.context import Archive

ROOT = Path(__file__).resolve().parent.parent
# MinIO's root account: only the set-up (localdev.provision) and tests of it use it.
MINIO_USER = "test-access-key"
MINIO_PASSWORD = "test-secret-key-123"


def minio_binary() -> Path:
    """The binary scripts/lib.sh built; scripts/test exports its path."""
    explicit = os.environ.get("WEBINAR_ARCHIVE_MINIO_BIN")
    if explicit:
        return Path(explicit)
    lib = (ROOT / "scripts" / "lib.sh").read_text()
    version = next(line.split('"')[1] for line in lib.splitlines() if line.startswith("MINIO_VERSION="))
    cache = Path(os.environ.get("WEBINAR_ARCHIVE_CACHE")
                 or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "webinar-archive")
    return cache / f"minio-{version}" / "minio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_process(proc: subprocess.Popen, grace: float = 20) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class MinioServer:
    def __init__(self, data_dir: Path):
        binary = minio_binary()
        if not binary.exists():
            raise RuntimeError(f"MinIO is not built at {binary}; run scripts/test (it builds it)")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MINIO_ROOT_USER": MINIO_USER, "MINIO_ROOT_PASSWORD": MINIO_PASSWORD,
               "MINIO_BROWSER": "off", "MINIO_UPDATE": "off", "MINIO_API_CORS_ALLOW_ORIGIN": "*"}
        self.log = open(data_dir.parent / "minio.log", "wb")
        self.proc = subprocess.Popen(
            [str(binary), "server", "--quiet", "--address", f"127.0.0.1:{self.port}",
             "--console-address", f"127.0.0.1:{free_port()}", str(data_dir)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_http(f"{self.endpoint}/minio/health/live")
        except OSError:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


# PostgreSQL and Redis, for the scale-out configuration (catalog on PostgreSQL, jobs via Redis).


def _pg_bin() -> Path:
    """Debian's PostgreSQL (newest installed major), or WEBINAR_ARCHIVE_PG_BIN."""
    explicit = os.environ.get("WEBINAR_ARCHIVE_PG_BIN")
    if explicit:
        return Path(explicit)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql; scripts/test does)")
    return found[-1].parent


class PostgresServer:
    """A throwaway cluster on a free port. initdb refuses to run as root, so as root
    the cluster belongs to the `postgres` user that Debian's package creates."""

    def __init__(self):
        bin_dir = _pg_bin()
        # pytest's own temporary folders are private to root: the cluster lives in /tmp.
        self.dir = Path(tempfile.mkdtemp(prefix="webinar-archive-pg-"))
        self.data = self.dir / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root needs the `postgres` user (Debian's postgresql package)")
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.pg_ctl = str(bin_dir / "pg_ctl")
        subprocess.run([*self.as_user, str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        try:
            self.start_server()
        except RuntimeError:
            self.stop()
            raise
        self._count = 0

    def start_server(self) -> None:
        """Start the cluster (again, after stop_server: the same port, the same data)."""
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        started = subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-l", str(self.dir / "log"),
                                  "-w", "-t", "60", "-o", options, "start"], capture_output=True, timeout=90)
        if started.returncode != 0:
            log = (self.dir / "log").read_text(errors="replace") if (self.dir / "log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr.decode(errors='replace')}{log}")

    def stop_server(self) -> None:
        """Stop the cluster, its data kept (a restart: start_server)."""
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       check=True, capture_output=True, timeout=60)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        self._count += 1
        name = f"test_{os.getpid()}_{self._count}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """Debian's redis-server on a free port, in memory only."""

    def __init__(self, data_dir: Path):
        binary = os.environ.get("WEBINAR_ARCHIVE_REDIS_SERVER") or shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server; "
                               "scripts/test does)")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = open(data_dir / "redis.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(data_dir), "--daemonize", "no"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"redis-server did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def bucket_user(minio: MinioServer, bucket: str) -> tuple[str, str]:
    """A new bucket and a MinIO user whose policy reaches only it, as scripts/run makes
    them: the app never gets the root credentials. Returns the user's (key, secret)."""
    user, secret = f"app-{bucket}", secrets.token_urlsafe(24)
    localdev.provision(minio.endpoint, MINIO_USER, MINIO_PASSWORD, bucket, user, secret)
    return user, secret


def session_key(data_dir: Path) -> str:
    """The data folder's session key, as scripts/run makes it: random, made once and kept
    in its services.env (mode 600), so the same folder gets the same key."""
    services = data_dir / LOCAL_SERVICES_FILE
    key = read_env_file(services).get("WEBINAR_ARCHIVE_SECRET_KEY")
    if not key:
        key = secrets.token_urlsafe(32)
        data_dir.mkdir(parents=True, exist_ok=True)
        with open(os.open(services, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as f:
            f.write(f"WEBINAR_ARCHIVE_SECRET_KEY={key}\n")
    return key


def archive_env(minio: MinioServer, tmp: Path, **overrides: str) -> dict[str, str]:
    """A test archive's environment: for Settings.from_env and for `webinar-archive`
    subprocesses alike. Each call gets its own bucket, a user limited to that bucket,
    and its own data folder (with its own session key). Given credentials (another
    archive's), no user is made."""
    bucket = overrides.get("WEBINAR_ARCHIVE_BUCKET") or f"test-{secrets.token_hex(6)}"
    if "AWS_ACCESS_KEY_ID" in overrides:
        user, secret = overrides["AWS_ACCESS_KEY_ID"], overrides["AWS_SECRET_ACCESS_KEY"]
    else:
        user, secret = bucket_user(minio, bucket)
    data = Path(overrides.get("WEBINAR_ARCHIVE_DATA") or tmp / "data")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp)),
        "WEBINAR_ARCHIVE_DATA": str(data),
        "WEBINAR_ARCHIVE_SECRET_KEY": session_key(data),
        "WEBINAR_ARCHIVE_BUCKET": bucket,
        "AWS_ENDPOINT_URL_S3": minio.endpoint,
        "AWS_ACCESS_KEY_ID": user,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "WEBINAR_ARCHIVE_PUBLIC_URL": "http://archive.test",
        # Automatic captions only where a test asks for them (tests/archive/test_transcribe.py).
        "WEBINAR_ARCHIVE_TRANSCRIBE_MODEL": "off",
        **overrides,
    }


def use_archive_env(monkeypatch, minio: MinioServer, tmp: Path, archive: Archive) -> dict[str, str]:
    """Set the environment of `archive` (its bucket, database and credentials) for a
    `webinar-archive` command run in this process; the environment set."""
    env = archive_env(minio, tmp, WEBINAR_ARCHIVE_BUCKET=archive.settings.bucket,
                      WEBINAR_ARCHIVE_DATABASE_URL=archive.settings.database_url,
                      AWS_ACCESS_KEY_ID=archive.settings.s3_access_key,
                      AWS_SECRET_ACCESS_KEY=archive.settings.s3_secret_key)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


class Listener:
    """A TCP port on 127.0.0.1 that records every connection: untrusted input must
    never make ffmpeg or LibreOffice open one."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.hits.append(conn.recv(2000) or b"(connected)")
                except OSError:
                    self.hits.append(b"(connected)")

    def hits_so_far(self, timeout: float = 10) -> list[bytes]:
        """Every connection made before this call, with no fixed sleep: a marker connection of
        our own goes in and is waited for. Connections are accepted in the order they were
        made, so one made earlier is recorded before the marker, which also shows that this
        listener records what reaches it (the positive control). The marker is not kept."""
        marker = f"marker {secrets.token_hex(8)}".encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(marker)
            deadline = time.monotonic() + timeout
            while marker not in self.hits:
                assert time.monotonic() < deadline, "the listener did not record its own marker"
                time.sleep(0.01)
        at = self.hits.index(marker)
        del self.hits[at]
        return self.hits[:at]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
