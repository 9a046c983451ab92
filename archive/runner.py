"""One way to run an external program (ffprobe, ffmpeg, LibreOffice) or an in-worker
renderer: every untrusted file is handled by a child process started here.

The child gets a minimal environment (no S3 keys, no database URL), a wall-clock time
limit, an address-space limit, its own process group (killed whole when the time is up
or the worker goes), and dies with the worker (PR_SET_PDEATHSIG). With `network=False`
it runs in a fresh network namespace that has no interface but a downed loopback, so
nothing it reads can make it reach any host, and in a fresh PID namespace, so that
whatever it forks dies with it too. The tail of its messages is kept for the
staff pages.
"""
from __future__ import annotations

import collections
import ctypes
import functools
import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)

# What a child may see of the environment: nothing the worker was configured with.
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Limits:
    """What a child may use. `memory_mb` caps its address space (None: no cap)."""

    seconds: float
    memory_mb: int | None = None
    network: bool = True


class ToolError(Exception):
    """A child failed, timed out or could not start. `log` is the tail of its messages."""

    def __init__(self, message: str, log: str = "", *, returncode: int | None = None,
                 timed_out: bool = False):
        super().__init__(message)
        self.log = log
        self.returncode = returncode
        self.timed_out = timed_out

    @property
    def killed(self) -> bool:
        """Killed by a signal from outside (OOM killer, an operator), not by our limit."""
        return not self.timed_out and self.returncode is not None and self.returncode < 0


class ToolUnavailable(ToolError):
    """The program (or the network namespace asked for) is not available on this machine."""


@dataclass
class Completed:
    returncode: int
    log: str  # tail of stderr (and of stdout when it was not captured or streamed)
    stdout: bytes = b""


def minimal_env(home: Path | str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment a child gets."""
    env = {"PATH": _SAFE_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    if home is not None:
        env["HOME"] = str(home)
        env["TMPDIR"] = str(home)
    env.update(extra or {})
    return env


@functools.cache
def _unshare_prefix() -> tuple[str, ...] | None:
    """The command prefix that runs a program without network, or None if none works here.
    As root a plain network namespace; otherwise a user namespace maps us to root in it."""
    unshare = shutil.which("unshare", path=_SAFE_PATH)
    if unshare is None:
        return None
    # --pid --fork --kill-child: the program is the first process of a fresh PID namespace,
    # and unshare (which dies with the worker) takes it with it; when it goes, the kernel
    # kills everything left in the namespace (soffice.bin and any helper it forked).
    isolate = ("--net", "--pid", "--fork", "--kill-child")
    for prefix in ((unshare, *isolate), (unshare, "--map-root-user", *isolate)):
        try:
            r = subprocess.run([*prefix, "true"], env=minimal_env(), capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return prefix
    return None


def network_isolation_available() -> bool:
    return _unshare_prefix() is not None


def _child_setup(memory_mb: int | None) -> Callable[[], None]:
    """Runs in the child between fork and exec: cap its address space and make it die
    with the worker, so a worker killed with SIGKILL leaves no child writing behind it."""
    parent = os.getpid()
    limit = None
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)

    def setup() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the worker died before prctl took effect
            os._exit(1)

    return setup


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _program_name(args: Sequence[str]) -> str:
    return Path(args[0]).name if args else "?"


def run(
    args: Sequence[str],
    limits: Limits,
    *,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    on_stdout_line: Callable[[str], None] | None = None,
    capture_stdout: bool = False,
    stdin: bytes | None = None,
    tail_lines: int = 25,
    pass_fds: Sequence[int] = (),
) -> Completed:
    """Run `args` within `limits` and wait for it.

    stdout is streamed line by line to `on_stdout_line` (progress), captured whole
    (`capture_stdout`, e.g. ffprobe's JSON), or folded into the log. Returns Completed
    whatever the exit status; raises ToolError only when the time limit was hit, and
    ToolUnavailable when the program or the network isolation is missing. Callers decide
    what a non-zero status means for their tool. `pass_fds`: descriptors the child keeps
    under the same numbers (a pipe ffmpeg writes an output to).
    """
    name = _program_name(args)
    argv = list(args)
    if not limits.network:
        prefix = _unshare_prefix()
        if prefix is None:
            raise ToolUnavailable(f"{name} must run without network, and this machine cannot "
                                  "make a network namespace (util-linux unshare)")
        argv = [*prefix, *argv]
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    out_chunks: list[bytes] = []
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
            env=env if env is not None else minimal_env(cwd),
            start_new_session=True, preexec_fn=_child_setup(limits.memory_mb), pass_fds=tuple(pass_fds))
    except FileNotFoundError as e:
        raise ToolUnavailable(f"{name} is not installed") from e

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    def feed_stdin() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin or b"")
            proc.stdin.close()
        except OSError:  # the child stopped reading: its exit status says why
            pass

    threads = [threading.Thread(target=drain_stderr, daemon=True)]
    if stdin is not None:
        threads.append(threading.Thread(target=feed_stdin, daemon=True))
    for t in threads:
        t.start()
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        _kill_group(proc.pid)

    timer = threading.Timer(limits.seconds, on_timeout)
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if capture_stdout:
                out_chunks.append(raw)
            elif on_stdout_line is not None:
                on_stdout_line(raw.decode("utf-8", "replace").rstrip("\n"))
            else:
                tail.append(raw.decode("utf-8", "replace").rstrip())
        rc = _wait_not_reaped(proc)
    finally:
        timer.cancel()
        # On every way out: the child and anything it started (soffice.bin, helpers).
        _kill_group(proc.pid)
        proc.wait()
        for t in threads:
            t.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr, proc.stdin):
            if pipe is not None:
                pipe.close()
    log = "\n".join(tail)
    if timed_out.is_set():
        raise ToolError(f"{name} did not finish within the {limits.seconds:g} s limit and was stopped",
                        log, returncode=proc.returncode, timed_out=True)
    return Completed(returncode=rc, log=log, stdout=b"".join(out_chunks))


def _wait_not_reaped(proc: subprocess.Popen) -> int:
    """Wait for the child to exit without reaping it: while it is a zombie its process
    group id cannot be reused, so killing that group afterwards is safe."""
    while True:
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:  # already reaped elsewhere
            return proc.wait()
        if info is not None:
            if info.si_code == os.CLD_EXITED:
                return info.si_status
            return -info.si_status
        time.sleep(0.05)
