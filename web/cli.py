"""`webinar-archive`: the operator's command. `webinar-archive --help` lists what it can do."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from gunicorn.app.base import BaseApplication

from archive import accounts, demo, describe, folder, jobs, pipeline, queries, staff_queries
from archive.config import ConfigError, Settings
from archive.context import Archive
from archive.formatting import file_size
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.models import Webinar
from archive.states import AssetStatus, JobState, Visibility
from archive.storage import StorageError
from archive.worker import Worker, lower_priority

EXIT_FAILED = 1  # processing failed
EXIT_REJECTED = 2  # bad input or usage
EXIT_TIMEOUT = 3


# Every archive a command opens, closed by main() when the command ends, so that no
# catalog connection outlives it (a test calling main() many times, a PostgreSQL catalog).
_opened: list[Archive] = []


def _open(settings: Settings) -> Archive:
    archive = Archive.from_settings(settings)
    _opened.append(archive)
    return archive


def _archive(args) -> Archive:
    """For the commands that write to the bucket: the schema and the bucket made if missing."""
    settings = Settings.from_env()
    settings.refuse_development_secrets()
    archive = _open(settings)
    archive.setup()
    return archive


def _catalog_archive() -> Archive:
    """For the commands that only read or change catalog rows (status, jobs, user): the
    catalog as it is, neither migrated nor created, and the bucket never contacted, so
    they work while S3 is away and change nothing an operator did not ask for."""
    archive = _open(Settings.from_env())
    if not archive.catalog.has_schema():
        raise ConfigError("the catalog has no tables yet: run `webinar-archive migrate` "
                          "(scripts/run does) first")
    return archive


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from e


def _captions(text: str) -> tuple[str, Path]:
    lang, sep, path = text.partition(":")
    if not sep or not lang or not path:
        raise argparse.ArgumentTypeError(f"expected LANG:FILE, like en:talk.vtt, not {text!r}")
    return lang, Path(path)


def cmd_serve(args) -> int:
    from . import create_app

    Settings.from_env().refuse_development_secrets(serve_host=args.host)  # before any setup
    archive = _archive(args)  # the schema and the bucket, once, before any worker starts
    url = f"http://{args.host}:{args.port}/"
    if args.debug:
        from werkzeug.serving import run_simple

        print(f"webinar-archive: development server (--debug) on {url}", flush=True)
        signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(0))
        run_simple(args.host, args.port, create_app(archive), threaded=True, use_reloader=False,
                   use_debugger=True)
        return 0
    settings = archive.settings
    archive.close()  # each gunicorn worker opens its own connections after the fork
    print(f"webinar-archive: serving on {url} (gunicorn, {args.workers} workers x "
          f"{args.threads} threads)", flush=True)
    _Gunicorn(lambda: create_app(Archive.from_settings(settings)), {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "timeout": 60,
        "graceful_timeout": 20,
    }).run()
    return 0


class _Gunicorn(BaseApplication):
    """gunicorn run from our command, with our options (it never reads sys.argv)."""

    def __init__(self, factory, options: dict):
        self.factory, self.options = factory, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.factory()  # in each worker, after the fork


def cmd_worker(args) -> int:
    archive = _archive(args)
    lower_priority(archive.settings.worker_nice)
    worker = Worker(archive)

    def stop(_sig, _frame):
        worker.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.until_idle:
        worker.run_until_idle()
    else:
        worker.run_forever()
    return 0


WAIT_NOTE_SECONDS = 15  # `--wait` says what it waits for once nothing has moved this long


def waiting_note(waiting: staff_queries.Waiting) -> str:
    """What a webinar's queued work waits behind, in a sentence for the operator."""
    if not waiting.running:
        return "still waiting for a worker; is `webinar-archive worker` (or scripts/run) running?"
    busy = "; ".join(f"{staff_queries.label(j.kind)} of {j.filename} (“{j.webinar.title}”, {j.progress}%)"
                     for j in waiting.running)
    ahead = (f"{waiting.ahead} job(s) go before this webinar's" if waiting.ahead
             else "this webinar's jobs are next")
    return f"waiting for the worker, busy with {busy}; {ahead}"


