"""Caption files: WebVTT and SRT in, WebVTT out (and SRT for visitors who download them).

A transcript VTT exported by Zoom is a caption track whose cues start with the
speaker's name ("Ana Müller: Welcome…"); that prefix becomes a WebVTT voice span.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .formatting import file_size, srt_timestamp, vtt_timestamp
from .states import AssetStatus
from .wording import N_

MAX_BYTES = 20 * 1024 * 1024
_TIME = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(.*)$")
_SPEAKER = re.compile(r"^([^:<>\n]{1,60}):\s+(.+)$", re.S)
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# "talk.de.srt", "talk.pt-BR.vtt": the language is the last part of the name before the extension.
_LANGUAGE_IN_NAME = re.compile(r"\.([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)$")
DEFAULT_LANGUAGE = "en"


class CaptionsRejected(Exception):
    """Not a caption file we can read; the message says why."""


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def check_language(tag: str) -> str:
    if not _LANGUAGE.match(tag):
        raise CaptionsRejected(N_("%(tag)s is not a language tag (like en, de, pt-BR)", tag=repr(tag)))
    return tag


def language_of_name(filename: str) -> str:
    """The language a caption file's name gives ("talk.de.srt": de); English without one,
    and for Zoom's transcript and closed-caption files. The folder import and the browser
    uploader read names by this one rule."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    if stem.lower().endswith((".transcript", ".cc")) or stem.lower() in ("transcript", "closed_caption"):
        return DEFAULT_LANGUAGE
    m = _LANGUAGE_IN_NAME.search(stem)
    return m.group(1) if m else DEFAULT_LANGUAGE


def _seconds(h, m, s, frac) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")[:3]) / 1000


def decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise CaptionsRejected(N_("the caption file is larger than %(size)s", size=file_size(MAX_BYTES)))
    if b"\x00" in data[:4096]:
        raise CaptionsRejected(N_("not a text file"))
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CaptionsRejected(N_("the caption file is neither UTF-8 nor Windows-1252 text"))


def parse(data: bytes) -> list[Cue]:
    """Cues of a WebVTT or SRT file, in order. Raises CaptionsRejected."""
    text = decode(data).replace("\r\n", "\n").replace("\r", "\n")
    is_vtt = text.lstrip().startswith("WEBVTT")
    cues: list[Cue] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        timing_at = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if timing_at is None:
            continue  # header, NOTE, STYLE, REGION blocks
        if is_vtt and lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        m = _CUE_TIMING.match(lines[timing_at])
        if not m:
            raise CaptionsRejected(N_("unreadable cue timing: %(line)s", line=repr(lines[timing_at].strip()[:80])))
        g = m.groups()
        start, end = _seconds(*g[0:4]), _seconds(*g[4:8])
        if end < start:
            raise CaptionsRejected(N_("a cue ends before it starts: %(line)s", line=repr(lines[timing_at].strip()[:80])))
        body = "\n".join(lines[timing_at + 1:]).strip()
        if body:
            cues.append(Cue(start, end, body))
    if not cues:
        raise CaptionsRejected(N_("no cues found: is this a WebVTT or SRT file?"))
    return sorted(cues, key=lambda c: (c.start, c.end))


def _voice(text: str) -> str:
    if text.startswith("<v"):
        return text
    m = _SPEAKER.match(text)
    if m and not m.group(1).strip().isdigit():
        return f"<v {m.group(1).strip()}>{m.group(2)}"
    return text


def to_vtt(cues: list[Cue]) -> str:
    out = ["WEBVTT", ""]
    for c in cues:
        # A blank line would end the cue early, and "-->" inside text confuses players.
        body = "\n".join(ln for ln in _voice(c.text).split("\n") if ln.strip()).replace("-->", "→")
        out += [f"{vtt_timestamp(c.start)} --> {vtt_timestamp(c.end)}", body, ""]
    return "\n".join(out)


_TAG = re.compile(r"<[^>]*>")
_VOICE_TAG = re.compile(r"^<v(?:\.[^ >]*)? ([^>]+)>")


def to_srt(cues: list[Cue]) -> str:
    """SubRip: numbered cues, plain text (a voice span becomes "Name: "; other WebVTT
    tags and entities, which SRT players would show as they are, are taken out)."""
    out = []
    for n, c in enumerate(cues, 1):
        text = _VOICE_TAG.sub(lambda m: f"{m.group(1)}: ", c.text)
        text = _TAG.sub("", text).replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ").replace("&amp;", "&")
        body = "\n".join(ln for ln in text.split("\n") if ln.strip())
        out += [str(n), f"{srt_timestamp(c.start)} --> {srt_timestamp(c.end)}", body, ""]
    return "\n".join(out)


# Which tracks visitors get: given assets (rows or anything with kind, automatic, served,
# status and info), human captions win over automatic ones of their language.

def primary(tag: str | None) -> str:
    return (tag or "").split("-")[0].lower()


def human_languages(assets: list) -> set[str]:
    return {primary(a.info.get("language")) for a in assets
            if a.kind == "captions" and not a.automatic and a.served and a.status == AssetStatus.READY}


def shown(assets: list) -> list:
    """The caption tracks visitors get: the human ones, and an automatic one only for a
    language without human captions."""
    human = human_languages(assets)
    return [a for a in assets if a.kind == "captions" and a.served
            and not (a.automatic and primary(a.info.get("language")) in human)]
