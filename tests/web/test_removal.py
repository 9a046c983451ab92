"""Deleting and replacing through HTTP: the staff confirmation page, refusal without a
confirmation, what visitors are served before and after, and `webinar-archive delete`."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from archive import uploads
from archive.importer import ImportRequest, PresentationInput, SpeakerInput, import_webinar
from archive.models import Asset, Webinar
from archive.worker import Worker

from ..helpers import put_part, reload
from ..staff import signed_in_fixture, staff_app_fixture  # noqa: F401 (fixtures)


@pytest.fixture
def processed(archive, inputs):
    """A public webinar with a recording and a presentation's deck, processed."""
    w = import_webinar(archive, ImportRequest(
        title="Talk: to be deleted", recording=inputs["h264_aac.mp4"], speakers=[SpeakerInput("Ann")],
        presentations=[PresentationInput("Opening", speakers=["Ann"], slides=inputs["deck.pdf"], start=0)]))
    Worker(archive, "w").run_until_idle()
    return reload(archive, w.id)


def _media_urls(client, webinar_id: str) -> list[str]:
    """Every media and download link of the public page (and the playlist)."""
    html = client.get(f"/webinars/{webinar_id}").get_data(as_text=True)
    urls = sorted(set(re.findall(rf'(?:src|href)="(/webinars/{webinar_id}/[^"#?]+)', html)))
    return [u for u in urls if u != f"/webinars/{webinar_id}"]


def test_deleting_asks_first_and_then_removes_everything(client, archive, processed):
    w = processed
    page = client.get(f"/staff/webinars/{w.id}").get_data(as_text=True)
    assert f'href="/staff/webinars/{w.id}/delete"' in page
    r = client.get(f"/staff/webinars/{w.id}/delete")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    n_objects = len(list(archive.store.list_keys(w.prefix)))
    assert "<strong>2</strong> files" in html and f"<strong>{n_objects}</strong> stored objects" in html
    assert "<strong>0</strong> running jobs" in html and 'name="confirm_title"' in html

    media = _media_urls(client, w.id)
    assert any("/recording/" in u for u in media) and any("/slides/" in u for u in media)
    assert all(client.get(u).status_code in (200, 302) for u in media)

    # No confirmation, or the wrong title: the form again with a message, nothing deleted.
    for typed in ("", "Talk"):
        r = client.post(f"/staff/webinars/{w.id}/delete", data={"confirm_title": typed})
        assert r.status_code == 200 and "nothing was deleted" in r.get_data(as_text=True).lower()
        assert 'name="confirm_title"' in r.get_data(as_text=True)
        assert reload(archive, w.id) is not None
    assert client.get(f"/webinars/{w.id}").status_code == 200

    r = client.post(f"/staff/webinars/{w.id}/delete", data={"confirm_title": " Talk: to be deleted "})
    assert (r.status_code, r.location) == (302, "/staff/")
    assert "“Talk: to be deleted” was deleted with its 2 file(s)." in client.get("/staff/").get_data(as_text=True)
    assert reload(archive, w.id) is None and list(archive.store.list_keys(w.prefix)) == []
    assert client.get(f"/webinars/{w.id}").status_code == 404
    assert [u for u in media if client.get(u).status_code != 404] == []
    assert client.get(f"/api/webinars/{w.id}").status_code == 404
    assert client.get(f"/staff/webinars/{w.id}/delete").status_code == 404


def test_a_file_is_removed_only_with_the_box_ticked(client, archive, processed):
    w = processed
    deck = w.decks[0]
    page = client.get(f"/staff/webinars/{w.id}").get_data(as_text=True)
    url = f"/staff/webinars/{w.id}/files/{deck.id}/remove"
    assert f'action="{url}"' in page and f'/staff/webinars/{w.id}/upload?replace={deck.id}' in page
    r = client.post(url, data={})
    assert r.status_code == 302
    assert "was not removed: tick the box" in client.get(r.location).get_data(as_text=True)
    assert [d.id for d in reload(archive, w.id).decks] == [deck.id]
    r = client.post(url, data={"confirm": "yes"})
    assert r.status_code == 302
    assert f"{deck.original_filename} was removed." in client.get(r.location).get_data(as_text=True)
    w = reload(archive, w.id)
    assert w.decks == [] and w.presentations[0].deck_asset_id is None
    assert list(archive.store.list_keys(deck.derived_prefix)) == []
    assert client.get(f"/webinars/{w.id}/slides/{deck.id}/download").status_code == 404
    assert client.get(f"/webinars/{w.id}").status_code == 200
    assert client.post(url, data={"confirm": "yes"}).status_code == 404