def _queue(waiting: staff_queries.Waiting) -> dict:
    """The same for `status --json`."""
    return {"place": waiting.place, "ahead": waiting.ahead,
            "worker_on": [{"job": j.id, "kind": j.kind, "label": staff_queries.label(j.kind), "file": j.filename,
                           "webinar": j.webinar_id, "progress": j.progress} for j in waiting.running]}


def _wait(archive: Archive, webinar_id: str, timeout: float) -> Webinar:
    deadline = time.monotonic() + timeout
    hinted = False
    started = time.monotonic()
    while True:
        with archive.catalog.session() as s:
            w = queries.get(s, webinar_id)
            unclaimed, active = queries.pending_jobs(s, webinar_id)
            # Ended: failed, or ready with every later rendition done too.
            if w.status == AssetStatus.FAILED or (w.status == AssetStatus.READY and not active):
                return w
            if not hinted and unclaimed and time.monotonic() - started >= WAIT_NOTE_SECONDS:
                print(f"webinar-archive: {waiting_note(staff_queries.waiting(s, webinar_id))}", file=sys.stderr)
                hinted = True
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.5)


_DESCRIBED_BY_FILE = ("title", "date", "recording", "slides", "captions", "description")


def _import_request(args) -> tuple[ImportRequest, list[str]]:
    """What to import, and notes for the operator (files of a folder left out, and why)."""
    # With a description, the file says what the webinar is; these flags would say it twice.
    conflicting = [f"--{name}" for name in _DESCRIBED_BY_FILE if getattr(args, name)]
    if args.folder is not None:
        return folder.folder_request(
            args.folder, describe_file=args.describe, conflicting=conflicting, title=args.title,
            held_on=args.date, description=args.description or "", visibility=args.visibility,
            recording=args.recording, slides=args.slides or [], captions=args.captions or [])
    if args.describe is not None:
        return describe.load_with(args.describe, conflicting, args.visibility), []
    if not args.title:
        raise ImportRejected("give --title (or --describe FILE)")
    return ImportRequest(
        title=args.title, held_on=args.date, recording=args.recording, slides=args.slides or [],
        captions=args.captions or [], description=args.description or "",
        visibility=args.visibility or Visibility.PUBLIC,
    ), []


