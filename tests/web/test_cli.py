"""The real console command, `webinar-archive`, run as the operator runs it: a process
with its settings in the environment, and a `webinar-archive worker` process beside it."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from archive import queries
from archive.config import Settings
from archive.context import Archive
from archive.formatting import file_size
from archive.models import Asset, Job, Webinar

from ..cut_short import cut_short
from ..services import MinioServer, archive_env, free_port

CLI = Path(sys.executable).parent / "webinar-archive"  # the console script pip installed
RECORDING_NAME = "Vortrag – Müller.mp4"
DECK_NAMES = ("Präsentation – Ana.pdf", "Slides, part 2.pdf")


class Cli:
    """One isolated installation (data folder, catalog, bucket) driven through the command."""

    def __init__(self, minio: MinioServer, tmp: Path):
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBINAR_ARCHIVE_", "AWS_"))}
        self.env.update(archive_env(minio, tmp, WEBINAR_ARCHIVE_BUCKET=f"cli-{secrets.token_hex(6)}"))
        self.procs: list[subprocess.Popen] = []
        self.logs: list = []
        self._archive: Archive | None = None

    def run(self, *args, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(CLI), *map(str, args)], env=self.env, capture_output=True,
                              encoding="utf-8", timeout=timeout)

    def start(self, *args, log_name: str) -> subprocess.Popen:
        """A process in the background; its output goes to log_name.out and log_name.err."""
        out = open(self.tmp / f"{log_name}.out", "wb")
        err = open(self.tmp / f"{log_name}.err", "wb")
        self.logs += [out, err]
        proc = subprocess.Popen([str(CLI), *map(str, args)], env=self.env, stdout=out, stderr=err)
        self.procs.append(proc)
        return proc

    def output(self, log_name: str) -> tuple[str, str]:
        return tuple((self.tmp / f"{log_name}.{ext}").read_text(encoding="utf-8") for ext in ("out", "err"))

    def start_worker(self) -> subprocess.Popen:
        # Create the schema first, as scripts/run does: two processes migrating a new
        # SQLite catalog at the same moment can collide ("table alembic_version already
        # exists"), so the worker and the command under test must not both create it.
        r = self.run("migrate")
        assert r.returncode == 0, r.stderr
        return self.start("worker", log_name=f"worker-{len(self.procs)}")

    @property
    def archive(self) -> Archive:
        """The same installation seen from the test, to look inside the catalog and bucket."""
        if self._archive is None:
            self._archive = Archive.from_settings(Settings.from_env(self.env))
            self._archive.setup()
        return self._archive

    def stop(self, proc: subprocess.Popen) -> int:
        if proc.poll() is None:
            proc.terminate()  # on SIGTERM the worker ends its current job and exits
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def close(self) -> None:
        for proc in self.procs:
            self.stop(proc)
        for log in self.logs:
            log.close()
        if self._archive is not None:
            self._archive.close()


@pytest.fixture
def cli(minio, tmp_path):
    c = Cli(minio, tmp_path)
    yield c
    c.close()


@pytest.fixture(scope="module")
def clean_cli(minio, tmp_path_factory):
    """An installation with a worker running, where nothing is ever accepted."""
    c = Cli(minio, tmp_path_factory.mktemp("rejections"))
    try:
        c.start_worker()
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def named_inputs(inputs, tmp_path_factory) -> dict[str, Path]:
    """The generated clip and deck under the non-ASCII names an operator might use."""
    d = tmp_path_factory.mktemp("named")
    files = {RECORDING_NAME: d / RECORDING_NAME}
    shutil.copyfile(inputs["h264_aac.mp4"], files[RECORDING_NAME])
    for name in DECK_NAMES:
        files[name] = d / name
        shutil.copyfile(inputs["deck.pdf"], files[name])
    return files


def _one_json_object(stdout: str) -> dict:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


def test_help_lists_the_commands(cli):
    r = cli.run("--help")
    assert r.returncode == 0 and r.stderr == ""
    for command in ("serve", "worker", "import", "demo", "status", "jobs", "migrate", "check", "rebuild-catalog"):
        assert re.search(rf"^\s+{command}\s+\w", r.stdout, re.M), f"{command} missing from --help"
    r = cli.run("import", "--help")
    assert r.returncode == 0 and "--wait" in r.stdout and "--json" in r.stdout


def test_import_waits_for_the_worker_and_prints_json(cli, named_inputs):
    worker = cli.start_worker()
    r = cli.run("import", "--title", "Open data in practice", "--date", "2021-06-07",
                "--recording", named_inputs[RECORDING_NAME],
                "--slides", named_inputs[DECK_NAMES[0]], "--slides", named_inputs[DECK_NAMES[1]],
                "--wait", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    result = _one_json_object(r.stdout)
    webinar_id = result["id"]
    assert result["status"] == "ready", result
    assert result["url"] == f"http://archive.test/webinars/{webinar_id}"
    assert result["title"] == "Open data in practice"
    assert [(a["kind"], a["file"], a["status"]) for a in result["assets"]] == [
        ("recording", RECORDING_NAME, "ready"),
        ("slides", DECK_NAMES[0], "ready"),
        ("slides", DECK_NAMES[1], "ready"),
    ]
    assert "error" not in result

    with cli.archive.catalog.session() as s:
        w = queries.get(s, webinar_id)
    assert (w.title, w.held_on, w.visibility) == ("Open data in practice", dt.date(2021, 6, 7), "public")
    keys = set(cli.archive.store.list_keys(w.prefix))
    assert {a.original_key for a in w.assets} | {w.manifest_key, w.recording.outputs["web"]} <= keys

    r = cli.run("status", webinar_id)
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "ready"
    assert cli.stop(worker) == 0, "the worker stops cleanly on SIGTERM"


def test_import_from_a_description_file(cli, inputs, tmp_path):
    from ..archive.describe_inputs import realistic, write

    folder = tmp_path / "described"
    path = write(folder, realistic(folder, inputs))
    r = cli.run("import", "--describe", path, "--title", "Other", "--json")
    assert r.returncode == 2 and "--title cannot be combined with --describe" in r.stderr
    r = cli.run("import", "--json")
    assert r.returncode == 2 and "give --title (or --describe FILE)" in r.stderr
    r = cli.run("import", "--describe", path, "--visibility", "draft", "--json")
    assert r.returncode == 0, r.stderr
    result = _one_json_object(r.stdout)
    with cli.archive.catalog.session() as s:
        w = queries.get(s, result["id"])
    assert (w.title, w.visibility, w.series.title) == ("Open data in practice", "draft", "Open data")
    assert [p.title for p in w.presentations] == ["Why open data", "Open data in cities"]
    assert [sp.name for sp in w.presentations[1].speakers] == ["Grace Hopper", "Ada Lovelace"]


ZOOM_STAMP = "GMT20230607-140012_Recording"
ZOOM_TRANSCRIPT = ("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nAna Müller: Welcome to the clinic\n\n"
                   "2\n00:00:02.000 --> 00:00:04.000\nGrace Hopper: Thanks, Ana\n")


def _zoom_folder(root: Path, inputs: dict[str, Path], video: bool = True) -> Path:
    """A Zoom cloud-recording download as Zoom names it: two views of the recording (real
    MP4s), the audio (a real M4A), the transcript with speaker names, and the chat."""
    folder = root / "2023-06-07 16.00.12 Open data clinic 81234567890"
    folder.mkdir(parents=True)
    if video:
        shutil.copyfile(inputs["h264_aac.mp4"], folder / f"{ZOOM_STAMP}_shared_screen_with_speaker_view_1920x1080.mp4")
        shutil.copyfile(inputs["h264_aac.mp4"], folder / f"{ZOOM_STAMP}_gallery_view_1280x720.mp4")
    shutil.copyfile(inputs["audio.m4a"], folder / f"{ZOOM_STAMP}.m4a")
    (folder / f"{ZOOM_STAMP}.transcript.vtt").write_text(ZOOM_TRANSCRIPT, encoding="utf-8")
    (folder / f"{ZOOM_STAMP}newChat.txt").write_text("14:01:02 From Someone to Everyone: hello\n", encoding="utf-8")
    return folder


def test_import_of_a_zoom_download_folder_with_progress_lines(cli, inputs, tmp_path):
    folder = _zoom_folder(tmp_path / "zoom", inputs)
    r = cli.run("import", folder, "--json")
    assert r.returncode == 0, r.stderr
    result = _one_json_object(r.stdout)
    view = f"{ZOOM_STAMP}_shared_screen_with_speaker_view_1920x1080.mp4"
    assert result["title"] == "Open data clinic"
    assert [(a["kind"], a["file"]) for a in result["assets"]] == [
        ("recording", view), ("captions", f"{ZOOM_STAMP}.transcript.vtt")]
    with cli.archive.catalog.session() as s:
        w = queries.get(s, result["id"])
        langs = [a.info.get("language") for a in w.assets if a.kind == "captions"]
    assert (w.starts_at, w.held_on, langs) == (dt.datetime(2023, 6, 7, 14, 0, 12), dt.date(2023, 6, 7), ["en"])
    # Not a terminal: a line as each file starts and one as it ends, with its size and speed.
    size = (folder / view).stat().st_size
    lines = r.stderr.splitlines()
    assert f"uploading {view} ({file_size(size)})" in lines
    done = [line for line in lines if line.startswith(f"uploaded {view}: {file_size(size)} in ")]
    assert len(done) == 1 and re.search(r" s \([\d.,]+ [KMG]?B/s\)$", done[0]), r.stderr
    assert any(line.startswith(f"uploaded {ZOOM_STAMP}.transcript.vtt: ") for line in lines)
    # What was left out, and why: the chat, the other view, the audio made from the video.
    notes = [line for line in lines if line.startswith("webinar-archive import: left out ")]
    assert len(notes) == 3 and any("newChat.txt: the chat is not published" in n for n in notes), notes
    assert "\r" not in r.stderr and "Traceback" not in r.stderr


def test_a_folder_with_a_description_and_audio_only(cli, inputs, tmp_path):
    """--describe FILE says what the webinar is; the folder gives the M4A (no video), the
    transcript and the start time; flags the file would say twice are refused as before."""
    from ..archive.describe_inputs import realistic, write

    folder = _zoom_folder(tmp_path / "zoom", inputs, video=False)
    described = tmp_path / "described"
    path = write(described, realistic(described, inputs, recording=None, captions=None, date=None, time=None,
                                      timezone=None))
    r = cli.run("import", folder, "--describe", path, "--title", "Other")
    assert r.returncode == 2 and "--title cannot be combined with --describe" in r.stderr
    r = cli.run("import", folder, "--describe", path, "--visibility", "draft", "--json")
    assert r.returncode == 0, r.stderr
    result = _one_json_object(r.stdout)
    assert result["title"] == "Open data in practice"
    assert [(a["kind"], a["file"]) for a in result["assets"] if a["kind"] != "slides"] == [
        ("recording", f"{ZOOM_STAMP}.m4a"), ("captions", f"{ZOOM_STAMP}.transcript.vtt")]
    with cli.archive.catalog.session() as s:
        w = queries.get(s, result["id"])
        assert (w.visibility, w.starts_at, len(w.presentations)) == ("draft", dt.datetime(2023, 6, 7, 14, 0, 12), 2)
    r = cli.run("import", tmp_path / "no-such-folder", "--json")
    assert r.returncode == 2 and "not a folder" in r.stderr


def test_upload_progress_on_a_terminal_is_a_bar_redrawn_in_place(cli, inputs, tmp_path):
    import pty

    folder = _zoom_folder(tmp_path / "zoom", inputs)
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run([str(CLI), "import", str(folder)], env=cli.env, stdout=subprocess.PIPE,
                              stderr=secondary, timeout=120)
        os.close(secondary)
        secondary = -1
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if secondary >= 0:
            os.close(secondary)
        os.close(primary)
    err = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, err
    view = f"{ZOOM_STAMP}_shared_screen_with_speaker_view_1920x1080.mp4"
    size = re.escape(file_size((folder / view).stat().st_size))
    assert re.search(rf"\r{re.escape(view[:32])} +\[#{{24}}\] 100% {size} / {size} +[\d.,]+ [KMG]?B/s", err), err
    assert "uploading " not in err


REJECTIONS = [
    # (what is wrong, --recording, --slides, what stderr must say besides the file name)
    ("text file named .mp4", "not_media.mp4", "deck.pdf", "not a readable recording"),
    ("zero-byte file", "empty.mp4", "deck.pdf", "empty"),
    ("truncated mp4", "truncated.mp4", "deck.pdf", "truncated"),
    ("deck that is not a PDF", "h264_aac.mp4", "not_a_pdf.pdf", "not a PDF"),
    ("file that does not exist", "h264_aac.mp4", "no-such-deck.pdf", "no such file"),
]


def _assert_nothing_left(cli: Cli) -> None:
    with cli.archive.catalog.session() as s:
        assert s.scalars(select(Webinar)).all() == []
        assert s.scalars(select(Asset)).all() == []
        assert s.scalars(select(Job)).all() == []
    assert list(cli.archive.store.list_keys("")) == []


@pytest.mark.parametrize("case, recording, slides, message", REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_bad_input_is_rejected_without_a_trace(clean_cli, inputs, tmp_path, case, recording, slides, message):
    def path(name):
        return inputs.get(name, tmp_path / name)

    r = clean_cli.run("import", "--title", "Bad input", "--date", "2021-06-07", "--recording", path(recording),
                      "--slides", path(slides), "--wait", "--json")
    assert r.returncode == 2, (r.stdout, r.stderr)
    bad = recording if slides == "deck.pdf" else slides
    assert message in r.stderr and bad in r.stderr  # says which file, and why
    assert r.stderr.startswith("webinar-archive import: ") and "Traceback" not in r.stderr
    result = _one_json_object(r.stdout)
    assert result["status"] == "rejected" and message in result["error"]
    _assert_nothing_left(clean_cli)


def test_bad_input_without_json_writes_only_to_stderr(clean_cli, inputs):
    r = clean_cli.run("import", "--title", "Bad input", "--recording", inputs["not_media.mp4"])
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("webinar-archive import: recording not_media.mp4: not a readable recording")
    assert len(r.stderr.strip().splitlines()) == 1  # one clear line, no traceback
    _assert_nothing_left(clean_cli)


def _wait_for_jobs(archive: Archive, timeout: float = 60) -> Webinar:
    """The import commits the webinar and its jobs after uploading the originals."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with archive.catalog.session() as s:
            if s.scalars(select(Job)).first() is not None:
                return queries.get(s, s.scalars(select(Webinar.id)).one())
        time.sleep(0.1)
    raise TimeoutError("the import wrote no jobs")


