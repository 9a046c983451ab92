"""Time and queries of the browsing pages, the filtered home page and their API over a
catalog of 10,000 listed webinars (rows only), in 50 series, with 100 tags, 2,000 speakers
and a presentation per webinar; a fifth of the rows are drafts, private or not yet published.

    .venv/bin/python bench/browse.py

Starts a real MinIO on loopback (the app needs its bucket), fills a SQLite catalog and
renders each page through Flask's test client: median milliseconds of several renders and
the number of SQL statements one render runs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert  # noqa: E402

from archive.config import Settings  # noqa: E402
from archive.context import Archive  # noqa: E402
from archive.models import (Asset, Presentation, PresentationSpeaker, Series, Speaker, Tag, Webinar,  # noqa: E402
                            WebinarSpeaker, new_id, webinar_tags)
from tests.services import MinioServer, archive_env  # noqa: E402
from web import create_app  # noqa: E402

SERIES, TAGS, SPEAKERS = 50, 100, 2_000


def fill(archive: Archive, n: int) -> None:
    series = [{"id": new_id(), "slug": f"series-{i}", "title": f"Series {i}", "description": "About **it**."}
              for i in range(SERIES)]
    tags = [{"id": new_id(), "slug": f"tag-{i}", "name": f"Tag {i}"} for i in range(TAGS)]
    speakers = [{"id": new_id(), "slug": f"speaker-{i}", "name": f"Speaker {i}", "organisation": "Org", "bio": ""}
                for i in range(SPEAKERS)]
    webinars, assets, links, wspeakers, talks, tspeakers = [], [], [], [], [], []
    future = dt.datetime.now() + dt.timedelta(days=30)
    for i in range(n):
        wid = new_id()
        hidden = i % 5 == 4
        webinars.append({"id": wid, "title": f"Webinar {i}", "held_on": dt.date(2015, 1, 1) + dt.timedelta(days=i % 3000),
                         "language": ("en", "de", "fr")[i % 3], "description": "",
                         "visibility": ("draft", "private", "public")[i % 3] if hidden else "public",
                         "publish_at": future if hidden and i % 3 == 2 else None,
                         "series_id": series[i % SERIES]["id"]})
        assets.append({"id": new_id(), "webinar_id": wid, "kind": "recording", "position": 0,
                       "original_filename": "talk.mp4", "original_ext": "mp4", "content_type": "video/mp4",
                       "size": 1, "sha256": "0" * 64, "status": "ready", "info": {"kind": "video", "duration": 60},
                       "outputs": {"web": f"webinars/{wid}/media/x/web.mp4"}})
        links += [{"webinar_id": wid, "tag_id": tags[i % TAGS]["id"]}, {"webinar_id": wid, "tag_id": tags[(i + 7) % TAGS]["id"]}]
        sp = speakers[i % SPEAKERS]["id"]
        wspeakers.append({"webinar_id": wid, "speaker_id": sp, "position": 0})
        pid = new_id()
        talks.append({"id": pid, "webinar_id": wid, "position": 0, "title": f"Talk {i}", "start_seconds": 30.0})
        tspeakers.append({"presentation_id": pid, "speaker_id": sp, "position": 0})
    with archive.catalog.transaction() as s:
        for model, rows in ((Series, series), (Tag, tags), (Speaker, speakers), (Webinar, webinars),
                            (Asset, assets), (WebinarSpeaker, wspeakers), (Presentation, talks),
                            (PresentationSpeaker, tspeakers)):
            s.execute(insert(model), rows)
        s.execute(insert(webinar_tags), links)


PATHS = ["/", "/?language=de&year=2018", "/?from=2016-03-01&to=2016-09-30&page=2", "/series", "/series/series-7",
         "/series/series-7?page=3", "/tags", "/tags/tag-3", "/speakers", "/speakers?page=10", "/speakers/speaker-42",
         "/series/series-7/feed.atom", "/sitemap.xml", "/api/v1/series", "/api/v1/series/series-7",
         "/api/v1/speakers?per_page=100", "/api/v1/speakers/speaker-42"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webinars", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wa-bench-browse-") as tmp:
        tmp = Path(tmp)
        minio = MinioServer(tmp / "minio")
        try:
            archive = Archive.from_settings(Settings.from_env(archive_env(minio, tmp)))
            archive.setup()
            fill(archive, args.webinars)
            client = create_app(archive, {"TESTING": True}).test_client()
            statements: list[str] = []
            event.listen(archive.catalog.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
            print(f"{args.webinars} webinars ({SERIES} series, {TAGS} tags, {SPEAKERS} speakers); "
                  f"median of {args.runs} renders")
            print(f"{'path':45} {'ms':>8} {'queries':>8} {'bytes':>9}")
            for path in PATHS:
                times = []
                for _ in range(args.runs):
                    statements.clear()
                    start = time.perf_counter()
                    r = client.get(path)
                    times.append((time.perf_counter() - start) * 1000)
                    assert r.status_code == 200, (path, r.status_code)
                print(f"{path:45} {statistics.median(times):8.1f} {len(statements):8d} {len(r.data):9d}")
            archive.close()
        finally:
            minio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