class _UploadProgress:
    """Each file's upload on stderr, fed by boto3's transfer Callback (bytes sent, called
    from its threads as parts go): a bar redrawn in place on a terminal (bytes sent of the
    total, speed), a line when each file starts and ends otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def __call__(self, path: Path):
        return _FileProgress(self, path.name, path.stat().st_size)


class _FileProgress:
    REDRAW = 0.1  # seconds between redraws of a bar

    def __init__(self, out: _UploadProgress, name: str, total: int):
        self.out, self.name, self.total = out, name, total
        self.sent, self.drawn, self.finished = 0, 0.0, False
        self.started = time.monotonic()
        self.lock = threading.Lock()
        if not out.tty:
            self._line(f"uploading {name} ({file_size(total)})")

    def _line(self, text: str, end: str = "\n") -> None:
        self.out.stream.write(text + end)
        self.out.stream.flush()

    def __call__(self, sent: int) -> None:
        with self.lock:
            self.sent += sent
            now = time.monotonic()
            speed = self.sent / max(now - self.started, 1e-6)
            done = self.sent >= self.total
            if self.out.tty and (done or now - self.drawn >= self.REDRAW):
                self.drawn = now
                share = self.sent / self.total if self.total else 1.0
                bar = "#" * int(share * 24)
                self._line(f"\r{self.name[:32]:<32} [{bar:<24}] {share:4.0%} {file_size(self.sent)} / "
                           f"{file_size(self.total)}  {file_size(speed)}/s\x1b[K", end="\n" if done else "")
            if done and not self.finished:
                self.finished = True
                if not self.out.tty:
                    self._line(f"uploaded {self.name}: {file_size(self.total)} in {now - self.started:.1f} s "
                               f"({file_size(speed)}/s)")


def cmd_import(args) -> int:
    archive = _archive(args)
    try:
        req, notes = _import_request(args)
        for note in notes:
            print(f"webinar-archive import: left out {note}", file=sys.stderr)
        w = import_webinar(archive, req, _UploadProgress())
    except ImportRejected as e:
        if args.json:
            print(json.dumps({"status": "rejected", "error": str(e)}))
        print(f"webinar-archive import: {e}", file=sys.stderr)
        return EXIT_REJECTED
    code = 0
    if args.wait:
        try:
            w = _wait(archive, w.id, args.timeout)
        except TimeoutError:
            print(f"webinar-archive import: still processing after {args.timeout:.0f} s", file=sys.stderr)
            code = EXIT_TIMEOUT
        else:
            code = EXIT_FAILED if w.status == AssetStatus.FAILED else 0
    # Staff-side: the real errors, ffmpeg's message and the retry command.
    with archive.catalog.session() as s:
        w = queries.get(s, w.id)
        result = queries.staff_status(s, w, archive.settings.public_url)
        # What staff see on the webinar's page, e.g. a recording whose data stops early.
        warnings = [f"{a.original_filename}: {n.text}" for a in w.assets for n in staff_queries.warnings(a)]
    for warning in warnings:
        print(f"webinar-archive import: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{result['status']}: {result['title']} {result['url']}")
        if result.get("error"):
            print(f"error: {result['error']}", file=sys.stderr)
        for job in result["jobs"]:
            if "retry" in job:
                print(f"retry: {job['retry']}", file=sys.stderr)
    return code


def cmd_status(args) -> int:
    archive = _catalog_archive()
    with archive.catalog.session() as s:
        w = queries.get(s, args.webinar_id)
        result = w and queries.staff_status(s, w, archive.settings.public_url)
        waiting = w and staff_queries.waiting(s, w.id)
        if waiting and waiting.place:  # work of this webinar waits for a worker: behind what
            result["queue"] = _queue(waiting)
    if w is None:
        print(f"webinar-archive: no webinar {args.webinar_id}", file=sys.stderr)
        return EXIT_REJECTED
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return EXIT_FAILED if w.status == AssetStatus.FAILED else 0


def cmd_jobs(args) -> int:
    archive = _catalog_archive()
    if args.retry is not None:
        try:
            pipeline.retry(archive.catalog, args.retry)  # re-queues its failed asset too
        except (LookupError, jobs.JobStateError) as e:
            print(f"webinar-archive jobs: {e.args[0]}", file=sys.stderr)
            return EXIT_REJECTED
        print(f"job {args.retry} queued again")
        return 0
    with archive.catalog.session() as s:
        for j in queries.recent_jobs(s, args.state, args.limit):
            err = f"  {j.error}" if j.error else ""
            if j.state == JobState.FAILED:
                err += f"  (retry: {queries.retry_command(j)})"
            subject = f"asset {j.asset_id}" if j.asset_id else f"upload {j.upload_id}"
            print(f"{j.id:6d} {j.state:8s} {j.kind:18s} {subject} ({j.filename}) attempts {j.attempts}/"
                  f"{j.max_attempts} {j.progress:3d}%{err}")
    return 0


def cmd_demo(args) -> int:
    archive = _archive(args)
    found = demo.existing(archive)
    if found is not None and args.if_missing:
        print(f"demo webinar already there: {archive.settings.public_url}/webinars/{found.id}")
        return 0
    w = demo.create_demo(archive)
    print(f"demo webinar added: {archive.settings.public_url}/webinars/{w.id}")
    return 0


def cmd_sweep(args) -> int:
    from archive import sweep

    archive = _archive(args)
    older = dt.timedelta(hours=args.older_than_hours) if args.older_than_hours is not None else None
    swept = sweep.periodic(archive, older)
    print(f"aborted {len(swept.uploads)} unfinished upload(s)")
    for key in swept.uploads:
        print(f"  {key}")
    print(f"removed {len(swept.replaced)} replaced file(s)")
    print(f"removed {len(swept.photos)} abandoned speaker photo upload(s)")
    print(f"removed {len(sweep.scratch(archive))} scratch folder(s) no job holds")
    return 0


def cmd_delete(args) -> int:
    from archive import removal

    archive = _archive(args)
    found = removal.summary(archive, args.webinar_id)
    if found is None:
        print(f"webinar-archive delete: no webinar {args.webinar_id!r}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"{found.title} ({found.webinar_id}): {found.files} file(s), {found.objects} object(s), "
          f"{file_size(found.bytes)}, {found.running_jobs} running and {found.queued_jobs} queued "
          f"job(s), {found.uploads} upload(s) in progress")
    if not args.yes:
        if not sys.stdin.isatty():
            print("webinar-archive delete: not confirmed (give --yes, or run it in a terminal)", file=sys.stderr)
            return EXIT_REJECTED
        answer = input(f"Delete this webinar and all its files for good? Type its id ({found.webinar_id}): ")
        if answer.strip() != found.webinar_id:
            print("not deleted")
            return EXIT_REJECTED
    removed = removal.delete_webinar(archive, args.webinar_id)
    if removed is None:
        print(f"webinar-archive delete: no webinar {args.webinar_id!r}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"deleted {args.webinar_id}: {len(removed.asset_ids)} file(s), {removed.objects} object(s)")
    return 0


def cmd_check(args) -> int:
    from archive import consistency

    archive = _archive(args)
    try:
        report = consistency.check(archive, checksums=args.checksums, repair=args.repair,
                                   grace=dt.timedelta(hours=args.grace_hours))
    finally:
        archive.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        for line in consistency.summary(report):
            print(line)
    return 0 if report.ok else EXIT_FAILED


def cmd_rebuild_catalog(args) -> int:
    from archive import rebuild

    archive = _archive(args)
    try:
        done = rebuild.rebuild(archive)
    except rebuild.RebuildRefused as e:
        print(f"webinar-archive rebuild-catalog: {e}", file=sys.stderr)
        return EXIT_REJECTED
    finally:
        archive.close()
    for note in done.skipped:
        print(f"webinar-archive rebuild-catalog: skipped {note}", file=sys.stderr)
    print(f"rebuilt {len(done.webinars)} webinar(s), {done.assets} file(s), {done.speakers} speaker(s), "
          f"{done.series} series; {done.jobs} job(s) queued")
    return 0


def _add_consistency_parsers(sub) -> None:
    s = sub.add_parser("check", help="compare the catalog and the bucket; --repair fixes what is safe",
                       description="Compare the catalog and the bucket: objects missing, objects nobody "
                                   "owns, originals that changed (size; --checksums reads every original "
                                   "and compares its SHA-256), jobs running past their lease, unfinished "
                                   "multipart uploads nobody will finish, manifests missing or out of date. "
                                   "Exits 1 when a problem is left. --repair deletes orphans older than "
                                   "the grace period, aborts stale uploads, queues expired jobs again and "
                                   "rewrites manifests; missing objects and changed originals are left "
                                   "for a person.")
    s.add_argument("--repair", action="store_true", help="fix what is safe to fix")
    s.add_argument("--checksums", action="store_true",
                   help="read every original and compare its SHA-256 (slow: reads the whole archive)")
    s.add_argument("--grace-hours", type=float, default=24, metavar="H",
                   help="objects nobody owns are judged (and removed by --repair) only when older (default 24)")
    s.add_argument("--json", action="store_true", help="print the report as JSON")
    s.set_defaults(func=cmd_check)
    s = sub.add_parser("rebuild-catalog", help="rebuild an empty catalog from the manifests in the bucket",
                       description="Write the webinars, series, tags, speakers, presentations, files "
                                   "(checksums, outputs, slide times, captions) back into an empty, migrated "
                                   "catalog from each webinar's manifest.json, index them for search and "
                                   "queue the jobs of files not yet processed. Accounts, statistics and past "
                                   "jobs are not in the bucket.")
    s.set_defaults(func=cmd_rebuild_catalog)


def _add_delete_parser(sub) -> None:
    s = sub.add_parser("delete", help="delete a webinar with all its files (asks for confirmation)",
                       description="Delete a webinar: its catalog rows, its jobs (a running one publishes "
                                   "nothing), its unfinished uploads and every object under its prefix. "
                                   "Speakers stay.")
    s.add_argument("webinar_id")
    s.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    s.set_defaults(func=cmd_delete)


def cmd_migrate(args) -> int:
    _archive(args)
    print("catalog schema is up to date; bucket is there")
    return 0


# --- staff accounts: `webinar-archive user ...` ---

def _read_password() -> str:
    """Twice at a terminal; otherwise the first line of stdin (for scripts)."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise accounts.AccountError("the passwords differ")
    return first


