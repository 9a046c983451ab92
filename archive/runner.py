"""One way to run an external program (ffprobe, ffmpeg, LibreOffice) or an in-worker
renderer: every untrusted file is handled by a child process started here.

The child gets a minimal environment (no S3 keys, no database URL), a wall-clock time
limit, an address-space limit, its own process group (killed whole when the time is up
or the worker goes), and dies with the worker (PR_SET_PDEATHSIG). With the default
isolation (`Isolation.BWRAP`) it runs inside bubblewrap: fresh user, PID, IPC, UTS,
cgroup and network namespaces (the network shared only when `Limits.network`), its own
`/proc`, and a filesystem of read-only system folders plus exactly the files and folders
of its `View`: no data folder, no other job's scratch, no `/proc/<worker>/environ`.
`Isolation.NONE` is for places that isolate the worker otherwise (the compose stack).
The tail of its messages is kept for the staff pages.
"""
from __future__ import annotations

import collections
import ctypes
import os
import resource
import shutil
import signal
import site
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Callable, Sequence

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)

# What a child may see of the environment: nothing the worker was configured with.
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class Isolation(StrEnum):
    """How children are fenced in (Settings.tool_isolation)."""

    BWRAP = "bwrap"  # namespaces and a filesystem view of their own (bubblewrap)
    NONE = "none"  # limits and a minimal environment only: the worker is isolated otherwise


@dataclass(frozen=True)
class Limits:
    """What a child may use. `memory_mb` caps its address space (None: no cap);
    `network` shares the worker's network with it."""

    seconds: float
    memory_mb: int | None = None
    network: bool = True
    isolation: Isolation = Isolation.BWRAP


@dataclass(frozen=True)
class View:
    """What a child sees of the filesystem besides the read-only system folders: `read`
    files or folders read-only, `write` folders read-write (the child's cwd is one)."""

    read: tuple[Path, ...] = ()
    write: tuple[Path, ...] = ()

    def __add__(self, other: "View") -> "View":
        return View(self.read + other.read, self.write + other.write)


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
    """The program, or the sandbox it must run in, is not available on this machine: an
    operator's problem, retried. The message starts with "tool unavailable: "."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(f"tool unavailable: {message}", log)


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


# -- the sandbox ------------------------------------------------------------------------------

# Read-only system folders: programs, libraries, the loader's cache, fonts (and their
# cache, or every run rescans them), LibreOffice's registry (/usr/lib/libreoffice/share/
# registry links to /etc/libreoffice). Nothing else of /etc: no passwd, no hosts, no keys.
SYSTEM_FOLDERS = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
                  "/etc/fonts", "/var/cache/fontconfig", "/etc/libreoffice")
# On a merged-/usr system these are links into /usr; elsewhere folders of their own.
_TOP_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_BWRAP = "bwrap"
# A fresh namespace of every kind, the network shared only when asked; bwrap and all it
# started die with the worker. No `--new-session`: `run` starts every child in a session of
# its own already (no controlling terminal, so no keystrokes pushed into the worker's one:
# TIOCSTI), and gives that session the worker's CPU priority, which a second session made
# by bwrap would not have (see `session_nice`).
_BWRAP_FLAGS = ("--unshare-all", "--die-with-parent")


def _system_view() -> list[str]:
    args: list[str] = []
    for top in _TOP_LINKS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--ro-bind", "/usr", "/usr"]
    for path in SYSTEM_FOLDERS:
        args += ["--ro-bind-try", path, path]
    return args + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]


def bwrap_args(view: View, network: bool, cwd: Path | str | None = None, bwrap: str = _BWRAP) -> list[str]:
    """The bubblewrap command line (up to `--`) that shows a child `view` and nothing else
    of this machine: system folders read-only, its own /proc, /dev and /tmp."""
    args = [bwrap, *_BWRAP_FLAGS, *(["--share-net"] if network else []), *_system_view()]
    # Parents before children, and a read-only path after a writable one that holds it,
    # so an input inside a writable scratch folder stays read-only. A path that does not
    # exist is left out: the tool then says itself that it cannot find it.
    binds = [(Path(p).absolute(), True) for p in view.write]
    if cwd is not None:
        binds.append((Path(cwd).absolute(), True))
    binds += [(Path(p).absolute(), False) for p in view.read]
    for path, writable in sorted(set(binds), key=lambda b: (len(b[0].parts), not b[1])):
        args += ["--bind-try" if writable else "--ro-bind-try", str(path), str(path)]
    if cwd is not None:
        args += ["--chdir", str(Path(cwd).absolute())]
    return [*args, "--"]


def python_view() -> View:
    """What this worker's Python needs besides /usr, read-only, for a Python child (the PDF
    renderer): its prefix (a venv), its base installation and site-packages."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), *map(Path, site.getsitepackages())}
    usr = Path("/usr")
    return View(read=tuple(sorted(p for p in paths if p.exists() and usr not in (p, *p.parents))))


