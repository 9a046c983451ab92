"""The webinar's structure (series, tags, speakers, presentations, times) from a
description file into the catalog and the manifest, on SQLite and PostgreSQL."""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil

import pytest
from sqlalchemy import select

from archive import browse, describe, intake, queries, webinars
from archive.catalog import Catalog
from archive.context import Archive
from archive.importer import ImportRejected, import_webinar
from archive.markdown import render
from archive.models import (Asset, Job, Presentation, Series, Speaker, Tag, Webinar, WebinarSpeaker,
                            slugify)

from ..conftest import make_settings
from ..helpers import reload as _reload
from ..helpers import schema_differences
from . import describe_inputs
from .describe_inputs import realistic, write


@pytest.fixture
def archive_on(backend, minio, tmp_path):
    """The archive on the backend under test (SQLite, or PostgreSQL + Redis)."""
    a = Archive.from_settings(make_settings(minio, tmp_path / "archive", **backend))
    a.setup()
    yield a
    a.close()


def _counts(archive) -> dict[str, int]:
    with archive.catalog.session() as s:
        return {m.__name__: s.query(m).count() for m in (Webinar, Asset, Job, Series, Tag, Speaker, Presentation)}


# -- the migration ----------------------------------------------------------------

def test_migration_0002_keeps_existing_webinars(tmp_path):
    """A catalog made at 0001 with a webinar in it upgrades, and the webinar reads."""
    from alembic import command
    from alembic.config import Config

    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(catalog_migrations()))
    with catalog.engine.begin() as c:
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0001")
        c.exec_driver_sql("INSERT INTO webinars (id, title, held_on, description, visibility, created_at, "
                          "updated_at) VALUES ('old1', 'Old', '2020-01-02', '', 'public', '2020-01-02 00:00:00', "
                          "'2020-01-02 00:00:00')")
    catalog.migrate()
    assert schema_differences(catalog) == []
    with catalog.session() as s:
        w = queries.get(s, "old1")
        assert (w.held_on, w.starts_at, w.series, w.speakers, w.presentations) == (dt.date(2020, 1, 2), None,
                                                                                   None, [], [])
        assert w.is_viewable()
    catalog.dispose()


def catalog_migrations():
    from archive.catalog import MIGRATIONS
    return MIGRATIONS


# -- parsing (no services) -------------------------------------------------------------

@pytest.mark.parametrize("text, seconds", [
    ("1:02:03", 3723), ("62:03", 3723), ("0:00", 0), ("0:00:00", 0), (75, 75), (12.5, 12.5), ("90", 90),
    ("1:00.5", 60.5),
])
def test_start_times(text, seconds):
    assert intake.parse_start(text) == seconds


@pytest.mark.parametrize("text", ["1:75", "1:60:00", "-5", -1, "soon", True, "1::2", [1]])
def test_bad_start_times(text):
    with pytest.raises(ImportRejected, match=r"^presentations\[1\]\.start: "):
        intake.parse_start(text, "presentations[1].start")


def _parse(tmp_path, inputs, **overrides):
    doc = realistic(tmp_path, inputs, **overrides)
    return describe.parse(doc, tmp_path)


@pytest.mark.parametrize("overrides, message", [
    ({"titel": "x"}, r"^titel: unknown field \(did you mean 'title'\?\)"),
    ({"title": 5}, r"^title: expected text, got 5$"),
    ({"title": None}, r"^title: missing$"),
    ({"tags": "open data"}, r"^tags: expected a list of text"),
    ({"date": "7 June 2021"}, r"^date: '7 June 2021' is not a date"),
    ({"time": "2pm"}, r"^time: '2pm' is not a time of day"),
    ({"timezone": None}, r"^time: a start time needs a timezone"),
    ({"timezone": "Mars/Olympus"}, r"^timezone: 'Mars/Olympus' is not an IANA time zone"),
    ({"recording": "missing.mp4"}, r"^recording: no such file 'missing.mp4'"),
    ({"captions": ["talk.vtt"]}, r"^captions: give a table of language = file"),
    ({"speakers": {"name": "Ada"}}, r"^speakers: expected a list of tables"),
    ({"publish_at": "tomorrow"}, r"^publish_at: 'tomorrow' is not a date and time"),
])
def test_description_errors_name_the_field(tmp_path, inputs, overrides, message):
    with pytest.raises(ImportRejected, match=message):
        _parse(tmp_path, inputs, **overrides)


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
@pytest.mark.parametrize("field", ["captions.en", "recording", "speakers[1].photo", "presentations[2].slides"])
def test_a_description_reads_only_files_in_its_folder(tmp_path, inputs, field, how):
    """A description may come from elsewhere: a path in it that leads out of its folder (an
    absolute one, through `..`, or a symlink) is refused with the field's name; before,
    /tmp/secret/outside.vtt named in a webinar.toml was published as captions."""
    folder, secret = tmp_path / "described", tmp_path / "secret"
    doc = realistic(folder, inputs)
    secret.mkdir()
    outside = secret / {"captions.en": "outside.vtt", "recording": "outside.mp4", "speakers[1].photo": "outside.jpg",
                        "presentations[2].slides": "outside.pdf"}[field]
    shutil.copyfile(folder / {"captions.en": "talk.vtt", "recording": "talk.mp4", "speakers[1].photo": "ada.jpg",
                              "presentations[2].slides": "grace.pdf"}[field], outside)
    named = {"absolute": str(outside), "dotdot": f"../secret/{outside.name}", "symlink": f"link-{outside.name}"}[how]
    if how == "symlink":
        (folder / named).symlink_to(outside)
    if field == "captions.en":
        doc["captions"] = {"en": named}
    elif field == "recording":
        doc["recording"] = named
    elif field == "speakers[1].photo":
        doc["speakers"][0]["photo"] = named
    else:
        doc["presentations"][1]["slides"] = named
    reason = {"absolute": "is an absolute path", "dotdot": "leads out of the folder",
              "symlink": "is a link that leads out of the folder"}[how]
    with pytest.raises(ImportRejected, match=rf"^{re.escape(field)}: {re.escape(repr(named))} {reason}"):
        describe.load(write(folder, doc))


