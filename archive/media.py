"""Running ffmpeg and ffprobe: through `archive.runner` (minimal environment, time and
memory limits, death with the worker), with their failures turned into our errors.

The commands themselves are built in `archive.ffmpeg_commands`; what a probe means is
`archive.probe`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from . import runner
from .config import Settings

LOG_TAIL_LINES = 25
_OUT_OF_MEMORY = ("Cannot allocate memory", "failed to map segment", "malloc of size", "bad_alloc")


class MediaError(Exception):
    """ffmpeg failed or timed out. `log` holds the tail of its message."""

    def __init__(self, message: str, log: str = "", permanent: bool = True):
        super().__init__(message)
        self.log = log
        self.permanent = permanent


class MediaRejected(MediaError):
    """The file is not a recording we can take (known-bad input: never retried)."""


@dataclass(frozen=True)
class ToolLimits:
    """The limits of every ffmpeg and ffprobe run, from Settings."""

    ffmpeg_seconds: float
    probe_seconds: float
    memory_mb: int | None
    network: bool = False  # neither reads anything but a local file
    isolation: runner.Isolation = runner.Isolation.BWRAP

    @classmethod
    def from_settings(cls, settings: Settings) -> "ToolLimits":
        return cls(ffmpeg_seconds=settings.ffmpeg_timeout_seconds,
                   probe_seconds=settings.ffprobe_timeout_seconds,
                   memory_mb=settings.ffmpeg_memory_mb,
                   network=settings.ffmpeg_network, isolation=settings.tool_isolation)

    def ffmpeg(self, seconds: float | None = None) -> runner.Limits:
        return runner.Limits(min(seconds, self.ffmpeg_seconds) if seconds else self.ffmpeg_seconds,
                             self.memory_mb, self.network, self.isolation)

    def probe(self) -> runner.Limits:
        return runner.Limits(self.probe_seconds, self.memory_mb, self.network, self.isolation)


def _local_path(arg: str) -> Path | None:
    """The local file an ffmpeg/ffprobe argument names (`file:/x` or `/x`), if any."""
    path = arg.removeprefix("file:")
    return Path(path) if path.startswith("/") else None


def tool_view(args: Sequence[str], reads: Sequence[Path] = (), writes: Sequence[Path] = ()) -> runner.View:
    """What an ffmpeg or ffprobe command may see: its inputs (`-i`; every path for ffprobe)
    read-only, the folders of its outputs writable; plus `reads` and `writes`."""
    probe_only = Path(args[0]).name == "ffprobe" if args else False
    read, write = list(reads), list(writes)
    for before, arg in zip(args, args[1:]):
        path = _local_path(arg)
        if path is None:
            continue
        if probe_only or before == "-i":
            read.append(path)
        elif path.parent.is_dir():  # else ffmpeg says itself that it cannot write there
            write.append(path.parent)
    return runner.View(tuple(read), tuple(write))


def first_line(text: str) -> str:
    """The line of a tool's message worth showing: its last non-empty one."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def _out_time(line: str) -> float | None:
    key, _, value = line.strip().partition("=")
    if key in ("out_time_us", "out_time_ms") and value.isdigit():
        return int(value) / 1e6
    return None


def run_ffmpeg(
    args: list[str],
    limits: runner.Limits,
    duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    tail_lines: int = LOG_TAIL_LINES,
    pass_fds: tuple[int, ...] = (),
    reads: Sequence[Path] = (),
    writes: Sequence[Path] = (),
) -> str:
    """Run an ffmpeg command within `limits`; return the tail of its messages, raise
    MediaError with it on failure (killed from outside: retryable). `pass_fds`: pipes it
    writes outputs to (`pipe:N`). It sees its inputs and its outputs' folders
    (`tool_view`), and `reads`/`writes` besides (a file named inside a filter)."""

    def progress(line: str) -> None:
        t = _out_time(line)
        if t is not None and duration and on_progress:
            on_progress(min(1.0, t / duration))

    try:
        done = runner.run(args, limits, on_stdout_line=progress, tail_lines=tail_lines, pass_fds=pass_fds,
                          view=tool_view(args, reads, writes))
    except runner.ToolUnavailable as e:
        raise MediaError(str(e), e.log, permanent=False) from e
    except runner.ToolError as e:
        raise MediaError(f"ffmpeg did not finish within the {int(limits.seconds)} s limit", e.log) from e
    rc, log = done.returncode, done.log
    if rc != 0:
        if rc < 0:
            # killed by a signal from outside (OOM killer, an operator): worth another try
            raise MediaError(f"ffmpeg was killed (signal {-rc})", log, permanent=False)
        if limits.memory_mb and any(marker in log for marker in _OUT_OF_MEMORY):
            raise MediaError(f"ffmpeg needed more than its {limits.memory_mb} MB memory limit", log)
        raise MediaError(f"ffmpeg failed: {first_line(log)}", log)
    if "Error writing trailer" in log:  # ffmpeg 5.1 exits 0 after it, its output unfinished
        line = next(ln for ln in log.splitlines() if "Error writing trailer" in ln)
        raise MediaError(f"ffmpeg failed: {line.strip()}", log)
    return log


def run_ffprobe(args: list[str], limits: runner.Limits) -> tuple[int, bytes, str]:
    """(exit status, JSON on stdout, message); a probe that hangs is a refusal."""
    try:
        done = runner.run(args, limits, capture_stdout=True, view=tool_view(args))
    except runner.ToolUnavailable as e:
        raise MediaError(str(e), e.log, permanent=False) from e
    except runner.ToolError as e:
        raise MediaRejected(f"ffprobe gave no answer within {limits.seconds:g} s", e.log) from e
    if done.returncode < 0:
        raise MediaError(f"ffprobe was killed (signal {-done.returncode})", done.log, permanent=False)
    if done.returncode != 0 and limits.memory_mb and any(marker in done.log for marker in _OUT_OF_MEMORY):
        # Say that it is the limit, not the file; refused all the same (the same limit fails
        # the same way again).
        raise MediaRejected(f"ffprobe needed more than its {limits.memory_mb} MB memory limit", done.log)
    return done.returncode, done.stdout, done.log
