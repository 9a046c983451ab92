"""Reading a folder, a Zoom cloud-recording download among others, as one webinar."""
from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest

from archive.folder import FolderRejected, folder_request, read_folder
from archive.intake import ImportRejected

from .describe_inputs import VTT, toml_dumps


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


@pytest.mark.parametrize("name, field", [("talk.mp4", "recording"), ("deck.pdf", "slides"),
                                         ("talk.de.vtt", "captions.de"), ("webinar.toml", "description")])
def test_a_link_out_of_the_folder_is_refused(tmp_path, name, field):
    """A folder may come from elsewhere: a file in it that is a symlink to a file outside is
    refused, with the field it would fill, not read."""
    secret = tmp_path / "secret"
    secret.mkdir()
    _touch(secret, name)
    d = tmp_path / "talk"
    d.mkdir()
    _touch(d, "other.mp4" if name != "talk.mp4" else "deck.pdf")
    (d / name).symlink_to(secret / name)
    with pytest.raises(ImportRejected, match=rf"^{re.escape(field)}: '{re.escape(name)}' is a link that leads "
                                             "out of the folder"):
        read_folder(d)
    (d / name).unlink()
    (d / "inside").mkdir()
    _touch(d / "inside", name)
    (d / name).symlink_to(d / "inside" / name)  # a link to a file in the folder is fine
    assert read_folder(d).title == "talk"


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_folders_description_reads_only_files_in_the_folder(tmp_path, inputs, how):
    """webinar.toml in a folder names its files relative to the folder, and only those."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "outside.vtt").write_text(VTT, encoding="utf-8")
    d = tmp_path / "talk"
    d.mkdir()
    shutil.copyfile(inputs["h264_aac.mp4"], d / "talk.mp4")
    named = {"absolute": str(secret / "outside.vtt"), "dotdot": "../secret/outside.vtt",
             "symlink": "linked.vtt.txt"}[how]
    if how == "symlink":  # not a caption file by its name: only the description reads it
        (d / named).symlink_to(secret / "outside.vtt")
    (d / "webinar.toml").write_text(toml_dumps({"title": "Talk", "captions": {"en": named}}), encoding="utf-8")
    reason = {"absolute": "is an absolute path", "dotdot": "leads out of the folder",
              "symlink": "is a link that leads out of the folder"}[how]
    with pytest.raises(ImportRejected, match=rf"^captions\.en: {re.escape(repr(named))} {reason}"):
        folder_request(d)
    (d / "webinar.toml").write_text(toml_dumps({"title": "Talk"}), encoding="utf-8")
    req, _ = folder_request(d)  # the folder's own files, as before
    assert (req.title, req.recording, req.captions) == ("Talk", d / "talk.mp4", [])