def test_a_link_to_a_file_in_the_folder_is_followed(tmp_path, inputs):
    folder = tmp_path / "described"
    doc = realistic(folder, inputs, captions={"en": "subtitles/talk.vtt"})
    (folder / "subtitles").mkdir()
    (folder / "subtitles" / "talk.vtt").symlink_to(folder / "talk.vtt")
    req = describe.load(write(folder, doc))
    assert req.captions == [("en", folder / "subtitles" / "talk.vtt")]


def test_errors_inside_speakers_and_presentations(tmp_path, inputs):
    doc = realistic(tmp_path, inputs)
    bad = copy.deepcopy(doc)
    bad["speakers"][1]["organization"] = "Navy"
    with pytest.raises(ImportRejected, match=r"^speakers\[2\]\.organization: unknown field \(did you mean "
                                             r"'organisation'\?\)"):
        describe.parse(bad, tmp_path)
    bad = copy.deepcopy(doc)
    bad["presentations"][1]["slides"] = "gone.pdf"
    with pytest.raises(ImportRejected, match=r"^presentations\[2\]\.slides: no such file 'gone.pdf'"):
        describe.parse(bad, tmp_path)
    bad = copy.deepcopy(doc)
    bad["presentations"][0]["speakers"] = "Ada Lovelace"
    with pytest.raises(ImportRejected, match=r"^presentations\[1\]\.speakers: expected a list of text"):
        describe.parse(bad, tmp_path)


def test_local_time_becomes_utc_and_the_local_day(tmp_path, inputs):
    req = _parse(tmp_path, inputs, date="2021-06-07", time="00:30", timezone="Europe/Berlin",
                 publish_at="2021-06-10T09:00")
    assert req.starts_at.astimezone(dt.timezone.utc) == dt.datetime(2021, 6, 6, 22, 30, tzinfo=dt.timezone.utc)
    assert req.held_on == dt.date(2021, 6, 7)
    assert req.publish_at.astimezone(dt.timezone.utc).hour == 7  # 09:00 CEST


