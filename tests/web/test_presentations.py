"""A webinar described with speakers and presentations: each deck shows its talk, its
speakers and where it starts; the player gets the talks as chapters; the description is
Markdown, sanitised."""
from __future__ import annotations

from archive import describe
from archive.importer import import_webinar

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
