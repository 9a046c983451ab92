"""Automatic captions: how well and how fast, from one command.

    .venv/bin/python bench/transcribe.py              # about 6 minutes of speech for the speed
    .venv/bin/python bench/transcribe.py --minutes 10

Speech with known text: Debian's espeak-ng reads paragraphs full of the terms of a real
deck written by others (Beamer's user guide, from texlive-latex-recommended-doc, fetched
with apt-get download and unpacked into the cache), mixed with room noise (pink noise and
a hum, 20 dB below the voice). A real human voice: LibriVox readings that Debian's
pocketsphinx-testdata ships with their transcripts. It prints, in one run:

- word error rate with and without the deck-aware prompt (archive/speech.py builds it from
  the deck's text as the `transcribe` job does), per set of paragraphs, and their ratio;
- the share of the deck's terms recognised, with and without the prompt;
- word start times against the synthesized ones (median and p90 error);
- the real-time factor on this machine (the model as the worker runs it: int8, VAD on,
  the prompt) measured on --minutes of talk and extrapolated to 60 minutes, and the
  process's peak memory (the worker holds the same model).

Word times of the synthesized speech: each paragraph is also synthesized prefix by prefix
(its first k words), and word k+1 starts where the prefix's speech ends.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive import speech  # noqa: E402
from archive.config import Settings  # noqa: E402

RATE = 16000
CACHE = Path(os.environ.get("WEBINAR_ARCHIVE_CACHE") or Path.home() / ".cache" / "webinar-archive")
BEAMER = "usr/share/doc/texlive-doc/latex/beamer/"
LECTURE = BEAMER + "beamerexample-lecture-print-version.pdf"  # a real Beamer deck (German, 8 pages)
GUIDE = BEAMER + "beameruserguide.pdf"
LIBRIVOX = "usr/share/pocketsphinx/test/data/librivox"

# Deck-heavy paragraphs for the lecture deck (German): its terms, as its speaker would say them.
LECTURE_PARAGRAPHS = [
    "Heute geht es um Syntax und Semantik. Die Syntax legt fest, nach welchen Regeln Worte gebaut "
    "werden, die Semantik legt fest, was sie bedeuten.",
    "Schauen wir uns Hieroglyphen und einen kyrillischen Text an. Wir verstehen den Inhalt nicht, "
    "aber wir erkennen syntaktische Regeln.",
    "In der Medieninformatik erzeugt ein Renderer aus einer Szenerie dreidimensionale Bilder. "
    "In der Bioinformatik untersucht man Proteine und Basensequenzen.",
    "Eine formale Sprache ist eine Menge von Worten über einem Alphabet. Die Vorlesung Logik für "
    "Informatiker hält Till Tantau in Lübeck.",
]
LECTURE_TERMS = ["Syntax", "Semantik", "Hieroglyphen", "kyrillischen", "syntaktische", "Medieninformatik",
                 "Renderer", "Szenerie", "Bioinformatik", "Proteine", "Basensequenzen", "Alphabet",
                 "Informatiker", "Tantau", "Lübeck"]
# Deck-heavy paragraphs for the user guide (English): its terms (each is in its text).
DECK_PARAGRAPHS = [
    "In Beamer every slide is a frame. You start with documentclass beamer, then give each frame "
    "a frametitle and, if you like, a framesubtitle. Inside a frame, itemize and enumerate work as in LaTeX.",
    "Overlays are the heart of Beamer. With onslide you choose on which slides a part appears, and "
    "the overlay specification gives the exact numbers. The pause command uncovers the next item.",
    "The aspect ratio is set with the aspectratio option. Pictures come in with includegraphics, "
    "or with pgfdeclareimage and pgfuseimage from the PGF package by Till Tantau.",
    "Themes change the look. With setbeamertemplate you redefine a template, setbeamercolor changes "
    "a colour, and usecolortheme picks a whole colour theme. The sidebar holds the navigation symbols.",
]
TERMS = ["Beamer", "documentclass", "frametitle", "framesubtitle", "itemize", "enumerate", "LaTeX",
         "onslide", "aspectratio", "includegraphics", "pgfdeclareimage", "pgfuseimage", "PGF",
         "Tantau", "setbeamertemplate", "setbeamercolor", "usecolortheme", "sidebar"]
GENERAL_PARAGRAPHS = [
    "Thank you all for coming today. Before we start, let me say a few words about why good slides "
    "matter, and how a clear structure helps your audience to follow along.",
    "After the break we will look at three examples from real conferences, and then there is time "
    "for your questions. Please use the microphone so that everyone can hear you.",
]


def say(*cmd: str) -> None:
    print("$", " ".join(cmd), file=sys.stderr)


def fetch_deb(package: str, into: Path) -> Path:
    """A Debian package's files, unpacked into the cache (apt-get download, dpkg -x)."""
    root = into / "x"
    if root.is_dir():
        return root
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=into, check=True, capture_output=True)
    [deb] = into.glob(f"{package}_*.deb")
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def deck_texts(path: str) -> list[str]:
    import pypdfium2

    root = fetch_deb("texlive-latex-recommended-doc", CACHE / "bench" / "texlive")
    pdf = pypdfium2.PdfDocument(str(root / path))
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def librivox() -> list[tuple[np.ndarray, str]]:
    root = fetch_deb("pocketsphinx-testdata", CACHE / "bench" / "ps") / LIBRIVOX
    out = []
    for line in (root / "transcription").read_text().splitlines():
        m = re.match(r"<s>(.*)</s>\s*\((\S+)\)", line)
        if m:
            out.append((read_wav(root / f"{m.group(2)}.wav"), m.group(1).strip()))
    return out


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def espeak(text: str, tmp: Path, voice: str = "en-us") -> np.ndarray:
    raw = tmp / "e.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "155", "-w", str(raw), text], check=True)
    out = tmp / "e16.wav"
    subprocess.run(["sox", "-q", "-V1", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)], check=True)
    return read_wav(out)


