"""A webinar described with speakers and presentations: each deck shows its talk, its
speakers and where it starts; the player gets the talks as chapters; the description is
Markdown, sanitised."""
from __future__ import annotations

import re

import pytest

from archive import describe
from archive.importer import ImportRejected, import_webinar

from ..archive.describe_inputs import realistic, write


def test_presentations_show_their_speakers_start_and_chapters(archive, worker, client, inputs, tmp_path):
    doc = realistic(tmp_path / "w", inputs,
                    description="Markdown *here* <script>alert(1)</script> [x](javascript:alert(1))")
    w = import_webinar(archive, describe.load(write(tmp_path / "w", doc)))
    worker.run_until_idle()
    html = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert "<em>here</em>" in html and "<script>alert" not in html and 'href="javascript:' not in html
    assert 'property="og:description" content="Markdown here ' in html  # previews get plain text
    assert '<h2>Open data in cities</h2>' in html
    assert "Grace Hopper <span class=\"org\">(Navy)</span>" in html
    assert 'href="?t=2" data-seek="2.0">starts at 0:02</a>' in html
    assert f'<track kind="chapters" srclang="en" label="Chapters" default src="/webinars/{w.id}/chapters.vtt">' in html
    vtt = client.get(f"/webinars/{w.id}/chapters.vtt").get_data(as_text=True)
    assert vtt.startswith("WEBVTT") and "00:00:00.000 --> 00:00:02.000\nWhy open data – Ada Lovelace" in vtt
    assert "00:00:02.000 --> 00:00:04." in vtt and "Open data in cities – Grace Hopper, Ada Lovelace" in vtt
    de = client.get(f"/webinars/{w.id}?lang=de").get_data(as_text=True)
    assert "beginnt bei 0:02" in de


def test_slide_times_make_every_timed_page_a_jump_into_the_recording(archive, worker, client, inputs, tmp_path):
    doc = realistic(tmp_path / "w", inputs)
    doc["presentations"][0]["slide_times"] = ["0:01", "0:03"]  # Ada's two pages; her talk starts at 0:00
    w = import_webinar(archive, describe.load(write(tmp_path / "w", doc)))
    worker.run_until_idle()
    ada, grace = (p.deck_asset_id for p in sorted(w.presentations, key=lambda p: p.position))
    html = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    # the deck's own times win over its presentation's start; Grace's first page has her start
    assert f'id="deck-{ada}" data-deck="{ada}" data-count="2"' in html
    assert 'data-times="[1.0, 3.0]"' in html and 'data-times="[2.0]"' in html
    assert 'data-page="1" aria-label="Slide 1, at 0:01" data-time="1.0"' in html
    assert 'data-page="2" aria-label="Slide 2, at 0:03" data-time="3.0"' in html
    assert '<button type="button" class="tool page-seek" data-label="Play from {time}" data-seek="1.0">Play from 0:01</button>' in html
    assert client.get(f"/webinars/{w.id}?lang=fr").get_data(as_text=True).count("Diapositive 2, à 0:03") == 1


def test_slide_times_are_checked_on_import(archive, tmp_path, inputs):
    for times, says in ((["0:05", "0:02"], "slide times must be in the recording and in page order"),
                        (["soon"], "presentations[2].slide_times[1]: 'soon' is not a time"),
                        ("0:05", "presentations[2].slide_times: expected a list of times")):
        doc = realistic(tmp_path / "w", inputs)
        doc["presentations"][1]["slide_times"] = times
        with pytest.raises(ImportRejected, match=re.escape(says)):
            import_webinar(archive, describe.load(write(tmp_path / "w", doc)))
    doc = realistic(tmp_path / "w", inputs, recording=None, captions=None)
    for p in doc["presentations"]:
        p.pop("start")
    doc["presentations"][1]["slide_times"] = ["0:00"]
    with pytest.raises(ImportRejected, match="has slide times but no recording"):
        import_webinar(archive, describe.load(write(tmp_path / "w", doc)))
