"""Real services for the tests, started as plain processes (no Docker engine here)."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
