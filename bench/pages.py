"""Throughput of the watch page under gunicorn, against a trivial endpoint in the same run.

    .venv/bin/python bench/pages.py            # needs `ab` (Debian's apache2-utils)

Starts a real MinIO on loopback, builds a catalog of 10,000 webinars (rows only) plus one
webinar with a short recording and two real 80-page decks processed by the worker, starts
gunicorn (2 workers) on 127.0.0.1 and runs `ab -c 20` for a bounded time against
`/api/health` (the baseline), the watch page with the decks and a watch page without a deck.
Prints requests/s, p99 and each page's share of the baseline's throughput.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from archive.config import Settings  # noqa: E402
from archive.context import Archive  # noqa: E402
from archive.importer import ImportRequest, import_webinar  # noqa: E402
from archive.models import Asset, Webinar, new_id  # noqa: E402
from archive.pdfgen import write_deck  # noqa: E402
from archive.worker import Worker  # noqa: E402
from tests.services import MinioServer, archive_env, free_port, stop_process, wait_http  # noqa: E402

CATALOG_ROWS = 10_000
DECK_PAGES = 80


def fill_catalog(archive: Archive, n: int) -> None:
    """n public webinars, each with a ready recording row (no objects: pages are not fetched)."""
    webinars, assets = [], []
    for i in range(n):
        wid = new_id()
        webinars.append({"id": wid, "title": f"Webinar {i}", "held_on": dt.date(2020, 1, 1) + dt.timedelta(days=i % 1500),
                         "description": "", "visibility": "public"})
        assets.append({"id": new_id(), "webinar_id": wid, "kind": "recording", "position": 0,
                       "original_filename": "talk.mp4", "original_ext": "mp4", "content_type": "video/mp4",
                       "size": 1, "sha256": "0" * 64, "status": "ready", "info": {"kind": "video", "duration": 60},
                       "outputs": {"web": f"webinars/{wid}/media/x/web.mp4"}})
    with archive.catalog.transaction() as s:
        s.execute(insert(Webinar), webinars)
        s.execute(insert(Asset), assets)


def ab(url: str, seconds: int, concurrency: int) -> tuple[float, int, int]:
    """(requests/s, p99 ms, failed requests) of one bounded ab run."""
    out = subprocess.run(["ab", "-q", "-t", str(seconds), "-n", "1000000", "-c", str(concurrency), url],
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    p99 = int(re.search(r"^\s*99%\s+(\d+)", out, re.M).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    return rps, p99, failed + (int(non2xx.group(1)) if non2xx else 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=10, help="length of each ab run")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if shutil.which("ab") is None:
        print("ab is missing: source scripts/lib.sh && ensure_debian_packages ab=apache2-utils", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="wa-bench-pages-") as tmp:
        tmp = Path(tmp)
        minio = MinioServer(tmp / "minio")
        server = None
        try:
            env = archive_env(minio, tmp, WEBINAR_ARCHIVE_PUBLIC_URL="http://127.0.0.1")
            archive = Archive.from_settings(Settings.from_env(env))
            archive.setup()
            clip = tmp / "talk.mp4"
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                            "testsrc2=size=640x360:rate=10:duration=10", "-f", "lavfi", "-i", "sine=d=10",
                            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                            "-shortest", str(clip)], check=True, timeout=120)
            decks = [write_deck(tmp / f"deck{d}.pdf", f"Deck {d}",
                                [(f"Slide {n}", [f"Point {n}.1", f"Point {n}.2"]) for n in range(1, DECK_PAGES + 1)])
                     for d in (1, 2)]
            t = time.perf_counter()
            with_decks = import_webinar(archive, ImportRequest(title="Two decks", recording=clip, slides=decks))
            without = import_webinar(archive, ImportRequest(title="No deck", recording=clip))
            Worker(archive, name="bench").run_until_idle()
            print(f"processed a recording and two {DECK_PAGES}-page decks in {time.perf_counter() - t:.0f} s")
            fill_catalog(archive, CATALOG_ROWS)
            archive.close()

            port = free_port()
            server = subprocess.Popen(
                [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(args.workers),
                 "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "web:create_app()"],
                cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, start_new_session=True)
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/api/health")
            urls = {"trivial /api/health": f"{base}/api/health",
                    "watch page, 2 decks": f"{base}/webinars/{with_decks.id}",
                    "watch page, no deck": f"{base}/webinars/{without.id}"}
            for url in urls.values():  # warm up: imports, templates, signed links
                ab(url, 2, args.concurrency)
            results = {name: ab(url, args.seconds, args.concurrency) for name, url in urls.items()}
        finally:
            if server is not None:
                stop_process(server)
            minio.stop()
    base_rps = results["trivial /api/health"][0]
    print(f"\ncatalog: {CATALOG_ROWS + 2} webinars; gunicorn {args.workers} workers; "
          f"ab -c {args.concurrency}, {args.seconds} s per URL, {os.cpu_count()} cores shared with ab")
    print(f"{'':24} {'req/s':>8} {'p99 ms':>7} {'failed':>7} {'of trivial':>11}")
    for name, (rps, p99, failed) in results.items():
        print(f"{name:24} {rps:8.0f} {p99:7d} {failed:7d} {100 * rps / base_rps:10.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