def test_failed_processing_is_reported_with_exit_code_1(cli, inputs):
    r = cli.run("migrate")
    assert r.returncode == 0, r.stderr
    importing = cli.start("import", "--title", "Tampered", "--recording", inputs["h264_aac.mp4"],
                          "--wait", "--json", log_name="import")
    w = _wait_for_jobs(cli.archive)
    # Before any worker runs, someone overwrites the stored original.
    cli.archive.store.put_bytes(w.recording.original_key, b"not the recording any more", "video/mp4")
    cli.start_worker()
    assert importing.wait(timeout=120) == 1
    stdout, stderr = cli.output("import")
    assert "Traceback" not in stderr
    result = _one_json_object(stdout)
    assert result["id"] == w.id
    assert result["status"] == "failed"
    assert "does not match its checksum" in result["error"]
    assert result["assets"][0]["status"] == "failed" and "checksum" in result["assets"][0]["error"]
    with cli.archive.catalog.session() as s:
        job = s.scalars(select(Job)).one()
        assert (job.state, job.attempts) == ("failed", 1)  # known-bad: not retried
    # staff-side: the job's error and the command that retries it
    assert result["jobs"] == [{"id": job.id, "kind": job.kind, "asset": w.recording.id, "state": "failed",
                               "progress": job.progress, "attempts": 1, "max_attempts": job.max_attempts,
                               "error": job.error, "retry": f"webinar-archive jobs --retry {job.id}"}]
    r = cli.run("jobs", "--state", "failed")
    assert r.returncode == 0 and f"(retry: webinar-archive jobs --retry {job.id})" in r.stdout
    r = cli.run("status", w.id)
    assert r.returncode == 1 and json.loads(r.stdout)["status"] == "failed"