_sandbox_works: set[bool] = set()  # network modes bwrap has been seen to start with here


def _check_sandbox(network: bool) -> None:
    """Start an empty sandbox once per network mode; ToolUnavailable if bwrap is missing or
    refused (no user namespaces, a container's seccomp profile)."""
    if network in _sandbox_works:
        return
    if shutil.which(_BWRAP, path=_SAFE_PATH) is None:
        raise ToolUnavailable("the tool sandbox (bubblewrap, `bwrap`) is not installed; install the "
                              "Debian package bubblewrap, or set WEBINAR_ARCHIVE_TOOL_ISOLATION=none where "
                              "the worker is isolated otherwise")
    try:
        r = subprocess.run([*bwrap_args(View(), network), "true"], env=minimal_env(),
                           capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolUnavailable(f"the tool sandbox (bubblewrap) could not start: {e}") from e
    if r.returncode != 0:
        why = r.stderr.decode("utf-8", "replace").strip() or f"exit status {r.returncode}"
        raise ToolUnavailable(f"the tool sandbox (bubblewrap) is refused here: {why}; set "
                              "WEBINAR_ARCHIVE_TOOL_ISOLATION=none only where the worker is isolated otherwise")
    _sandbox_works.add(network)


def network_isolation_available() -> bool:
    """Whether children can run in the sandbox (no network, their own filesystem) here."""
    try:
        _check_sandbox(False)
    except ToolUnavailable:
        return False
    return True


def session_nice(niceness: int) -> bool:
    """Give this process's session the CPU priority `niceness` (0-19), as its processes have.

    Linux (with autogroup, the default of desktop and many server kernels) schedules each
    session as one group, and shares the CPU between groups by the group's own nice value
    (0 for a new session), not by the nice values of the processes in it. A tool started in
    a session of its own would get as much CPU as the whole web app however niced. Only a
    group this process leads is changed; without autogroup (or in a cgroup of its own, as
    under systemd or a container, where CPU weights do this job) nothing is, and it says so.
    Raw system calls only: it also runs between fork and exec.
    """
    if niceness <= 0 or os.getsid(0) != os.getpid():
        return False
    try:
        fd = os.open("/proc/self/autogroup", os.O_WRONLY)
    except OSError:
        return False
    try:
        os.write(fd, str(min(19, niceness)).encode())
        return True
    except OSError:  # EAGAIN: another group was changed in the last 100 ms (unprivileged)
        return False
    finally:
        os.close(fd)


def _child_setup(memory_mb: int | None) -> Callable[[], None]:
    """Runs in the child between fork and exec: cap its address space, make it die with
    the worker, so a worker killed with SIGKILL leaves no child writing behind it, and give
    its session (it starts one) the worker's CPU priority."""
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
        session_nice(os.nice(0))

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
    view: View = View(),
) -> Completed:
    """Run `args` within `limits` and wait for it.

    stdout is streamed line by line to `on_stdout_line` (progress), captured whole
    (`capture_stdout`, e.g. ffprobe's JSON), or folded into the log. Returns Completed
    whatever the exit status; raises ToolError only when the time limit was hit, and
    ToolUnavailable when the program or the sandbox is missing. Callers decide what a
    non-zero status means for their tool. `view`: the files and folders the child sees
    (with `cwd`, writable); `pass_fds`: descriptors the child keeps under the same
    numbers (a pipe ffmpeg writes an output to).
    """
    name = _program_name(args)
    env = env if env is not None else minimal_env(cwd)
    argv = list(args)
    if argv and shutil.which(argv[0], path=env.get("PATH", _SAFE_PATH)) is None:
        raise ToolUnavailable(f"{name} is not installed")
    if limits.isolation == Isolation.BWRAP:
        _check_sandbox(limits.network)
        argv = [*bwrap_args(view, limits.network, cwd), *argv]
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    out_chunks: list[bytes] = []
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env,
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
