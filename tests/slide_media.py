"""A talk whose video frames ARE the pages of its deck, shown on a known schedule: any
reasonable alignment finds the pages and their times. Small (14 s, 960x540, 10 fps)."""
from __future__ import annotations

from pathlib import Path

import pypdfium2

from archive import pipeline
from archive.pdfgen import write_deck
from archive.worker import Worker

from .media_inputs import ffmpeg

# (start, end, page): page 2 is shown again after page 3; page 4 runs to the end.
SCHEDULE = [(0.0, 3.0, 1), (3.0, 6.0, 2), (6.0, 9.0, 3), (9.0, 11.0, 2), (11.0, 14.0, 4)]
DURATION = SCHEDULE[-1][1]
# Each page's body fills a different stretch of the page with dense lines, so that a change
# of page changes much of the picture (as a real deck's pictures and charts do).
_DENSE = "WWMMWWMMWWMMWWMMWWMMWWMMWWMMWWMMWW"
PAGE_TEXTS = [("Welcome", ["Open data in practice"]),
              ("Why open data", ["Cities publish budgets", _DENSE, _DENSE]),
              ("Marmoset results", ["Three findings", "", "", _DENSE, _DENSE, _DENSE]),
              ("Thanks", ["Questions welcome", _DENSE, "", "", _DENSE, _DENSE])]


def make_synced_talk(d: Path) -> tuple[Path, Path, Path]:
    """(deck.pdf, talk.mp4, another deck.pdf: none of its pages is in the talk)."""
    d.mkdir(parents=True, exist_ok=True)
    deck = write_deck(d / "synced deck.pdf", "Synced deck", PAGE_TEXTS)
    pdf = pypdfium2.PdfDocument(str(deck))
    try:
        for n in range(len(pdf)):
            page = pdf[n]
            page.render(scale=960 / page.get_width()).to_pil().convert("RGB").resize((960, 540)).save(d / f"p{n + 1}.png")
    finally:
        pdf.close()
    lines = []
    for start, end, page in SCHEDULE:
        lines += [f"file 'p{page}.png'", f"duration {end - start}"]
    lines.append(f"file 'p{SCHEDULE[-1][2]}.png'")  # the concat demuxer drops the last duration without it
    (d / "schedule.txt").write_text("\n".join(lines) + "\n")
    talk = d / "synced talk.mp4"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(d / "schedule.txt"),
           "-f", "lavfi", "-i", f"sine=f=440:d={DURATION}",
           "-vf", "fps=10,format=yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10",
           "-c:a", "aac", "-t", str(DURATION), "-shortest", str(talk))
    other = write_deck(d / "other deck.pdf", "Other deck", [("Elsewhere", ["Not in this talk"]), ("Later", ["No"])])
    return deck, talk, other


# Jobs the slide tests do not need: what follows them needs neither.
NOT_NEEDED = frozenset({"recording_renditions", "slides_bundle"})


def process(archive, name: str = "slides-worker") -> None:
    """Run every waiting job the alignment needs (the renditions and the ZIP are left queued)."""
    worker = Worker(archive, name)
    while worker.run_once(kinds=set(pipeline.GRAPH) - NOT_NEEDED):
        pass
