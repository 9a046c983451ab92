"""Real services for the tests, started as plain processes (no Docker engine here)."""
from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from archive import localdev
from archive.config import LOCAL_SERVICES_FILE, Settings, read_env_file

if TYPE_CHECKING:
    from archive.context import Archive

ROOT = Path(__file__).resolve().parent.parent
# MinIO's root account: only the set-up (localdev.provision) and tests of it use it.
MINIO_USER = "test-access-key"
MINIO_PASSWORD = "test-secret-key-123"


def _cached_binary(name: str, version_variable: str, explicit_variable: str) -> Path:
    """A binary scripts/lib.sh built into the cache (scripts/test exports its path)."""
    explicit = os.environ.get(explicit_variable)
    if explicit:
        return Path(explicit)
    lib = (ROOT / "scripts" / "lib.sh").read_text()
    version = next(line.split('"')[1] for line in lib.splitlines() if line.startswith(f"{version_variable}="))
    cache = Path(os.environ.get("WEBINAR_ARCHIVE_CACHE")
                 or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "webinar-archive")
    return cache / f"{name}-{version}" / name


def minio_binary() -> Path:
    return _cached_binary("minio", "MINIO_VERSION", "WEBINAR_ARCHIVE_MINIO_BIN")


def versitygw_binary() -> Path:
    return _cached_binary("versitygw", "VERSITYGW_VERSION", "WEBINAR_ARCHIVE_VERSITYGW_BIN")


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
    name = "minio"

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

    def bucket_user(self, bucket: str, user: str, secret: str) -> None:
        """The bucket, and `user` limited to it by a user policy (MinIO's admin API)."""
        localdev.provision(self.endpoint, MINIO_USER, MINIO_PASSWORD, bucket, user, secret)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


# Origins the second S3 server's buckets admit (per-bucket CORS): the tests' public URL.
TEST_ORIGINS = ["http://archive.test"]


class VersityServer:
    """versitygw (the second S3 server) on a folder (its posix backend), with its own
    accounts (internal IAM) and an admin port. Its root account only makes buckets and
    accounts; the app gets an account that a bucket policy limits to its bucket."""

    name = "versitygw"

    def __init__(self, data_dir: Path):
        binary = versitygw_binary()
        if not binary.exists():
            raise RuntimeError(f"versitygw is not built at {binary}; run scripts/test (it builds it)")
        self.binary = binary
        for sub in ("buckets", "iam"):
            (data_dir / sub).mkdir(parents=True, exist_ok=True)
        self.port, self.admin_port = free_port(), free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.admin_endpoint = f"http://127.0.0.1:{self.admin_port}"
        env = {**os.environ, "ROOT_ACCESS_KEY": MINIO_USER, "ROOT_SECRET_KEY": MINIO_PASSWORD}
        self.log = open(data_dir.parent / "versitygw.log", "wb")
        self.proc = subprocess.Popen(
            [str(binary), "--port", f"127.0.0.1:{self.port}", "--admin-port", f"127.0.0.1:{self.admin_port}",
             "--iam-dir", str(data_dir / "iam"), "--quiet", "posix", str(data_dir / "buckets")],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:  # it answers 403 to an unsigned request once it listens
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"versitygw did not start; see {data_dir.parent / 'versitygw.log'}")
                time.sleep(0.1)

    def bucket_user(self, bucket: str, user: str, secret: str) -> None:
        """An account of role `user` (versitygw's admin tool), then the bucket with a
        policy limiting it to that bucket and the uploader's CORS rule (localdev)."""
        subprocess.run([str(self.binary), "admin", "--access", MINIO_USER, "--secret", MINIO_PASSWORD,
                        "--endpoint-url", self.admin_endpoint, "create-user", "--access", user, "--secret", secret,
                        "--role", "user"], check=True, capture_output=True, timeout=60)
        assert localdev.share_bucket(self.endpoint, MINIO_USER, MINIO_PASSWORD, bucket, user, TEST_ORIGINS)

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

    def __init__(self, directory: Path | None = None, settings: dict[str, str] | None = None):
        """A new cluster in a new folder; or, given `directory`, the cluster kept there
        (made on first use, started again later, never removed: bench/search.py --keep).
        `settings`: server settings besides the defaults (postgres -c name=value)."""
        self.settings = dict(settings or {})
        bin_dir = _pg_bin()
        # pytest's own temporary folders are private to root: the cluster lives in /tmp.
        self.keep = directory is not None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory or Path(tempfile.mkdtemp(prefix="webinar-archive-pg-"))
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
        if not (self.data / "PG_VERSION").exists():
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
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
                   + "".join(f" -c {name}={value}" for name, value in self.settings.items()))
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

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A fresh, empty database (or the one called `name`, made if missing; or a copy of
        the database `template`, which is quicker than migrating a new one); returns its
        SQLAlchemy URL."""
        import psycopg

        self._count += 1
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            if name is None or not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                name = name or f"test_{os.getpid()}_{self._count}"
                conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "fast" if self.keep else "immediate",
                            "-w", "stop"], capture_output=True, timeout=60)
        if not self.keep:
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


def bucket_user(minio: MinioServer | VersityServer, bucket: str) -> tuple[str, str]:
    """A new bucket and a user (of MinIO, or of versitygw) whose policy reaches only it,
    as scripts/run makes them: the app never gets the root credentials. Returns the
    user's (key, secret)."""
    user, secret = f"app-{bucket}", secrets.token_urlsafe(24)
    minio.bucket_user(bucket, user, secret)
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