def _user_change(args, change) -> int:
    try:
        with _catalog_archive().catalog.transaction() as s:
            change(s, accounts.find(s, args.email))
    except accounts.AccountError as e:
        print(f"webinar-archive user: {e}", file=sys.stderr)
        return EXIT_REJECTED
    return 0


def cmd_user_add(args) -> int:
    archive = _catalog_archive()
    try:
        password = _read_password()
        with archive.catalog.transaction() as s:
            user = accounts.add_user(s, args.email, password, args.role)
            email, role = user.email, user.role
    except accounts.AccountError as e:
        print(f"webinar-archive user add: {e}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"added {email} ({role}); log in at {archive.settings.public_url}/staff/login")
    return 0


def cmd_user_list(args) -> int:
    with _catalog_archive().catalog.session() as s:
        for u in accounts.list_users(s):
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
            print(f"{u.email:40s} {u.role:6s} {'active' if u.active else 'deactivated':11s} last login {last}")
    return 0


def cmd_user_set_role(args) -> int:
    code = _user_change(args, lambda s, u: accounts.set_role(s, u, args.role))
    if not code:
        print(f"{args.email.strip().lower()} is now {args.role}")
    return code


def cmd_user_deactivate(args) -> int:
    code = _user_change(args, accounts.deactivate)
    if not code:
        print(f"{args.email.strip().lower()} can no longer log in")
    return code


def _add_user_parsers(sub) -> None:
    u = sub.add_parser("user", help="staff accounts: add, list, set-role, deactivate")
    us = u.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    s = us.add_parser("add", help="add an account; the password is asked twice (or read from stdin)")
    s.add_argument("email")
    role = s.add_mutually_exclusive_group()
    role.add_argument("--admin", dest="role", action="store_const", const="admin", help="accounts and everything")
    role.add_argument("--editor", dest="role", action="store_const", const="editor", help="webinars (default)")
    s.set_defaults(func=cmd_user_add, role="editor")
    s = us.add_parser("list", help="list the accounts")
    s.set_defaults(func=cmd_user_list)
    s = us.add_parser("set-role", help="make an account admin or editor")
    s.add_argument("email")
    s.add_argument("role", choices=accounts.ROLES)
    s.set_defaults(func=cmd_user_set_role)
    s = us.add_parser("deactivate", help="stop an account from logging in (its sessions end)")
    s.add_argument("email")
    s.set_defaults(func=cmd_user_deactivate)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="webinar-archive",
        description="An archive for webinar recordings and slides. Settings come from the "
                    "environment: WEBINAR_ARCHIVE_DATA, WEBINAR_ARCHIVE_DATABASE_URL, "
                    "WEBINAR_ARCHIVE_BUCKET, WEBINAR_ARCHIVE_S3_PUBLIC_ENDPOINT, "
                    "WEBINAR_ARCHIVE_PUBLIC_URL, WEBINAR_ARCHIVE_REDIS_URL (job queue for "
                    "several worker machines; default: the catalog alone), "
                    "and boto3's AWS_ENDPOINT_URL_S3, "
                    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="run the web app (gunicorn)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    s.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    s.add_argument("--debug", action="store_true",
                   help="Werkzeug's development server with its debugger instead of gunicorn")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("worker", help="process jobs (recordings, slides) until stopped")
    s.add_argument("--until-idle", action="store_true", help="stop when no job is left")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("import", help="add a webinar from local files or a folder",
                       description="Add a webinar from local files, given by flags or described in a "
                                   "TOML or JSON file (--describe: series, tags, language, start time, "
                                   "speakers, presentations with their decks and start times). With "
                                   "--describe only --visibility may be given too, and it overrides the file. "
                                   "Or from a FOLDER: its recording, decks and captions (talk.en.vtt), its "
                                   "name as the title, or a Zoom cloud-recording download as it comes (the "
                                   "start time from the file names, the shared-screen view, the M4A when there "
                                   "is no video, the transcript as English captions; the chat is left out). "
                                   "A description (--describe, or webinar.toml in the folder) says the rest. "
                                   "Uploads go in parallel parts, with progress on stderr.")
    s.add_argument("folder", nargs="?", type=Path, metavar="FOLDER",
                   help="a folder holding the webinar's files (a Zoom download, for one)")
    s.add_argument("--describe", type=Path, metavar="FILE",
                   help="a .toml or .json description; paths in it are relative to the file")
    s.add_argument("--title", help="the webinar's title (required without --describe)")
    s.add_argument("--date", type=_date, help="the day it was held, YYYY-MM-DD")
    s.add_argument("--recording", type=Path, help="the recording (MP4, MOV, MKV, WebM, AVI, M4A, MP3, WAV, OGG)")
    s.add_argument("--slides", type=Path, action="append", help="a slide deck (PDF, PPTX or ODP); repeat for more")
    s.add_argument("--captions", type=_captions, action="append", metavar="LANG:FILE",
                   help="captions or a transcript (WebVTT or SRT) in a language, e.g. en:talk.vtt; repeat")
    s.add_argument("--description", help="text shown on the webinar's page")
    s.add_argument("--visibility", choices=[v.value for v in Visibility],
                   help="default public, or the file's; overrides the file's with --describe")
    s.add_argument("--wait", action="store_true", help="return when processing has ended (every rendition)")
    s.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits (default 3600)")
    s.add_argument("--json", action="store_true", help="print one JSON object: id, url, status, error")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("status", help="show a webinar's processing status as JSON")
    s.add_argument("webinar_id")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("jobs", help="list jobs, or retry a failed one")
    s.add_argument("--state", choices=[j.value for j in JobState])
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--retry", type=int, metavar="JOB_ID", help="queue a failed job again")
    s.set_defaults(func=cmd_jobs)

    s = sub.add_parser("demo", help="add the demo webinar (a generated talk and slides)")
    s.add_argument("--if-missing", action="store_true", help="do nothing if it is already there")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("sweep", help="abort abandoned browser uploads (unfinished S3 multipart uploads), "
                                     "remove replaced files, unfinished speaker photos and the scratch "
                                     "folders of jobs no worker holds")
    s.add_argument("--older-than-hours", type=float, metavar="H",
                   help="abort unfinished uploads older than this too (default WEBINAR_ARCHIVE_UPLOAD_ABANDON_HOURS, 48)")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("migrate", help="create or upgrade the catalog schema and the bucket")
    s.set_defaults(func=cmd_migrate)

    _add_user_parsers(sub)
    _add_delete_parser(sub)
    _add_consistency_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (ConfigError, StorageError) as e:
        if getattr(args, "json", False):
            print(json.dumps({"status": "error", "error": str(e)}))
        print(f"webinar-archive: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    finally:
        while _opened:
            _opened.pop().close()


if __name__ == "__main__":
    sys.exit(main())
