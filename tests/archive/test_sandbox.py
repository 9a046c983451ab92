"""The runner's sandbox (bubblewrap): a child sees its own files and folders, read-only
system folders and its own /proc; not the data folder, not another job's scratch, not
the worker's environment. Tried on real processes, as the worker runs its tools."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive import libreoffice, media, runner, slides
from archive.config import ConfigError, Settings

PY = sys.executable
ROOT = Path(runner.__file__).resolve().parent.parent

# The child tries every way to the secrets, and tells what it could read.
_SNOOP = """
for target in "$SERVICES_ENV" "$OTHER_SCRATCH" "/proc/$WORKER/environ" "/proc/$PPID/environ" /proc/1/environ; do
  if content=$(tr '\\0' '\\n' < "$target" 2>/dev/null); then echo "read $target: $content"; else echo "refused $target"; fi
done
echo mine > own-output.txt
"""


def _worker(isolation: runner.Isolation, data: Path, job: Path, other: Path) -> dict:
    """A worker process with the S3 secret in its environment runs the child as tools
    are run (minimal environment, no network, its job folder as cwd)."""
    script = f"""
import json, os, sys
from pathlib import Path
from archive import runner
env = runner.minimal_env(home={str(job)!r}, extra={{"SERVICES_ENV": {str(data / "services.env")!r},
      "OTHER_SCRATCH": {str(other / "page-1.txt")!r}, "WORKER": str(os.getpid())}})