def archive_env(minio: MinioServer | VersityServer, tmp: Path, **overrides: str) -> dict[str, str]:
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


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives another process (`webinar-archive worker`, `serve`) the
    archive of `settings`: its catalog, queue, bucket, credentials and job settings."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(settings.data_dir)),
        "WEBINAR_ARCHIVE_DATA": str(settings.data_dir),
        "WEBINAR_ARCHIVE_DATABASE_URL": settings.database_url,
        "WEBINAR_ARCHIVE_BUCKET": settings.bucket,
        "AWS_ENDPOINT_URL_S3": settings.s3_endpoint or "",
        "WEBINAR_ARCHIVE_S3_PUBLIC_ENDPOINT": settings.s3_public_endpoint or "",
        "AWS_DEFAULT_REGION": settings.s3_region,
        "AWS_ACCESS_KEY_ID": settings.s3_access_key or "",
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key or "",
        "WEBINAR_ARCHIVE_PUBLIC_URL": settings.public_url,
        "WEBINAR_ARCHIVE_SECRET_KEY": settings.secret_key,
        "WEBINAR_ARCHIVE_REDIS_URL": settings.redis_url or "",
        "WEBINAR_ARCHIVE_PRESIGN_SECONDS": str(settings.presign_seconds),
        "WEBINAR_ARCHIVE_DOWNLOAD_LINK_SECONDS": str(settings.download_link_seconds),
        "WEBINAR_ARCHIVE_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
        "WEBINAR_ARCHIVE_JOB_MAX_ATTEMPTS": str(settings.job_max_attempts),
        "WEBINAR_ARCHIVE_JOB_RETRY_DELAY": str(settings.job_retry_delay_seconds),
        "WEBINAR_ARCHIVE_TOOL_ISOLATION": settings.tool_isolation.value,
    }
    return {k: v for k, v in env.items() if v != ""}


class WorkerProcesses:
    """Several `webinar-archive worker` processes on one archive, as on several machines
    (each its own scratch folder), for the scale-out configuration: the `worker` fixture's
    stand-in, started at the first `run_until_idle`. Every run of a job is logged by the
    worker that ran it ("job N (...): attempt A"); no (job, attempt) may appear twice."""

    RUN = re.compile(rb"job (\d+) \([^)]*\): attempt (\d+)")

    def __init__(self, archive: "Archive", folder: Path, count: int = 2):
        self.archive, self.folder, self.count = archive, folder, count
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self) -> None:
        if self.procs:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        env = settings_env(self.archive.settings)
        for n in range(self.count):
            log = self.folder / f"worker-{n}.log"
            with open(log, "wb") as out:
                self.procs.append(subprocess.Popen(
                    [str(Path(sys.executable).parent / "webinar-archive"), "worker"],
                    env={**env, "WEBINAR_ARCHIVE_WORK_DIR": str(self.folder / f"scratch-{n}")},
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
            self.logs.append(log)

    def runs(self) -> list[tuple[int, int]]:
        """(job id, attempt) of every run the workers logged, in all logs together."""
        return [(int(m[0]), int(m[1])) for log in self.logs for m in self.RUN.findall(log.read_bytes())]

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs)

    def run_until_idle(self, timeout: float = 600) -> None:
        """Start the workers (once) and wait until no job is queued or running, delayed
        retries included, as Worker.run_until_idle does; then check no run was doubled."""
        from sqlalchemy import func, select

        from archive.models import Job
        from archive.states import JobState

        self.start()
        deadline = time.monotonic() + timeout
        while True:
            with self.archive.catalog.session() as s:
                busy = s.scalar(select(func.count()).select_from(Job)
                                .where(Job.state.in_([JobState.QUEUED, JobState.RUNNING])))
            if not busy:
                break
            dead = [p.args for p in self.procs if p.poll() is not None]
            assert not dead, f"a worker process ended: {self.output()}"
            assert time.monotonic() < deadline, f"jobs still queued after {timeout:.0f} s: {self.output()}"
            time.sleep(0.05)
        runs = self.runs()
        assert len(runs) == len(set(runs)), f"a job ran twice: {sorted(runs)}\n{self.output()}"

    def stop(self, grace: float = 5) -> None:
        """SIGTERM (an idle worker ends within a second); then SIGKILL: a job still running
        at the end of a test is of no interest to it."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


class GunicornServer:
    """`webinar-archive serve` (gunicorn, two processes) on a free loopback port, on the
    archive of `settings`: the scale-out configuration's web app."""

    def __init__(self, settings: Settings, log: Path, workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "webinar-archive"), "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers)],
            env=settings_env(settings), stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            wait_http(f"{self.url}/api/health", timeout=60)
        except OSError:
            self.stop()
            raise RuntimeError(f"gunicorn did not start; see {log}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


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