def speech_end(samples: np.ndarray) -> float:
    """Where the voice ends (espeak-ng pads its output with silence)."""
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return (loud[-1] + 1) / RATE if loud.size else 0.0


def synthesize(text: str, tmp: Path, voice: str = "en-us") -> tuple[np.ndarray, list[tuple[str, float]]]:
    """The paragraph's samples and each word's start (seconds), from prefix syntheses."""
    words = text.split()
    audio = espeak(text, tmp, voice)
    starts = [0.0]
    for k in range(1, len(words)):
        end = speech_end(espeak(" ".join(words[:k]), tmp, voice))
        starts.append(end)
    lead = np.flatnonzero(np.abs(audio) > 0.01)
    first = lead[0] / RATE if lead.size else 0.0
    starts[0] = first
    return audio, list(zip(words, starts))


def room(n: int, seed: int) -> np.ndarray:
    """Pink noise and a 50 Hz hum."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    pink = np.fft.irfft(spectrum, n)
    hum = np.sin(2 * np.pi * 50 * np.arange(n) / RATE)
    noise = pink / (np.std(pink) + 1e-9) + 0.3 * hum
    return noise.astype(np.float32)


def mix(voice: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    pad = np.zeros(int(0.8 * RATE), dtype=np.float32)
    voice = np.concatenate([pad, voice, pad])
    noise = room(voice.size, seed)
    level = np.sqrt(np.mean(voice[np.abs(voice) > 0.01] ** 2)) / (10 ** (snr_db / 20))
    return np.clip(voice + noise * level, -1, 1).astype(np.float32)


def words_of(text: str) -> list[str]:
    return speech.fold(re.sub(r"[^\w\s]", " ", text)).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(pairs: list[tuple[str, str]]) -> float:
    errors = sum(edit_distance(words_of(r), words_of(h)) for r, h in pairs)
    return errors / max(1, sum(len(words_of(r)) for r, _ in pairs))


def terms_recognised(pairs: list[tuple[str, str]], terms: list[str]) -> tuple[int, int]:
    found = total = 0
    for ref, hyp in pairs:
        ref_words, hyp_words = words_of(ref), words_of(hyp)
        for term in terms:
            t = speech.fold(term)
            n = ref_words.count(t)
            total += n
            found += min(n, hyp_words.count(t))
    return found, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=6.0, help="talk length for the speed measurement")
    ap.add_argument("--model", help="model (default: WEBINAR_ARCHIVE_TRANSCRIBE_MODEL, else scripts' Whisper base)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    for tool in ("espeak-ng", "sox", "apt-get", "dpkg"):
        if shutil.which(tool) is None:
            print(f"needs {tool} (Debian: apt-get install espeak-ng sox)", file=sys.stderr)
            return 2
    setting = args.model or Settings.from_env().transcribe_model
    if setting in ("base", "off"):
        setting = str(CACHE / "whisper-base-ct2")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}  cores: {os.cpu_count()}")
    t = time.perf_counter()
    model = speech.recognizer(setting, args.threads)
    print(f"model {setting}: checked and loaded in {time.perf_counter() - t:.1f} s")
    sets = []  # (name, voice, language, paragraphs, terms, prompt)
    for name, path, voice, lang, paragraphs, terms, title in (
            ("lecture deck (de)", LECTURE, "de", "de", LECTURE_PARAGRAPHS, LECTURE_TERMS, "Syntax versus Semantik"),
            ("user guide (en)", GUIDE, "en-us", "en", DECK_PARAGRAPHS, TERMS, "The beamer class")):
        texts = deck_texts(path)
        vocab = speech.vocabulary(texts, model.rarity)
        prompt = speech.prompt(["Till Tantau"], vocab, title)
        in_prompt = [t for t in terms if any(speech.fold(t) == speech.fold(v) for v in vocab)]
        print(f"{name}: {path.rsplit('/', 1)[-1]}, {len(texts)} pages; {len(vocab)} words in the prompt, "
              f"{len(in_prompt)} of the {len(terms)} scored terms among them")
        print(f"  prompt: {prompt}")
        sets.append((name, voice, lang, paragraphs, terms, prompt))
    sets.append(("general (en)", "en-us", "en", GENERAL_PARAGRAPHS, [], sets[-1][5]))

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        timing_errors: list[float] = []
        for name, voice, lang, paragraphs, terms, prompt in sets:
            results: dict[str, list] = {"without": [], "with": []}
            for i, text in enumerate(paragraphs):
                voice_samples, starts = synthesize(text, tmp, voice)
                audio = mix(voice_samples, 20.0, seed=i)
                for mode, p in (("without", None), ("with", prompt)):
                    heard, _ = model.transcribe(audio, lang, p)
                    results[mode].append((text, " ".join(w.text for w in heard)))
                    if mode == "with":
                        timing_errors += align_errors(starts, heard, offset=0.8)
            w0, w1 = wer(results["without"]), wer(results["with"])
            line = f"{name:18s} WER without prompt {w0 * 100:5.1f} %, with {w1 * 100:5.1f} %, ratio {w1 / w0 if w0 else float('nan'):.2f}"
            if terms:
                f0, total = terms_recognised(results["without"], terms)
                f1, _ = terms_recognised(results["with"], terms)
                line += f"; deck terms recognised {f0}/{total} = {f0 / total * 100:.0f} % without, {f1}/{total} = {f1 / total * 100:.0f} % with"
            print(line)
            if os.environ.get("BENCH_SHOW"):
                for mode, pairs in results.items():
                    for ref, hyp in pairs:
                        print(f"  {mode:7s} | {hyp}")
        print("targets: deck terms >= 90 % with the prompt; WER with <= 0.5 x without on deck-heavy paragraphs")
        if timing_errors:
            timing_errors.sort()
            print(f"word start error vs synthesized: median {statistics.median(timing_errors):.2f} s, "
                  f"p90 {timing_errors[int(0.9 * (len(timing_errors) - 1))]:.2f} s over {len(timing_errors)} words "
                  f"(target median <= 0.3 s)")
        prompt = sets[1][5]

        human = librivox()
        pairs = [(ref, " ".join(w.text for w in model.transcribe(a, "en", None)[0])) for a, ref in human]
        print(f"human voice (LibriVox, pocketsphinx-testdata, {len(human)} clips, "
              f"{sum(a.size for a, _ in human) / RATE:.0f} s): WER {wer(pairs) * 100:.1f} %")

        # Speed: a talk of --minutes, the paragraphs in turn with pauses between them.
        talk, seconds, i = [], 0.0, 0
        pieces = [mix(synthesize(t, tmp)[0], 20.0, seed=k) for k, t in enumerate(DECK_PARAGRAPHS + GENERAL_PARAGRAPHS)]
        # (English: the user guide's paragraphs and the general ones, with the guide's prompt)
        while seconds < args.minutes * 60:
            piece = pieces[i % len(pieces)]
            talk += [piece, np.zeros(int(1.5 * RATE), dtype=np.float32)]
            seconds += piece.size / RATE + 1.5
            i += 1
        audio = np.concatenate(talk)
        cpu0, t = time.process_time(), time.perf_counter()
        model.transcribe(audio, "en", prompt)
        took, cpu = time.perf_counter() - t, time.process_time() - cpu0
        rtf = seconds / took
        print(f"speed: {seconds / 60:.1f} min of talk in {took:.1f} s (CPU {cpu:.0f} s): {rtf:.1f}x real time; "
              f"60 minutes would take ~{60 / rtf:.1f} min (extrapolated; target >= 8x)")
        busy = cpu / seconds
        print(f"CPU time per second of talk: {busy:.3f} s; on {os.cpu_count()} idle cores that is at best "
              f"~{os.cpu_count() / busy:.1f}x real time (the wall-clock figure above is what this load allowed)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of this process (model + {seconds / 60:.0f} min of audio): {peak:.0f} MB")
        print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


def align_errors(starts: list[tuple[str, float]], heard: list[speech.Word], offset: float) -> list[float]:
    """|heard start - synthesized start| for words matched in order (same folded text)."""
    errors, j = [], 0
    ref = [(speech.fold(w).replace(" ", ""), s + offset) for w, s in starts]
    hyp = [(speech.fold(w.text).replace(" ", ""), w.start) for w in heard]
    for word, at in ref:
        for k in range(j, min(j + 4, len(hyp))):
            if hyp[k][0] == word and word:
                errors.append(abs(hyp[k][1] - at))
                j = k + 1
                break
    return errors


if __name__ == "__main__":
    sys.exit(main())