def test_unreadable_files(tmp_path, inputs):
    (tmp_path / "bad.toml").write_text("title = \n")
    with pytest.raises(ImportRejected, match=r"^description bad.toml: not valid TOML"):
        describe.load(tmp_path / "bad.toml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ImportRejected, match=r"^description bad.json: not valid JSON"):
        describe.load(tmp_path / "bad.json")
    (tmp_path / "w.yaml").write_text("title: x")
    with pytest.raises(ImportRejected, match=r"name a \.toml or \.json file"):
        describe.load(tmp_path / "w.yaml")


def test_slugs():
    assert slugify("Ana Müller") == "ana-muller"
    assert slugify("  Open   data! ") == "open-data"
    assert slugify("王小明") == "王小明"


# -- into the catalog ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_description_round_trip(archive_on, inputs, tmp_path, fmt):
    path = write(tmp_path, realistic(tmp_path, inputs), fmt)
    w = import_webinar(archive_on, describe.load(path))
    w = _reload(archive_on, w.id)

    assert w.title == "Open data in practice"
    assert w.starts_at == dt.datetime(2021, 6, 7, 12, 0)  # 14:00 in Berlin, summer time
    assert w.local_start.isoformat() == "2021-06-07T14:00:00+02:00"
    assert (w.held_on, w.timezone, w.language) == (dt.date(2021, 6, 7), "Europe/Berlin", "en")
    assert (w.series.slug, w.series.title) == ("open-data", "Open data")
    assert [t.slug for t in w.tags] == ["cities", "open-data"]
    assert [sp.name for sp in w.speakers] == ["Ada Lovelace", "Grace Hopper", "Moderator Mo"]
    ada = w.speakers[0]
    assert (ada.slug, ada.organisation, ada.bio) == ("ada-lovelace", "Analytical Engines Ltd", "Writes *programs*.")
    assert ada.photo_key.startswith(f"speakers/{ada.id}/photo-") and ada.photo_key.endswith(".jpg")
    assert archive_on.store.head(ada.photo_key)["content_type"] == "image/jpeg"
    assert w.speakers[1].photo_key.endswith(".png") and w.speakers[2].photo_key is None

    first, second = w.presentations
    assert (first.title, first.start_seconds, [s.name for s in first.speakers]) == (
        "Why open data", 0, ["Ada Lovelace"])
    assert (second.start_seconds, [s.name for s in second.speakers]) == (2, ["Grace Hopper", "Ada Lovelace"])
    assert first.deck.kind == "slides" and first.deck.original_filename == "ada.pdf"
    assert second.deck.original_filename == "grace.pdf"
    assert {a.kind for a in w.assets} == {"recording", "slides", "captions"}
    with archive_on.catalog.session() as s:
        assert s.query(Job).count() == 4  # recording, two decks, captions


def test_manifest_holds_the_structure(archive, inputs, tmp_path):
    w = import_webinar(archive, describe.load(write(tmp_path, realistic(tmp_path, inputs,
                                                                        publish_at="2021-06-10T09:00"))))
    m = json.loads(archive.store.get_bytes(f"webinars/{w.id}/manifest.json"))
    assert m["format"] == 3
    assert (m["starts_at"], m["timezone"], m["held_on"], m["language"]) == (
        "2021-06-07T12:00:00Z", "Europe/Berlin", "2021-06-07", "en")
    assert m["publish_at"] == "2021-06-10T07:00:00Z"
    assert m["series"]["slug"] == "open-data"
    assert [{k: t[k] for k in ("slug", "name")} for t in m["tags"]] == [{"slug": "cities", "name": "cities"},
                                                                {"slug": "open-data", "name": "open data"}]
    by_id = {sp["id"]: sp for sp in m["speakers"]}
    assert [sp["name"] for sp in m["speakers"]] == ["Ada Lovelace", "Grace Hopper", "Moderator Mo"]
    assert m["speakers"][0]["photo"]["key"] == w.speakers[0].photo_key
    decks = {a["id"]: a for a in m["assets"]}
    p1, p2 = m["presentations"]
    assert decks[p1["deck_asset_id"]]["original_filename"] == "ada.pdf"
    assert [by_id[i]["name"] for i in p2["speakers"]] == ["Grace Hopper", "Ada Lovelace"]
    assert (p1["start_seconds"], p2["start_seconds"]) == (0, 2)


def test_series_tags_and_speakers_are_shared_across_imports(archive, inputs, tmp_path):
    one = import_webinar(archive, describe.load(write(tmp_path / "a", realistic(tmp_path / "a", inputs))))
    doc = realistic(tmp_path / "b", inputs, title="Open data, part 2", tags=["Open Data", "transport"])
    doc["speakers"] = [{"name": "Ada Lovelace", "bio": "Now writes *compilers* too."}]
    doc["presentations"] = [{"title": "Again", "speakers": ["Ada Lovelace"], "slides": "ada.pdf", "start": 1}]
    two = import_webinar(archive, describe.load(write(tmp_path / "b", doc, "json")))
    assert _counts(archive)["Series"] == 1 and _counts(archive)["Speaker"] == 3
    with archive.catalog.session() as s:
        assert sorted(t.slug for t in s.scalars(select(Tag))) == ["cities", "open-data", "transport"]
        ada = s.scalars(select(Speaker).where(Speaker.slug == "ada-lovelace")).one()
        # Fields the second description gave replace the first's; the others stay.
        assert (ada.bio, ada.organisation) == ("Now writes *compilers* too.", "Analytical Engines Ltd")
        assert ada.photo_key is not None
        talks = s.scalars(select(WebinarSpeaker.webinar_id).where(WebinarSpeaker.speaker_id == ada.id)).all()
        assert sorted(talks) == sorted([one.id, two.id])
    assert _reload(archive, one.id).series.id == _reload(archive, two.id).series.id


def test_the_same_photo_twice_is_one_object(archive, inputs, tmp_path):
    for name in ("a", "b"):
        import_webinar(archive, describe.load(write(tmp_path / name, realistic(tmp_path / name, inputs,
                                                                                 title=f"Webinar {name}"))))
    assert len([k for k in archive.store.list_keys("speakers/") if "/photo-" in k]) == 2  # Ada's, Grace's


def _refused(archive, tmp_path, doc, message):
    with pytest.raises(ImportRejected, match=message):
        import_webinar(archive, describe.load(write(tmp_path, doc)))
    assert set(_counts(archive).values()) == {0}
    assert list(archive.store.list_keys("")) == []


def test_a_speaker_not_listed_is_refused_without_a_trace(archive, inputs, tmp_path):
    doc = realistic(tmp_path, inputs)
    doc["presentations"][1]["speakers"] = ["Grace Hopper", "Alan Turing"]
    _refused(archive, tmp_path, doc,
             r"^presentations\[2\] \('Open data in cities'\) names speaker 'Alan Turing', who is not in the list")


def test_two_presentations_with_one_deck_are_refused(archive, inputs, tmp_path):
    doc = realistic(tmp_path, inputs)
    doc["presentations"][1]["slides"] = "./ada.pdf"
    _refused(archive, tmp_path, doc, r"^slides ada.pdf: the same deck is given twice")


def test_a_start_after_the_end_is_refused(archive, inputs, tmp_path):
    doc = realistic(tmp_path, inputs)
    doc["presentations"][1]["start"] = "1:00:00"
    _refused(archive, tmp_path, doc, r"starts at 3600 s, after the end of the recording \(4 s\)")


def test_a_speaker_listed_twice_is_refused(archive, inputs, tmp_path):
    doc = realistic(tmp_path, inputs)
    doc["speakers"].append({"name": "ada  lovelace"})
    _refused(archive, tmp_path, doc, r"^speakers: 'ada  lovelace' is listed twice")


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("not an image"), r"^speaker 'Ada Lovelace' photo ada.jpg: not a readable image"),
    (lambda p: describe_inputs.photo(p, "GIF"), r"a GIF image; use JPEG, PNG or WebP"),
    (lambda p: describe_inputs.photo(p, size=(7000, 10)), r"7000x10 pixels, more than 6000 on a side"),
    (lambda p: p.write_bytes(describe_inputs.photo(p).read_bytes()[:300]), r"not a readable image"),
])
def test_bad_photos_are_refused(archive, inputs, tmp_path, make, message):
    doc = realistic(tmp_path, inputs)
    make(tmp_path / "ada.jpg")
    _refused(archive, tmp_path, doc, message)


