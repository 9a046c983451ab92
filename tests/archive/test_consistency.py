"""`check` (and `--repair`) and `rebuild-catalog`, on SQLite and on PostgreSQL + Redis.

One fully described webinar (series, tags, speakers, a presentation with its deck and
slide times, captions, a recording) is imported and processed; then the bucket and the
catalog are put out of step one way per finding, and the check must name each, repair
the safe ones and leave the others. The rebuild writes a fresh, empty catalog from the
manifests alone and must give back the same rows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text, update

from archive import consistency, rebuild
from archive.consistency import Finding
from archive.context import Archive
from archive.importer import ImportRequest, PresentationInput, SpeakerInput, import_webinar
from archive.models import Job, Webinar, utcnow
from archive.worker import Worker
from web.cli import main

from ..conftest import make_settings
from ..helpers import reload
from ..services import use_archive_env

NOW = dt.timedelta(0)  # a grace period of nothing: every object is judged at once


@pytest.fixture
def settings(backend_settings):  # every test here runs on both catalog backends
    return backend_settings


@pytest.fixture(scope="module")
def vtt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("captions") / "talk.vtt"
    path.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello marmalade\n\n00:02.000 --> 00:03.500\n"
                    "<v Ada>Zeppelins</v> return\n")
    return path


def _described(archive, inputs, vtt) -> Webinar:
    w = import_webinar(archive, ImportRequest(
        title="Open data in practice", held_on=dt.date(2021, 6, 7), description="*Markdown*",
        series="Open data", tags=["open data", "cities"], language="en", captions=[("en", vtt)],
        recording=inputs["audio.m4a"],  # audio alone: the cheapest recording to process
        starts_at=dt.datetime(2021, 6, 7, 12, 0, tzinfo=dt.timezone.utc), timezone="Europe/Berlin",
        speakers=[SpeakerInput("Ada Lovelace", organisation="Engines", bio="Counts"), SpeakerInput("Bo Moderator")],
        presentations=[PresentationInput("Why open data", speakers=["Ada Lovelace"], slides=inputs["deck.pdf"],
                                         start=0.5, slide_times=[0.0, 1.5]),
                       PresentationInput("Questions", speakers=["Bo Moderator", "Ada Lovelace"])]))
    Worker(archive, "w").run_until_idle()
    return reload(archive, w.id)


def test_check_finds_each_problem_and_repair_fixes_the_safe_ones(archive, inputs, vtt, minio, tmp_path,
                                                                 monkeypatch, capsys):
    w = _described(archive, inputs, vtt)
    clean = consistency.check(archive, checksums=True, grace=NOW)
    assert clean.problems == [] and clean.ok, consistency.summary(clean)
    assert clean.originals_hashed == len(w.assets) and clean.webinars == 1

    store = archive.store
    # Orphans: a crash between a PUT and the commit, a deleted webinar's leftovers.
    orphans = [f"{w.prefix}media/nosuchasset/web.mp4", "webinars/gone0000gone/manifest.json"]
    for key in orphans:
        store.put_bytes(key, b"left behind", "application/octet-stream")
    # A lost output, and an original whose bytes changed (same size: only --checksums sees it).
    lost = w.recording.outputs["poster"]
    store.delete_keys([lost])
    deck = w.decks[0]
    changed = bytearray(store.get_bytes(deck.original_key))
    changed[-20] ^= 0xFF
    store.put_bytes(deck.original_key, bytes(changed), deck.content_type)
    # A job whose worker died; an upload nobody will finish; a manifest one edit behind.
    with archive.catalog.transaction() as s:
        job = s.query(Job).filter(Job.asset_id == w.recording.id, Job.kind == "recording_renditions").one()
        job.state, job.lease_owner, job.attempts = "running", "dead-worker", 1
        job.lease_expires_at = utcnow() - dt.timedelta(minutes=5)
        job_id = job.id
        s.execute(update(Webinar).where(Webinar.id == w.id).values(title="Renamed without its manifest"))
    store.create_multipart(f"{w.prefix}originals/abandoned0001/original.mp4", "video/mp4")

    found = consistency.check(archive, checksums=True, grace=NOW)
    by = {f: sorted(p.subject for p in found.of(f)) for f in Finding}
    assert by == {Finding.MISSING_OBJECT: [lost], Finding.ORPHAN_OBJECT: sorted(orphans),
                  Finding.CHANGED_ORIGINAL: [deck.original_key], Finding.EXPIRED_LEASE: [str(job_id)],
                  Finding.STALE_UPLOAD: [f"{w.prefix}originals/abandoned0001/original.mp4"],
                  Finding.STALE_MANIFEST: [w.manifest_key]}, consistency.summary(found)
    assert not found.ok
    # Without --checksums the changed bytes go unseen (same size); within the grace period
    # the orphans are not judged (an import may be about to record them).
    quick = consistency.check(archive, grace=dt.timedelta(hours=1))
    assert quick.of(Finding.CHANGED_ORIGINAL) == [] and quick.of(Finding.ORPHAN_OBJECT) == []
    assert sorted(quick.recent) == sorted(orphans)

    # The command: a report, exit code 1, and JSON.
    use_archive_env(monkeypatch, minio, tmp_path, archive)
    assert main(["check", "--grace-hours", "0", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and {p["finding"] for p in doc["problems"]} >= {"orphan_object", "missing_object"}

    repaired = consistency.check(archive, repair=True, grace=NOW)
    left = {(str(p.finding), p.subject) for p in repaired.problems if not p.repaired}
    assert left == {("missing_object", lost)}  # a person decides (without --checksums the deck is not read)
    assert all(p.left for p in repaired.problems if not p.repaired)
    assert all(store.head(k) is None for k in orphans)
    assert store.list_multipart_uploads(w.prefix) == []
    with archive.catalog.session() as s:
        assert (s.get(Job, job_id).state, s.get(Job, job_id).lease_owner) == ("queued", None)
    assert json.loads(store.get_bytes(w.manifest_key))["title"] == "Renamed without its manifest"

    after = consistency.check(archive, checksums=True, grace=NOW)
    assert {(str(p.finding), p.subject) for p in after.problems} == {
        ("missing_object", lost), ("changed_original", deck.original_key)}
    assert main(["check", "--grace-hours", "0"]) == 1
    out = capsys.readouterr().out
    assert "missing object: 1" in out and lost in out


def _dump(url: str) -> dict[str, list]:
    """The catalog's content that the manifests carry, in a canonical order: every column
    but the search tables' serial ids."""
    tables = {
        "webinars": "SELECT * FROM webinars ORDER BY id",
        "series": "SELECT * FROM series ORDER BY id",
        "tags": "SELECT * FROM tags ORDER BY id",
        "webinar_tags": "SELECT * FROM webinar_tags ORDER BY webinar_id, tag_id",
        "speakers": "SELECT * FROM speakers ORDER BY id",
        "webinar_speakers": "SELECT * FROM webinar_speakers ORDER BY webinar_id, speaker_id",
        "presentations": "SELECT * FROM presentations ORDER BY id",
        "presentation_speakers": "SELECT * FROM presentation_speakers ORDER BY presentation_id, speaker_id",
        "assets": "SELECT * FROM assets ORDER BY id",
        "search_documents": "SELECT webinar_id, asset_id, kind, page, at_seconds, title, text, times "
                            "FROM search_documents ORDER BY webinar_id, asset_id, kind, page, at_seconds, title",
        "search_webinars": "SELECT webinar_id, title, text, words FROM search_webinars ORDER BY webinar_id",
    }
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            out = {}
            for name, sql in tables.items():
                rows = []
                for row in c.execute(text(sql)).mappings():
                    # JSON columns: SQLite returns text, PostgreSQL objects; compare the values.
                    rows.append({k: json.loads(v) if isinstance(v, str) and v.startswith(("[", "{")) else v
                                 for k, v in row.items()})
                out[name] = rows
            return out
    finally:
        engine.dispose()


