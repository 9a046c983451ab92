"""Settings read once from the environment and passed in explicitly."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from .runner import Isolation


class ConfigError(Exception):
    """A setting is missing or malformed."""


def _env(environ: dict[str, str], name: str, default: str | None = None) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _env_number(environ: dict[str, str], name: str, default, cast=int):
    """A number from the environment; `cast` is int (whole numbers) or float."""
    raw = _env(environ, name)
    if raw is None:
        return default
    try:
        return cast(raw)
    except ValueError as e:
        kind = "a whole number" if cast is int else "a number"
        raise ConfigError(f"{name} must be {kind}, not {raw!r}") from e


def _isolation(environ: dict[str, str]) -> Isolation:
    raw = (_env(environ, "WEBINAR_ARCHIVE_TOOL_ISOLATION") or Isolation.BWRAP).lower()
    try:
        return Isolation(raw)
    except ValueError as e:
        choices = " or ".join(repr(i.value) for i in Isolation)
        raise ConfigError(f"WEBINAR_ARCHIVE_TOOL_ISOLATION must be {choices}, not {raw!r}") from e


LOCAL_SERVICES_FILE = "services.env"
# Secrets anyone can read in this repository: scripts/run's MinIO password and the Flask
# key's default. Fine on this machine alone, refused anywhere else.
DEVELOPMENT_SESSION_KEY = "dev-only-not-secret"
DEVELOPMENT_SECRETS = frozenset({"webinar-archive-secret", DEVELOPMENT_SESSION_KEY})


def _loopback_host(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _on_loopback(url: str | None) -> bool:
    return _loopback_host(urlsplit(url).hostname if url else None)  # None: AWS


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (no shell syntax); a missing file is an empty dict."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class Settings:
    """Everything the archive needs to know about its surroundings.

    S3 settings follow boto3's own variable names; the rest are prefixed
    WEBINAR_ARCHIVE_.
    """

    data_dir: Path
    database_url: str
    bucket: str
    s3_endpoint: str | None  # server-side endpoint; None means AWS
    s3_public_endpoint: str | None  # endpoint the browser reaches, for presigning
    s3_region: str
    s3_access_key: str | None
    s3_secret_key: str | None
    public_url: str  # base URL of the web app, for links printed by the CLI
    secret_key: str
    work_dir: Path  # local scratch space for processing
    presign_seconds: int = 600  # playback links: how long an unpublished webinar stays reachable
    download_link_seconds: int = 3600  # a download's redirect: long enough to start it, no longer
    job_lease_seconds: int = 60
    job_max_attempts: int = 3
    ffmpeg_timeout_seconds: int = 6 * 3600
    ffmpeg_memory_mb: int = 4096  # address space per ffmpeg process
    # How often an idle worker looks in the jobs table; with Redis it is woken at once
    # by new jobs and this scan only catches what a lost message would have stranded.
    worker_poll_seconds: float = 1.0
    # `webinar-archive worker` lowers its own CPU priority by this much (nice, 0-19) at
    # start, and every tool it runs (ffmpeg, LibreOffice, the recognizer's threads) inherits
    # it: on a machine shared with the web app, processing takes the CPU visitors leave.
    worker_nice: int = 10
    job_retry_delay_seconds: float = 5.0  # times the attempt number
    redis_url: str | None = None  # None: the embedded queue (the jobs table alone)
    # Media processing (issue 6): every ffmpeg/ffprobe limit and the fast path's knobs.
    ffprobe_timeout_seconds: int = 60
    ffmpeg_network: bool = False  # False: ffmpeg/ffprobe run in a namespace without network
    web_x264_preset: str = "veryfast"  # the web MP4's preset when the video must be encoded
    # The progressive encode reads its source at this multiple of real time (0: at full
    # speed). For demonstrations and tests of a recording watched while it is encoded.
    progressive_readrate: float = 0.0
    upload_threads: int = 8  # parallel uploads and multipart parts per upload
    # Slide decks: LibreOffice (PPTX/ODP -> PDF) and the PDF renderer run within these.
    office_timeout_seconds: float = 300
    office_memory_mb: int = 4096  # address space of each LibreOffice process
    render_timeout_seconds: float = 600  # check, render and read one whole deck
    render_memory_mb: int = 1024
    deck_max_pages: int = 2000
    # Browser uploads: largest file per kind, and when an unfinished one is abandoned.
    upload_max_recording_mb: int = 50_000
    upload_max_slides_mb: int = 500
    upload_max_captions_mb: int = 20
    upload_abandon_hours: float = 48.0
    # How tool children are fenced in: bubblewrap (namespaces, their own filesystem view),
    # or `none` where the worker is isolated otherwise (compose: a network reaching MinIO only).
    tool_isolation: Isolation = Isolation.BWRAP
    # Security review (issue 13): client addresses, sign-in limits, the play beacon.
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-For is believed
    login_window_seconds: int = 600
    login_client_failures: int = 10  # failed sign-ins per client address and window
    login_account_failures: int = 20  # per account from all clients: above one client's, so it cannot lock one out
    play_beacons_per_minute: int = 30  # per client address
    # A CDN in front of the bucket: presigned GETs (media, downloads) are signed for the S3
    # endpoint as ever, then handed out on this base URL; the CDN forwards path and query.
    media_cdn_url: str | None = None
    # Automatic captions (issue 15): a faster-whisper model name, a local folder (its files
    # checked against its SHA256SUMS), or "off"; the recognizer's CPU threads (0: all cores).
    transcribe_model: str = "base"
    transcribe_threads: int = 0
    # Voiced chunks decoded together (faster-whisper's BatchedInferencePipeline); 0: one
    # 30-second window after the other. Batches are faster even on 2 cores, and each chunk
    # decoded on its own keeps a prompted decoding from skipping a sentence it found hard.
    transcribe_batch: int = 8

    @property
    def transcribe_on(self) -> bool:
        return self.transcribe_model != "off"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if environ is None else environ)
        data_dir = Path(_env(env, "WEBINAR_ARCHIVE_DATA", "data")).resolve()
        # scripts/run leaves the local services' settings in the data folder, so that
        # any command run beside it (import, jobs, ...) reaches the same MinIO.
        env = {**read_env_file(data_dir / LOCAL_SERVICES_FILE), **env}
        endpoint = _env(env, "AWS_ENDPOINT_URL_S3") or _env(env, "AWS_ENDPOINT_URL")
        port = _env_number(env, "WEBINAR_ARCHIVE_PORT", 8000)
        redis_url = _env(env, "WEBINAR_ARCHIVE_REDIS_URL")
        return cls(
            data_dir=data_dir,
            database_url=_env(
                env, "WEBINAR_ARCHIVE_DATABASE_URL", f"sqlite:///{data_dir / 'catalog.sqlite3'}"
            ),
            bucket=_env(env, "WEBINAR_ARCHIVE_BUCKET", "webinar-archive"),
            s3_endpoint=endpoint,
            s3_public_endpoint=_env(env, "WEBINAR_ARCHIVE_S3_PUBLIC_ENDPOINT", endpoint),
            s3_region=_env(env, "AWS_DEFAULT_REGION", _env(env, "AWS_REGION", "us-east-1")),
            s3_access_key=_env(env, "AWS_ACCESS_KEY_ID"),
            s3_secret_key=_env(env, "AWS_SECRET_ACCESS_KEY"),
            public_url=_env(env, "WEBINAR_ARCHIVE_PUBLIC_URL", f"http://127.0.0.1:{port}").rstrip("/"),
            secret_key=_env(env, "WEBINAR_ARCHIVE_SECRET_KEY", DEVELOPMENT_SESSION_KEY),
            work_dir=Path(_env(env, "WEBINAR_ARCHIVE_WORK_DIR", str(data_dir / "work"))),
            presign_seconds=_env_number(env, "WEBINAR_ARCHIVE_PRESIGN_SECONDS", 600),
            download_link_seconds=_env_number(env, "WEBINAR_ARCHIVE_DOWNLOAD_LINK_SECONDS", 3600),
            job_lease_seconds=_env_number(env, "WEBINAR_ARCHIVE_JOB_LEASE_SECONDS", 60),
            job_max_attempts=_env_number(env, "WEBINAR_ARCHIVE_JOB_MAX_ATTEMPTS", 3),
            ffmpeg_timeout_seconds=_env_number(env, "WEBINAR_ARCHIVE_FFMPEG_TIMEOUT", 6 * 3600),
            ffmpeg_memory_mb=_env_number(env, "WEBINAR_ARCHIVE_FFMPEG_MEMORY_MB", 4096),
            worker_poll_seconds=_env_number(env, "WEBINAR_ARCHIVE_WORKER_POLL_SECONDS",
                                           10.0 if redis_url else 1.0, float),
            worker_nice=min(19, max(0, _env_number(env, "WEBINAR_ARCHIVE_WORKER_NICE", 10))),
            job_retry_delay_seconds=_env_number(env, "WEBINAR_ARCHIVE_JOB_RETRY_DELAY", 5.0, float),
            redis_url=redis_url,
            ffprobe_timeout_seconds=_env_number(env, "WEBINAR_ARCHIVE_FFPROBE_TIMEOUT", 60),
            ffmpeg_network=_env(env, "WEBINAR_ARCHIVE_FFMPEG_NETWORK", "0").lower() in ("1", "true", "yes"),
            web_x264_preset=_env(env, "WEBINAR_ARCHIVE_WEB_X264_PRESET", "veryfast"),
            progressive_readrate=_env_number(env, "WEBINAR_ARCHIVE_PROGRESSIVE_READRATE", 0.0, float),
            upload_threads=max(1, _env_number(env, "WEBINAR_ARCHIVE_UPLOAD_THREADS", 8)),
            office_timeout_seconds=_env_number(env, "WEBINAR_ARCHIVE_OFFICE_TIMEOUT", 300.0, float),
            office_memory_mb=_env_number(env, "WEBINAR_ARCHIVE_OFFICE_MEMORY_MB", 4096),
            render_timeout_seconds=_env_number(env, "WEBINAR_ARCHIVE_RENDER_TIMEOUT", 600.0, float),
            render_memory_mb=_env_number(env, "WEBINAR_ARCHIVE_RENDER_MEMORY_MB", 1024),
            deck_max_pages=_env_number(env, "WEBINAR_ARCHIVE_DECK_MAX_PAGES", 2000),
            upload_max_recording_mb=_env_number(env, "WEBINAR_ARCHIVE_UPLOAD_MAX_RECORDING_MB", 50_000),
            upload_max_slides_mb=_env_number(env, "WEBINAR_ARCHIVE_UPLOAD_MAX_SLIDES_MB", 500),
            upload_max_captions_mb=_env_number(env, "WEBINAR_ARCHIVE_UPLOAD_MAX_CAPTIONS_MB", 20),
            upload_abandon_hours=_env_number(env, "WEBINAR_ARCHIVE_UPLOAD_ABANDON_HOURS", 48.0, float),
            tool_isolation=_isolation(env),
            trusted_proxies=max(0, _env_number(env, "WEBINAR_ARCHIVE_TRUSTED_PROXIES", 0)),
            login_window_seconds=max(1, _env_number(env, "WEBINAR_ARCHIVE_LOGIN_WINDOW_SECONDS", 600)),
            login_client_failures=max(1, _env_number(env, "WEBINAR_ARCHIVE_LOGIN_CLIENT_FAILURES", 10)),
            login_account_failures=max(1, _env_number(env, "WEBINAR_ARCHIVE_LOGIN_ACCOUNT_FAILURES", 20)),
            play_beacons_per_minute=max(1, _env_number(env, "WEBINAR_ARCHIVE_PLAY_BEACONS_PER_MINUTE", 30)),
            transcribe_model=_env(env, "WEBINAR_ARCHIVE_TRANSCRIBE_MODEL", "base"),
            transcribe_threads=max(0, _env_number(env, "WEBINAR_ARCHIVE_TRANSCRIBE_THREADS", 0)),
            transcribe_batch=max(0, _env_number(env, "WEBINAR_ARCHIVE_TRANSCRIBE_BATCH", 8)),
            media_cdn_url=(_env(env, "WEBINAR_ARCHIVE_MEDIA_CDN_URL") or "").rstrip("/") or None,
        )

    def refuse_development_secrets(self, serve_host: str | None = None) -> None:
        """A published secret is fine on this machine alone, nowhere else: the S3 secret
        beside a local MinIO; the session key (anyone holding it signs an admin's session)
        only while the S3 endpoint, the public URL and the address served on (`serve_host`,
        when serving) are all loopback."""
        if self.s3_secret_key in DEVELOPMENT_SECRETS and not _on_loopback(self.s3_endpoint):
            raise ConfigError(f"AWS_SECRET_ACCESS_KEY is a development secret published with the code; set "
                              f"your own (the S3 endpoint, {self.s3_endpoint or 'AWS'}, is not on this machine)")
        if self.secret_key not in DEVELOPMENT_SECRETS:
            return
        reached = [what for what, local in (
            (f"the S3 endpoint ({self.s3_endpoint or 'AWS'})", _on_loopback(self.s3_endpoint)),
            (f"the public URL ({self.public_url})", _on_loopback(self.public_url)),
            (f"the address served on ({serve_host!r})", serve_host is None or _loopback_host(serve_host)),
        ) if not local]
        if reached:
            raise ConfigError(f"WEBINAR_ARCHIVE_SECRET_KEY is a development secret published with the code; "
                              f"set your own, long and random: {' and '.join(reached)} "
                              f"{'is' if len(reached) == 1 else 'are'} not on this machine")

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