def test_a_failure_after_upload_removes_new_photos_and_rows(archive, inputs, tmp_path, monkeypatch):
    """The manifest write fails (after the commit): the webinar, the speakers, series and
    tags it created and the objects it uploaded go again."""
    def fail(*_a, **_k):
        raise RuntimeError("bucket went away")

    monkeypatch.setattr(webinars, "write_manifest", fail)
    with pytest.raises(RuntimeError):
        import_webinar(archive, describe.load(write(tmp_path, realistic(tmp_path, inputs))))
    assert set(_counts(archive).values()) == {0}
    assert list(archive.store.list_keys("")) == []


def test_publish_at_hides_a_webinar_until_then(archive, inputs, tmp_path):
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    w = import_webinar(archive, describe.load(write(tmp_path, realistic(tmp_path, inputs, publish_at=later))))
    w = _reload(archive, w.id)
    assert not w.is_viewable() and not w.is_listed()
    assert w.is_viewable(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))
    with archive.catalog.session() as s:
        assert browse.webinars(s) == (0, [])
        assert [x.id for x in browse.webinars(s, now=w.publish_at)[1]] == [w.id]


def test_markdown_is_rendered_safe():
    html = render('# Hi *there*\n\n<script>alert(1)</script>\n\n<a href="javascript:alert(2)" onclick="x()">a</a> '
                  '[b](javascript:alert(3)) <img src="x" onerror="alert(4)"> <iframe src="https://e.test"></iframe>\n\n'
                  '[ok](https://example.org)')
    assert "<em>there</em>" in html
    assert "<script" not in html and "alert(1)" not in html
    assert "onclick" not in html and "onerror" not in html and "<iframe" not in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html


def test_the_demo_has_speakers_and_presentations(archive):
    from archive import demo

    w = _reload(archive, demo.create_demo(archive, duration=6).id)
    assert [sp.name for sp in w.speakers] == ["Ana Müller", "Tomás Rivera"]
    assert all(sp.photo_key for sp in w.speakers)
    assert [(p.title, p.start_seconds, p.deck.original_filename) for p in w.presentations] == [
        ("Opening", 0, "Opening – Ana Müller.pdf"), ("Storage deep dive", 3, "Storage deep dive.pdf")]
    assert (w.series.title, w.language, w.local_start.isoformat()) == (
        "Archive demos", "en", "2026-11-02T15:00:00+01:00")
    assert demo.existing(archive).id == w.id
