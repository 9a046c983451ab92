"""Test inputs generated with ffmpeg's lavfi sources and the project's PDF writer."""
from __future__ import annotations

import subprocess
from pathlib import Path

from archive.pdfgen import write_deck


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


def make_inputs(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    p = {name: d / name for name in (
        "h264_aac.mp4", "vp9_opus.webm", "audio.m4a", "deck.pdf", "not_media.mp4", "empty.mp4",
        "truncated.mp4", "not_a_pdf.pdf", "hls_playlist.mp4")}
    video = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4",
             "-f", "lavfi", "-i", "sine=f=440:d=4:sample_rate=44100"]
    ffmpeg(*video, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(p["h264_aac.mp4"]))
    ffmpeg(*video, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "200k",
           "-c:a", "libopus", "-shortest", str(p["vp9_opus.webm"]))
    ffmpeg("-f", "lavfi", "-i", "sine=f=330:d=4", "-c:a", "aac", str(p["audio.m4a"]))
    write_deck(p["deck.pdf"], "Test deck", [
        ("First slide", ["Alpha point", "Beta point"]),
        ("Second slide", ["Gamma"]),
        ("Third slide", ["Delta", "Epsilon"]),
    ])
    p["not_media.mp4"].write_text("This is a text file, not a recording.\n")
    p["empty.mp4"].write_bytes(b"")
    # An MP4 whose moov atom sits at the end, cut in half: what an aborted upload leaves.
    full = d / "full-moov-at-end.mp4"
    ffmpeg(*video, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(full))
    data = full.read_bytes()
    p["truncated.mp4"].write_bytes(data[: len(data) // 2])
    p["not_a_pdf.pdf"].write_text("<html><body>Not a PDF</body></html>\n")
    p["hls_playlist.mp4"].write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
                                     "http://127.0.0.1:9/segment.ts\n#EXT-X-ENDLIST\n")
    return p