def test_the_cli_reads_the_catalog_only_through_queries():
    """archive/queries.py holds the reads the CLI and the web app share."""
    import web.cli

    source = Path(web.cli.__file__).read_text()
    for orm in ("sqlalchemy", "select(", ".query(", ".scalars(", ".execute("):
        assert orm not in source


@pytest.mark.parametrize("debug, server", [((), "gunicorn"), (("--debug",), "Werkzeug")])
def test_serve_runs_gunicorn_and_the_development_server_only_with_debug(cli, debug, server):
    import urllib.request

    from ..services import free_port, wait_http

    port = free_port()
    proc = cli.start("serve", "--port", port, "--workers", 1, *debug, log_name="serve")
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/api/health", timeout=60)
    with urllib.request.urlopen(f"{url}/", timeout=10) as r:
        assert r.headers["Server"].startswith(server)
        assert "Content-Security-Policy" in r.headers
    assert cli.stop(proc) == 0  # SIGTERM: a clean stop


def test_a_development_secret_is_refused_away_from_a_local_minio(cli):
    cli.env.update(AWS_ENDPOINT_URL_S3="http://minio.example:9000", AWS_SECRET_ACCESS_KEY="webinar-archive-secret")
    for command in ("serve", "migrate"):
        r = cli.run(command, timeout=30)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert "AWS_SECRET_ACCESS_KEY is a development secret" in r.stderr