def test_rebuild_catalog_from_the_manifests_alone_gives_the_same_rows(archive, inputs, vtt, backend, request,
                                                                      tmp_path, monkeypatch, capsys, minio):
    w = _described(archive, inputs, vtt)
    other = import_webinar(archive, ImportRequest(title="Slides only", slides=[inputs["deck.pdf"]],
                                                  tags=["cities"], series="Open data",
                                                  speakers=[SpeakerInput("Ada Lovelace")]))
    Worker(archive, "w").run_until_idle()
    assert consistency.check(archive, grace=NOW).ok
    original = _dump(archive.settings.database_url)
    assert len(original["webinars"]) == 2 and len(original["assets"]) == 4
    assert any(d["kind"] == "caption" for d in original["search_documents"])

    empty = (request.getfixturevalue("postgres").create_database() if backend else
             f"sqlite:///{tmp_path / 'rebuilt' / 'catalog.sqlite3'}")
    fresh = Archive.from_settings(dataclasses.replace(archive.settings, database_url=empty))
    fresh.setup()
    try:
        done = rebuild.rebuild(fresh)
        assert sorted(done.webinars) == sorted([w.id, other.id]) and done.jobs == 0 and done.skipped == []
        rebuilt = _dump(empty)
        for table, rows in original.items():
            assert rebuilt[table] == rows, (table, [(a, b) for a, b in zip(rebuilt[table], rows) if a != b][:2])
        assert reload(fresh, w.id).presentations[0].deck.info["slide_times"] == [0.0, 1.5]
        with pytest.raises(rebuild.RebuildRefused, match="already holds webinars"):
            rebuild.rebuild(fresh)
        assert consistency.check(fresh, grace=NOW).ok
    finally:
        fresh.close()
    # The command refuses a catalog that is not empty.
    use_archive_env(monkeypatch, minio, tmp_path, archive)
    assert main(["rebuild-catalog"]) == 2
    assert "already holds webinars" in capsys.readouterr().err


def test_a_format_2_manifest_is_read_too(minio, inputs, tmp_path):
    """Manifests written before format 3 lack the rows' times and tag ids: the rows are
    rebuilt all the same (no catalog query differs by backend here: SQLite alone)."""
    archive = Archive.from_settings(make_settings(minio, tmp_path))
    archive.setup()
    w = import_webinar(archive, ImportRequest(title="Old manifest", slides=[inputs["deck.pdf"]], tags=["old"]))
    doc = json.loads(archive.store.get_bytes(w.manifest_key))
    for key in ("created_at", "updated_at"):
        doc.pop(key)
    doc["format"] = 2
    doc["tags"] = [{"slug": t["slug"], "name": t["name"]} for t in doc["tags"]]
    for a in doc["assets"]:
        a.pop("original_ext"), a.pop("created_at")
    archive.store.put_bytes(w.manifest_key, json.dumps(doc).encode(), "application/json")
    fresh = Archive.from_settings(dataclasses.replace(
        archive.settings, database_url=f"sqlite:///{tmp_path / 'old' / 'catalog.sqlite3'}"))
    fresh.setup()
    try:
        done = rebuild.rebuild(fresh)
        assert done.webinars == [w.id] and done.jobs == 1  # the deck was never processed: queued again
        back = reload(fresh, w.id)
        assert [t.slug for t in back.tags] == ["old"] and back.decks[0].original_ext == "pdf"
    finally:
        fresh.close()
        archive.close()