def _upload(client, webinar_id: str, path: Path, kind: str, replaces: str | None = None) -> str:
    data = path.read_bytes()
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": kind, "filename": path.name,
                                            "size": len(data), **({"replaces": replaces} if replaces else {})})
    assert r.status_code == 201, r.json
    upload_id = r.json["uploadId"]
    etag = put_part(client.post(f"/staff/uploads/{upload_id}/parts/1").json["url"], data)
    r = client.post(f"/staff/uploads/{upload_id}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    assert r.status_code == 202, r.json
    archive = client.application.extensions["archive"]
    assert Worker(archive, "checker").run_once(kinds={uploads.CHECK_KIND})  # what a worker does first
    return upload_id


def test_a_replaced_recording_is_served_until_the_new_one_is_processed(client, archive, processed, inputs):
    w = processed
    old = w.recording
    page = client.get(f"/staff/webinars/{w.id}/upload?replace={old.id}").get_data(as_text=True)
    assert f"Replacing {old.original_filename}" in page and f'data-replaces="{old.id}"' in page
    assert client.get(f"/staff/webinars/{w.id}/upload?replace=nosuchfile").status_code == 404
    r = client.post("/staff/uploads", json={"webinar": w.id, "kind": "slides", "filename": "x.pdf", "size": 10,
                                            "replaces": old.id})
    assert r.status_code == 422 and "the file to replace" in r.json["error"]

    new_id = _upload(client, w.id, inputs["vp9_opus.webm"], "recording", replaces=old.id)
    old_media = [u for u in _media_urls(client, w.id) if f"/recording/{old.id}/" in u]
    assert old_media and all(client.get(u).status_code in (200, 302) for u in old_media)
    html = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert new_id not in html and "vp9_opus.webm" not in html  # hidden until processed
    assert client.get(f"/webinars/{w.id}/recording/{new_id}/hls/master.m3u8").status_code == 404
    api = client.get(f"/api/webinars/{w.id}").get_json()
    assert [a["id"] for a in api["assets"]] == [a.id for a in w.assets] and api["status"] == "ready"
    staff = client.get(f"/staff/webinars/{w.id}").get_data(as_text=True)
    assert "vp9_opus.webm" in staff and "Replaces another file once processed" in staff

    Worker(archive, "w").run_until_idle()
    assert client.get(f"/webinars/{w.id}/recording/{new_id}/hls/master.m3u8").status_code == 200
    # A settled page is rendered at most once per PAGE_CACHE_SECONDS (2 s); processing can
    # be quicker than that here, so the page of a moment ago is let go, as time would.
    client.application.extensions["webinar_pages"].clear()
    assert new_id in client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert [client.get(u).status_code for u in old_media] == [404] * len(old_media)
    with archive.catalog.session() as s:
        assert s.get(Asset, old.id) is None
    assert list(archive.store.list_keys(old.derived_prefix)) == []
    assert archive.store.head(old.original_key) is None
    assert [a["id"] for a in client.get(f"/api/webinars/{w.id}").get_json()["assets"] if a["kind"] == "recording"] \
        == [new_id]


def test_the_delete_command_asks_unless_told_yes(archive, processed, minio, tmp_path, monkeypatch, capsys):
    from web.cli import main

    from ..services import use_archive_env

    use_archive_env(monkeypatch, minio, tmp_path, archive)
    w = processed

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal, no --yes
    assert main(["delete", w.id]) == 2
    assert "not confirmed" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    assert main(["delete", w.id]) == 2
    assert reload(archive, w.id) is not None
    monkeypatch.setattr("sys.stdin", Terminal(w.id + "\n"))
    assert main(["delete", w.id]) == 0
    out = capsys.readouterr().out
    assert "Talk: to be deleted" in out and "2 file(s)" in out and f"deleted {w.id}" in out
    assert reload(archive, w.id) is None and list(archive.store.list_keys(w.prefix)) == []
    assert main(["delete", w.id, "--yes"]) == 2
    with archive.catalog.session() as s:
        assert s.scalar(select(Webinar.id).where(Webinar.id == w.id)) is None