limits = runner.Limits(30, network=False, isolation=runner.Isolation({isolation.value!r}))
done = runner.run(["sh", "-c", {_SNOOP!r}], limits, cwd={str(job)!r}, env=env, capture_stdout=True)
print(json.dumps({{"rc": done.returncode, "out": done.stdout.decode(), "log": done.log}}))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_SECRET_ACCESS_KEY": "worker-environment-secret"}
    out = subprocess.run([PY, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def data_folder(tmp_path) -> tuple[Path, Path, Path]:
    """A data folder as scripts/run leaves it, with two jobs' scratch folders."""
    data = tmp_path / "data"
    job, other = data / "work" / "job-1-1", data / "work" / "job-2-1"
    job.mkdir(parents=True)
    other.mkdir(parents=True)
    (data / "services.env").write_text("AWS_SECRET_ACCESS_KEY=data-folder-secret\n")
    (other / "page-1.txt").write_text("another job's scratch secret\n")
    return data, job, other


SECRETS = ("data-folder-secret", "another job's scratch secret", "worker-environment-secret")


def test_a_child_sees_neither_the_data_folder_nor_other_jobs_nor_the_worker(data_folder):
    data, job, other = data_folder
    # The control: without the sandbox the same child reads all three, so the test can see it.
    open_child = _worker(runner.Isolation.NONE, data, job, other)
    for secret in SECRETS:
        assert secret in open_child["out"], open_child
    (job / "own-output.txt").unlink()

    sandboxed = _worker(runner.Isolation.BWRAP, data, job, other)
    assert sandboxed["rc"] == 0, sandboxed
    for secret in SECRETS:
        assert secret not in sandboxed["out"], sandboxed
    assert f"refused {data / 'services.env'}" in sandboxed["out"]
    assert f"refused {other / 'page-1.txt'}" in sandboxed["out"]
    # What it can read of /proc is its own namespace: bwrap's init, with the minimal environment.
    assert (job / "own-output.txt").read_text() == "mine\n"  # its own folder stays writable


def test_inputs_are_read_only_and_only_the_view_is_there(tmp_path):
    src_dir, out = tmp_path / "in", tmp_path / "out"
    src_dir.mkdir()
    out.mkdir()
    src = src_dir / "original.mp4"
    src.write_text("the upload\n")
    (src_dir / "beside.txt").write_text("not part of the view")
    script = (f"cat {src}; echo changed > {src} || echo refused-write; cat {src_dir / 'beside.txt'} || echo no-beside;"
              f" echo done > {out / 'result.txt'}; ls / | tr '\\n' ' '")
    done = runner.run(["sh", "-c", script], runner.Limits(10, network=False), capture_stdout=True,
                      view=runner.View(read=(src,), write=(out,)))
    text = done.stdout.decode()
    assert text.startswith("the upload\nrefused-write\nno-beside\n"), text
    assert src.read_text() == "the upload\n" and (out / "result.txt").read_text() == "done\n"
    assert set(text.splitlines()[-1].split()) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr",
                                                  "etc", "var", "proc", "dev", "tmp"}
    assert "home" not in text and "root" not in text.splitlines()[-1].split()


def test_ffmpeg_sees_its_inputs_read_only_and_its_outputs_folders():
    args = ["ffmpeg", "-hide_banner", "-i", "file:/w/job-1-1/original", "-f", "lavfi", "-i", "testsrc2=d=1",
            "-c", "copy", "file:/w/job-1-1/out/web.mp4", "-hls_segment_filename", "/w/job-1-1/hls/media.mp4",
            "/w/job-1-1/hls/index.m3u8", "-progress", "pipe:1", "-f", "null", "-"]
    view = media.tool_view(args)
    assert view.read == (Path("/w/job-1-1/original"),)
    assert view.write == ()  # the output folders do not exist here: ffmpeg will say so itself
    probe = media.tool_view(["ffprobe", "-v", "error", "-of", "json", "file:/w/job-1-1/original"])
    assert probe == runner.View(read=(Path("/w/job-1-1/original"),))


def test_ffmpeg_output_folders_are_writable(tmp_path):
    (tmp_path / "hls").mkdir()
    args = ["ffmpeg", "-i", f"file:{tmp_path}/original", f"file:{tmp_path}/web.mp4",
            "-hls_segment_filename", f"{tmp_path}/hls/media.mp4", f"{tmp_path}/hls/index.m3u8"]
    view = media.tool_view(args, reads=(tmp_path / "speech.txt",))
    assert view == runner.View(read=(tmp_path / "speech.txt", tmp_path / "original"),
                               write=(tmp_path, tmp_path / "hls", tmp_path / "hls"))


def test_the_bwrap_command_line():
    view = runner.View(read=(Path("/w/job/in/deck.pptx"),), write=(Path("/w/job"),))
    args = runner.bwrap_args(view, network=False, cwd=Path("/w/job"))
    # No --new-session: run() gives each child a session of its own (see the test below).
    assert args[:3] == ["bwrap", "--unshare-all", "--die-with-parent"] and "--new-session" not in args
    assert "--share-net" not in args and "--share-net" in runner.bwrap_args(view, network=True)
    assert args[args.index("--proc") + 1] == "/proc" and args[args.index("--dev") + 1] == "/dev"
    joined = " ".join(args)
    assert "--ro-bind /usr /usr" in joined
    # The scratch folder writable once, the deck read-only on top of it, nothing else of /w.
    assert joined.count("--bind-try /w/job /w/job") == 1
    assert joined.index("--bind-try /w/job /w/job") < \
        joined.index("--ro-bind-try /w/job/in/deck.pptx /w/job/in/deck.pptx")
    assert args[-3:] == ["--chdir", "/w/job", "--"]
    assert "/etc/passwd" not in joined and "/home" not in joined


# In a terminal (`script` gives the worker one): what the worker sees, then what each tool sees.
_SESSION = """
import subprocess
from archive import runner, worker
check = "awk '{print $3}' /proc/self/autogroup; (: </dev/tty) 2>/dev/null && echo tty || echo no-tty"
print("worker", subprocess.run(["sh", "-c", check], capture_output=True, text=True).stdout.split())
worker.lower_priority(7)
for isolation in runner.Isolation:
    done = runner.run(["sh", "-c", check], runner.Limits(30, isolation=isolation), capture_stdout=True)
    print(isolation.value, done.stdout.decode().split())
"""


def test_a_tool_runs_at_the_workers_cpu_priority_and_without_a_terminal(tmp_path):
    """Each tool runs in a session of its own: no terminal to push keystrokes into, and,
    where Linux schedules sessions as groups (autogroup), its group gets the worker's nice
    value; else a niced worker's ffmpeg took as much CPU as the whole web app."""
    if not Path("/proc/self/autogroup").exists():
        pytest.skip("this kernel does not group sessions (no autogroup): nothing to give")
    script = tmp_path / "session.py"
    script.write_text(_SESSION)
    out = subprocess.run(["script", "-qec", f"{PY} {script}", "/dev/null"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stdout + out.stderr
    seen = dict(line.split(" ", 1) for line in out.stdout.replace("\r", "").splitlines() if line)
    assert seen["worker"].endswith("'tty']"), seen  # the check can tell a terminal
    for isolation in runner.Isolation:
        assert seen[isolation.value] == "['7', 'no-tty']", seen


def test_a_refused_sandbox_is_a_clear_tool_unavailable(tmp_path):
    """A worker where namespaces are refused (as under Docker's seccomp profile: here a
    user namespace that may not make more) gets "tool unavailable: ..." and no crash;
    with isolation `none` the same worker runs the tool."""
    script = """
from archive import libreoffice, media, runner, slides
try:
    runner.run(["true"], runner.Limits(10, network=False))
except runner.ToolUnavailable as e:
    print("unavailable:", e)
limits = media.ToolLimits(60, 60, None, isolation=runner.Isolation.NONE)
print("none:", runner.run(["sh", "-c", "echo ran"], limits.probe(), capture_stdout=True).stdout.decode().strip())
try:
    media.run_ffmpeg(["ffmpeg", "-version"], runner.Limits(10, network=False))
except media.MediaError as e:
    print("media:", e.permanent, e)
import sys
from pathlib import Path
from archive import decks, libreoffice, slides
work = Path(sys.argv[1])
(work / "deck.pdf").write_bytes(b"%PDF-1.4 ")
for name, call in (("office", lambda: libreoffice.convert_to_pdf(work / "deck.pdf", work / "out.pdf",
                                                                 decks.FORMATS["pptx"], runner.Limits(10, network=False))),
                   ("pdf", lambda: slides.inspect_pdf(work / "deck.pdf", runner.Limits(10, network=False), 10))):
    try:
        call()
    except Exception as e:
        print(f"{name}:", type(e).__name__, isinstance(e, slides.SlidesRejected), e)
"""
    confined = ["bwrap", "--unshare-user", "--disable-userns", "--dev-bind", "/", "/", "--"]
    out = subprocess.run([*confined, PY, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("unavailable: tool unavailable: the tool sandbox (bubblewrap) is refused here: bwrap: ")
    assert "WEBINAR_ARCHIVE_TOOL_ISOLATION=none" in lines[0]
    assert lines[1] == "none: ran"
    assert lines[2].startswith("media: False tool unavailable: ")  # retried, not the file's fault
    # LibreOffice and the PDF child say the same, and neither blames the deck (never retried).
    assert lines[3].startswith("office: OfficeUnavailable False tool unavailable: the tool sandbox (bubblewrap) is ")
    assert lines[4].startswith("pdf: ToolUnavailable False tool unavailable: the tool sandbox (bubblewrap) is ")


def test_a_missing_bwrap_is_a_clear_tool_unavailable(monkeypatch):
    monkeypatch.setattr(runner, "_BWRAP", "no-such-bwrap")
    monkeypatch.setattr(runner, "_sandbox_works", set())
    with pytest.raises(runner.ToolUnavailable, match=r"^tool unavailable: the tool sandbox \(bubblewrap, `bwrap`\) "
                                                     "is not installed"):
        runner.run(["true"], runner.Limits(10, network=False))


def test_the_isolation_is_a_setting():
    assert Settings.from_env({}).tool_isolation == runner.Isolation.BWRAP
    s = Settings.from_env({"WEBINAR_ARCHIVE_TOOL_ISOLATION": "none"})
    assert s.tool_isolation == runner.Isolation.NONE
    for limits in (media.ToolLimits.from_settings(s).ffmpeg(10), media.ToolLimits.from_settings(s).probe(),
                   libreoffice.office_limits(s), slides.render_limits(s)):
        assert limits.isolation == runner.Isolation.NONE
    with pytest.raises(ConfigError, match="WEBINAR_ARCHIVE_TOOL_ISOLATION must be 'bwrap' or 'none', not 'off'"):
        Settings.from_env({"WEBINAR_ARCHIVE_TOOL_ISOLATION": "off"})
