"""Reading a folder, a Zoom cloud-recording download among others, as one webinar."""
from __future__ import annotations

import datetime as dt

import pytest

from archive.folder import FolderRejected, read_folder


def _touch(folder, name, size=10):
    (folder / name).write_bytes(b"x" * size)


def test_a_zoom_cloud_recording_download(tmp_path):
    d = tmp_path / "Open data in practice"
    d.mkdir()
    for name, size in [("GMT20230607-140012_Recording_gallery_1920x1080.mp4", 900),
                       ("GMT20230607-140012_Recording_as_1920x1080.mp4", 500),
                       ("GMT20230607-140012_Recording_shared_screen_with_speaker_view_1920x1080.mp4", 700),
                       ("GMT20230607-140012_Recording.m4a", 100),
                       ("GMT20230607-140012_Recording.transcript.vtt", 10),
                       ("GMT20230607-140012_RecordingnewChat.txt", 10),
                       ("slides.pdf", 10), ("Thumbs.db", 1), (".DS_Store", 1)]:
        _touch(d, name, size)
    got = read_folder(d)
    assert got.title == "Open data in practice"
    assert got.recording.name.endswith("shared_screen_with_speaker_view_1920x1080.mp4")
    assert [p.name for p in got.slides] == ["slides.pdf"]
    assert [(lang, p.name) for lang, p in got.captions] == [("en", "GMT20230607-140012_Recording.transcript.vtt")]
    assert got.starts_at == dt.datetime(2023, 6, 7, 14, 0, 12) and got.held_on == dt.date(2023, 6, 7)
    skipped = "\n".join(got.skipped)
    assert "RecordingnewChat.txt: the chat is not published" in skipped
    assert "Recording.m4a: the audio is made from the video" in skipped
    assert "gallery_1920x1080.mp4: another view" in skipped and "Thumbs.db" in skipped
    assert ".DS_Store" not in skipped


def test_a_local_zoom_recording_and_languages(tmp_path):
    d = tmp_path / "2021-06-07 14.00.00 Cities and their data 87654321012"
    d.mkdir()
    for name in ("audio_only.m4a", "talk.de.srt", "talk.vtt", "deck.pptx", "webinar.toml"):
        _touch(d, name)
    got = read_folder(d)
    assert got.title == "Cities and their data"
    assert got.recording.name == "audio_only.m4a"
    assert sorted(lang for lang, _ in got.captions) == ["de", "en"]
    assert got.description.name == "webinar.toml" and got.starts_at is None


def test_a_folder_with_nothing_to_publish_is_refused(tmp_path):
    _touch(tmp_path, "notes.txt")
    with pytest.raises(FolderRejected, match="no recording and no slides"):
        read_folder(tmp_path)
    with pytest.raises(FolderRejected, match="not a folder"):
        read_folder(tmp_path / "missing")