def test_catalog_commands_need_no_bucket_and_create_nothing(cli, inputs):
    """status, jobs and user read or change catalog rows only: they neither migrate the
    catalog nor contact the bucket, so they work while S3 is away, and on a data folder
    without a catalog they say so instead of making one."""
    catalog = Path(cli.env["WEBINAR_ARCHIVE_DATA"]) / "catalog.sqlite3"
    for args in (("user", "list"), ("jobs",), ("status", "nothing")):
        r = cli.run(*args)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert "the catalog has no tables yet: run `webinar-archive migrate`" in r.stderr
    assert not catalog.exists()
    r = cli.run("import", "--title", "While S3 is away", "--recording", inputs["h264_aac.mp4"], "--json")
    assert r.returncode == 0, r.stderr
    webinar_id = _one_json_object(r.stdout)["id"]
    cli.env["AWS_ENDPOINT_URL_S3"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    r = cli.run("status", webinar_id)
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == webinar_id, r.stderr
    r = cli.run("jobs")
    assert r.returncode == 0 and "process_recording" in r.stdout, r.stderr
    r = cli.run("user", "list")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = cli.run("import", "--title", "Needs the bucket", "--recording", inputs["h264_aac.mp4"])
    assert r.returncode == 1 and "Traceback" not in r.stderr  # the one that needs S3 says so


def test_a_recording_cut_short_is_imported_with_a_warning_on_stderr(cli, tmp_path):
    r = cli.run("import", "--title", "Cut short", "--recording", cut_short(tmp_path / "cut.mp4"), "--json")
    assert r.returncode == 0, r.stderr
    result = _one_json_object(r.stdout)
    assert re.search(r"^webinar-archive import: warning: cut\.mp4: the data stops at 0:0[23]\.\d of 0:06\.0 "
                     "declared", r.stderr, re.M), r.stderr
    with cli.archive.catalog.session() as s:
        w = queries.get(s, result["id"])
    assert 2.0 < w.recording.info["duration"] < 3.5


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_the_worker_runs_at_the_configured_lower_cpu_priority(cli):
    """WEBINAR_ARCHIVE_WORKER_NICE: the worker (and so every tool it starts) yields the CPU
    to the web app on a shared machine."""
    cli.env["WEBINAR_ARCHIVE_WORKER_NICE"] = "7"
    worker = cli.start_worker()
    expected = min(19, os.nice(0) + 7)
    deadline = time.monotonic() + 60
    while _niceness(worker.pid) != expected and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _niceness(worker.pid) == expected, cli.output("worker-0")
