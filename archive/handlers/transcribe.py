"""The `transcribe` job: automatic captions of a watchable recording, deck-aware.

The sound is decoded by ffmpeg (through the runner, like every tool that reads an upload)
to 16 kHz mono WAV in the job's scratch folder; the recognizer is given the samples, never
the uploaded file. Each presentation's stretch of the recording is transcribed with its
deck's vocabulary and its speakers' names as the prompt. The captions are written under
fixed keys of one automatic captions asset per recording and language (its id is reused
by a rerun); `archive/transcripts.py` records it when the job ends.
"""
from __future__ import annotations

import json
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from .. import captions, ffmpeg_commands as cmd, media, probe, speech, transcripts
from ..context import Archive
from ..jobs import Heartbeat, PermanentError
from ..models import Asset, Webinar, new_id
from ..states import AssetStatus
from .common import Outcome, fetch_original


@dataclass(frozen=True)
class Stretch:
    """A part of the recording and what the recognizer is told about it."""

    start: float
    end: float | None
    title: str
    names: tuple[str, ...]
    deck_ids: tuple[str, ...]


def stretches(webinar: Webinar) -> list[Stretch]:
    """The presentations with a start time, each to the next one's start; before the first
    (or with no start times at all), the webinar as a whole with every deck and speaker."""
    everyone = tuple(sp.name for sp in webinar.speakers)
    decks = tuple(d.id for d in webinar.decks if d.status == AssetStatus.READY)
    talks = sorted((p for p in webinar.presentations if p.start_seconds is not None),
                   key=lambda p: p.start_seconds)
    out: list[Stretch] = []
    if not talks or talks[0].start_seconds > 1.0:
        out.append(Stretch(0.0, talks[0].start_seconds if talks else None, webinar.title, everyone, decks))
    for i, p in enumerate(talks):
        end = talks[i + 1].start_seconds if i + 1 < len(talks) else None
        own = (p.deck_asset_id,) if p.deck_asset_id else decks
        names = tuple(sp.name for sp in p.speakers) or everyone
        out.append(Stretch(p.start_seconds, end, p.title, names, own))
    return out


def _deck_texts(archive: Archive, decks: list[Asset]) -> dict[str, list[str]]:
    texts = {}
    for d in decks:
        key = (d.outputs or {}).get("text")
        if key:
            texts[d.id] = json.loads(archive.store.get_bytes(key)).get("pages") or []
    return texts


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def transcribe(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    settings = archive.settings
    with archive.catalog.session() as s:
        w = s.get(Webinar, asset.webinar_id)
        if w is None:
            return Outcome()
        parts = stretches(w)
        language_tag = w.language
        human = {speech.language_code(c.info.get("language")) for c in w.captions
                 if not c.automatic and c.status != AssetStatus.FAILED}
        decks = [d for d in w.decks if d.status == AssetStatus.READY]
        existing = {c.info.get("language"): c.id for c in s.scalars(select(Asset).where(
            Asset.webinar_id == w.id, Asset.kind == "captions", Asset.automatic.is_(True)))
            if c.info.get("source") == asset.id}
    language = speech.language_code(language_tag)
    if not (asset.info or {}).get("audio_codec"):
        return Outcome(info={"transcript": {"skipped": "no audio"}})
    if language and language in human:
        return Outcome(info={"transcript": {"skipped": f"captions in {language} were uploaded"}})
    try:
        model = speech.recognizer(settings.transcribe_model, settings.transcribe_threads, settings.transcribe_batch)
    except speech.ModelRefused as e:
        raise PermanentError(str(e)) from e
    limits = media.ToolLimits.from_settings(settings)
    texts = _deck_texts(archive, decks)
    with tempfile.TemporaryDirectory(dir=settings.work_dir, prefix="asr-") as tmp:
        work = Path(tmp)
        src = fetch_original(archive, asset, work)
        info = probe.probe(src, limits)
        if not info.has_audio:
            return Outcome(info={"transcript": {"skipped": "no audio"}})
        wav = work / "speech.wav"
        media.run_ffmpeg(cmd.speech_audio_args(src, wav, info), limits.ffmpeg(), info.duration)
        audio = _read_wav(wav)
    hb.progress(0.1)
    rate = cmd.SPEECH_SAMPLE_RATE
    detected = language is None
    words: list[speech.Word] = []
    prompts = []
    for i, part in enumerate(parts):
        piece = audio[int(part.start * rate):int(part.end * rate) if part.end is not None else None]
        if piece.size < rate // 2:
            continue
        deck = [t for d in part.deck_ids for t in texts.get(d, [])]
        # The words worth prompting are the ones rare in the language spoken: heard first
        # when the webinar does not say it.
        spoken = language or (model.detect_language(piece) if deck else None)
        vocab = speech.vocabulary(deck, speech.rarity(spoken, model.rarity))
        text = speech.prompt(part.names, vocab, part.title, tokens=model.tokens)
        prompts.append({"start": part.start, "prompt": text})
        heard, lang = model.transcribe(piece, language, text, offset=part.start,
                                       terms=speech.stretch_terms(vocab, deck, part.names))
        heard = speech.deck_corrected(heard, vocab, deck, part.names)
        if language is None and heard:
            language = lang  # detected on the first stretch with speech; the others follow it
        words += heard
        hb.progress(0.1 + 0.85 * (i + 1) / len(parts))
    if not words:
        return Outcome(info={"transcript": {"skipped": "no speech heard", "prompts": prompts}})
    if detected and language in human:
        return Outcome(info={"transcript": {"skipped": f"captions in {language} were uploaded"}})
    cues = speech.cues_from_words(words)
    captions_id = existing.get(language) or new_id()
    vtt = captions.to_vtt(cues).encode("utf-8")
    keys = transcripts.keys(asset.webinar_id, captions_id, language)
    hb.check()
    archive.store.put_bytes(keys["vtt"], vtt, "text/vtt; charset=utf-8")
    archive.store.put_bytes(keys["words"], json.dumps([[x.start, x.end, x.text] for x in words],
                                                      ensure_ascii=False).encode(), "application/json")
    archive.store.put_bytes(keys["original"], vtt, "text/vtt; charset=utf-8")
    summary = {"language": language, "detected": detected, "captions": captions_id, "cues": len(cues),
               "words": len(words), "model": settings.transcribe_model.rsplit("/", 1)[-1], "prompts": prompts}
    return Outcome(info={"transcript": summary},
                   records={"captions": {"id": captions_id, "language": language, "detected": detected,
                                         "vtt": vtt, "keys": keys, "cues": len(cues),
                                         "words": [{"at": x.start, "text": x.text} for x in words]}})
