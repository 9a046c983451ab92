"""archive/runner.py: every child program within its limits, on real processes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive import runner

from ..services import Listener

PY = sys.executable
PY_VIEW = runner.python_view()  # what a Python child needs to start in the sandbox


def _alive(marker: str) -> list[int]:
    """Pids of live (not zombie) processes whose command line contains `marker`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


def _wait_gone(marker: str, timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := _alive(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.parametrize("network", [True, False])
def test_the_time_limit_kills_the_whole_group(network):
    marker = "301.%d" % (os.getpid() % 1000 + (0 if network else 1))
    started = time.monotonic()
    with pytest.raises(runner.ToolError, match="did not finish within the 0.5 s limit") as e:
        runner.run(["sh", "-c", f"sleep {marker} & sleep {marker} & wait"], runner.Limits(0.5, network=network))
    assert e.value.timed_out
    assert time.monotonic() - started < 5
    assert _wait_gone(marker, 5) == []


def test_the_child_gets_no_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("WEBINAR_ARCHIVE_DATABASE_URL", "postgresql://u:p@db/x")
    monkeypatch.setenv("WEBINAR_ARCHIVE_SECRET_KEY", "flask")
    done = runner.run(["env"], runner.Limits(10), cwd=tmp_path, capture_stdout=True)
    env = dict(line.split("=", 1) for line in done.stdout.decode().splitlines())
    assert set(env) == {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "PWD"}  # PWD: set by bwrap
    assert env["HOME"] == env["TMPDIR"] == env["PWD"] == str(tmp_path)
    assert "s3cret" not in done.stdout.decode() and "postgresql" not in done.stdout.decode()


def test_the_memory_limit_holds():
    script = "x = bytearray(400 * 1024 * 1024); print('allocated')"
    done = runner.run([PY, "-c", script], runner.Limits(30, memory_mb=200), view=PY_VIEW)
    assert done.returncode != 0 and "MemoryError" in done.log
    assert runner.run([PY, "-c", script], runner.Limits(30, memory_mb=1024), view=PY_VIEW).returncode == 0


def test_a_missing_program_is_unavailable():
    with pytest.raises(runner.ToolUnavailable, match="no-such-tool is not installed"):
        runner.run(["no-such-tool"], runner.Limits(5))


def _sleeping(marker: str) -> list[int]:
    """The `sleep <marker>` processes alone (the worker's own command line names the marker too)."""
    found = []
    for pid in _alive(marker):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == f"sleep\0{marker}\0".encode():
                found.append(pid)
        except OSError:  # gone meanwhile
            continue
    return found


@pytest.mark.parametrize("network", [True, False])
def test_children_die_with_a_killed_worker(tmp_path, network):
    """SIGKILL leaves the worker no chance to clean up: PR_SET_PDEATHSIG takes its child
    (bwrap), and the sandbox's PID namespace takes everything the child forked too."""
    marker = "302.%d" % (os.getpid() % 1000 + (0 if network else 1))
    command = ["sh", "-c", f"sleep {marker} & sleep {marker} & wait"]
    script = ("import sys; from archive import runner; "
              f"runner.run({command!r}, runner.Limits(60, network={network}))")
    worker = subprocess.Popen([PY, "-c", script], cwd=Path(runner.__file__).parent.parent)
    try:
        deadline = time.monotonic() + 30
        while len(_sleeping(marker)) < 2:  # both grandchildren started: the sandbox is up
            assert time.monotonic() < deadline, "the child did not start"
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert _wait_gone(marker) == []
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_without_network_a_child_cannot_reach_a_local_listener():
    assert runner.network_isolation_available()
    listener = Listener()
    try:
        script = ("import socket, sys\n"
                  "try:\n"
                  f"    socket.create_connection(('127.0.0.1', {listener.port}), timeout=3).close()\n"
                  "    print('connected')\n"
                  "except OSError as e:\n"
                  "    print('refused', e)\n")
        isolated = runner.run([PY, "-c", script], runner.Limits(30, network=False), capture_stdout=True,
                              view=PY_VIEW)
        assert isolated.stdout.startswith(b"refused")
        assert listener.hits_so_far() == []
        # the control: the same child with the network connects
        assert runner.run([PY, "-c", script], runner.Limits(30), capture_stdout=True,
                          view=PY_VIEW).stdout == b"connected\n"
        assert listener.hits_so_far()
    finally:
        listener.close()
