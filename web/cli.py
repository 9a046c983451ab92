"""`webinar-archive`: the operator's command. `webinar-archive --help` lists what it can do."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import signal
import sys
import time
from pathlib import Path

from archive import demo, jobs, pipeline, webinars
from archive.config import ConfigError, Settings
from archive.context import Archive
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.models import Job
from archive.storage import StorageError
from archive.worker import Worker

EXIT_FAILED = 1  # processing failed
EXIT_REJECTED = 2  # bad input or usage
EXIT_TIMEOUT = 3


def _archive(args) -> Archive:
    archive = Archive.from_settings(Settings.from_env())
    archive.setup()
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
    from werkzeug.serving import run_simple

    from . import create_app

    archive = _archive(args)
    app = create_app(archive)
    print(f"webinar-archive: serving on http://{args.host}:{args.port}/", flush=True)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    return 0


def cmd_worker(args) -> int:
    archive = _archive(args)
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


def _wait(archive: Archive, webinar_id: str, timeout: float) -> "webinars.Webinar":
    deadline = time.monotonic() + timeout
    hinted = False
    started = time.monotonic()
    while True:
        with archive.catalog.session() as s:
            w = webinars.get(s, webinar_id)
            jobs_of = s.query(Job).join(Job.asset).filter_by(webinar_id=webinar_id)
            unclaimed = jobs_of.filter(Job.state == "queued", Job.attempts == 0).count()
            active = jobs_of.filter(Job.state.in_(("queued", "running"))).count()
        # Ended: failed, or ready with every later rendition done too.
        if w.status == "failed" or (w.status == "ready" and not active):
            return w
        if not hinted and unclaimed and time.monotonic() - started > 15:
            print("webinar-archive: still waiting for a worker; is `webinar-archive worker` "
                  "(or scripts/run) running?", file=sys.stderr)
            hinted = True
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.5)


def cmd_import(args) -> int:
    archive = _archive(args)
    req = ImportRequest(
        title=args.title, held_on=args.date, recording=args.recording, slides=args.slides or [],
        captions=args.captions or [],
        description=args.description or "", visibility=args.visibility,
    )
    try:
        w = import_webinar(archive, req)
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
            code = EXIT_FAILED if w.status == "failed" else 0
    else:
        with archive.catalog.session() as s:
            w = webinars.get(s, w.id)
    result = webinars.status_dict(w, archive.settings.public_url)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{result['status']}: {result['title']} {result['url']}")
        if result.get("error"):
            print(f"error: {result['error']}", file=sys.stderr)
    return code


def cmd_status(args) -> int:
    archive = _archive(args)
    with archive.catalog.session() as s:
        w = webinars.get(s, args.webinar_id)
    if w is None:
        print(f"webinar-archive: no webinar {args.webinar_id}", file=sys.stderr)
        return EXIT_REJECTED
    print(json.dumps(webinars.status_dict(w, archive.settings.public_url), ensure_ascii=False, indent=2))
    return EXIT_FAILED if w.status == "failed" else 0


def cmd_jobs(args) -> int:
    archive = _archive(args)
    if args.retry is not None:
        try:
            pipeline.retry(archive.catalog, args.retry)  # re-queues its failed asset too
        except (LookupError, jobs.JobStateError) as e:
            print(f"webinar-archive jobs: {e.args[0]}", file=sys.stderr)
            return EXIT_REJECTED
        print(f"job {args.retry} queued again")
        return 0
    with archive.catalog.session() as s:
        q = s.query(Job).order_by(Job.id.desc())
        if args.state:
            q = q.filter(Job.state == args.state)
        for j in q.limit(args.limit):
            err = f"  {j.error}" if j.error else ""
            print(f"{j.id:6d} {j.state:8s} {j.kind:18s} asset {j.asset_id} attempts {j.attempts}/"
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
    from archive import uploads

    archive = _archive(args)
    older = dt.timedelta(hours=args.older_than_hours) if args.older_than_hours is not None else None
    aborted = uploads.sweep(archive, older)
    print(f"aborted {len(aborted)} unfinished upload(s)")
    for key in aborted:
        print(f"  {key}")
    return 0


def cmd_migrate(args) -> int:
    _archive(args)
    print("catalog schema is up to date; bucket is there")
    return 0


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

    s = sub.add_parser("serve", help="run the web app")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("worker", help="process jobs (recordings, slides) until stopped")
    s.add_argument("--until-idle", action="store_true", help="stop when no job is left")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("import", help="add a webinar from local files")
    s.add_argument("--title", required=True)
    s.add_argument("--date", type=_date, help="the day it was held, YYYY-MM-DD")
    s.add_argument("--recording", type=Path, help="the recording (MP4, MOV, MKV, WebM, AVI, M4A, MP3, WAV, OGG)")
    s.add_argument("--slides", type=Path, action="append", help="a slide deck (PDF, PPTX or ODP); repeat for more")
    s.add_argument("--captions", type=_captions, action="append", metavar="LANG:FILE",
                   help="captions or a transcript (WebVTT or SRT) in a language, e.g. en:talk.vtt; repeat")
    s.add_argument("--description", help="text shown on the webinar's page")
    s.add_argument("--visibility", default="public", choices=["draft", "public", "unlisted", "private"])
    s.add_argument("--wait", action="store_true", help="return when processing has ended (every rendition)")
    s.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits (default 3600)")
    s.add_argument("--json", action="store_true", help="print one JSON object: id, url, status, error")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("status", help="show a webinar's processing status as JSON")
    s.add_argument("webinar_id")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("jobs", help="list jobs, or retry a failed one")
    s.add_argument("--state", choices=["queued", "running", "done", "failed"])
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--retry", type=int, metavar="JOB_ID", help="queue a failed job again")
    s.set_defaults(func=cmd_jobs)

    s = sub.add_parser("demo", help="add the demo webinar (a generated talk and slides)")
    s.add_argument("--if-missing", action="store_true", help="do nothing if it is already there")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("sweep", help="abort abandoned browser uploads (unfinished S3 multipart uploads)")
    s.add_argument("--older-than-hours", type=float, metavar="H",
                   help="abort unfinished uploads older than this too (default WEBINAR_ARCHIVE_UPLOAD_ABANDON_HOURS, 48)")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("migrate", help="create or upgrade the catalog schema and the bucket")
    s.set_defaults(func=cmd_migrate)
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


if __name__ == "__main__":
    sys.exit(main())
