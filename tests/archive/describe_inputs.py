"""Realistic test archives from descriptions: write a description file (TOML or JSON)
beside the files it names, as a person preparing an import would."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from PIL import Image

from archive.pdfgen import write_deck

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nAna Müller: Welcome\n\n00:00:02.000 --> 00:00:04.000\nThanks\n"


def toml_dumps(doc: dict[str, Any]) -> str:
    """Enough TOML for descriptions: scalars, lists of text, inline tables of text,
    arrays of tables (written last, as TOML wants)."""
    def value(v: Any) -> str:
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    tables = {k: v for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    lines = [f"{json.dumps(k)} = {value(v)}" for k, v in doc.items() if k not in tables]
    for name, rows in tables.items():
        for row in rows:
            lines += ["", f"[[{name}]]"] + [f"{json.dumps(k)} = {value(v)}" for k, v in row.items()]
    return "\n".join(lines) + "\n"


def photo(path: Path, fmt: str = "JPEG", size: tuple[int, int] = (64, 64), colour=(200, 80, 40)) -> Path:
    Image.new("RGB", size, colour).save(path, fmt)
    return path


def realistic(folder: Path, inputs: dict[str, Path], **overrides: Any) -> dict[str, Any]:
    """A two-speaker, two-presentation webinar with its files in `folder`; fields in
    `overrides` replace (or, given None, remove) the defaults."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(inputs["h264_aac.mp4"], folder / "talk.mp4")
    write_deck(folder / "ada.pdf", "Why open data", [("Why open data", ["Because"]), ("Thanks", [])])
    write_deck(folder / "grace.pdf", "Open data in cities", [("Cities", ["Buses", "Budgets"])])
    photo(folder / "ada.jpg")
    photo(folder / "grace.png", "PNG", colour=(40, 80, 200))
    (folder / "talk.vtt").write_text(VTT, encoding="utf-8")
    doc: dict[str, Any] = {
        "title": "Open data in practice",
        "date": "2021-06-07",
        "time": "14:00",
        "timezone": "Europe/Berlin",
        "language": "en",
        "series": "Open data",
        "tags": ["open data", "cities"],
        "visibility": "public",
        "description": "Markdown *here*, with a [link](https://example.org).",
        "recording": "talk.mp4",
        "captions": {"en": "talk.vtt"},
        "speakers": [
            {"name": "Ada Lovelace", "organisation": "Analytical Engines Ltd", "bio": "Writes *programs*.",
             "photo": "ada.jpg"},
            {"name": "Grace Hopper", "organisation": "Navy", "bio": "Compilers.", "photo": "grace.png"},
            {"name": "Moderator Mo"},
        ],
        "presentations": [
            {"title": "Why open data", "speakers": ["Ada Lovelace"], "slides": "ada.pdf", "start": "0:00:00"},
            {"title": "Open data in cities", "speakers": ["Grace Hopper", "Ada Lovelace"],
             "slides": "grace.pdf", "start": "0:02"},
        ],
    }
    for key, v in overrides.items():
        if v is None:
            doc.pop(key, None)
        else:
            doc[key] = v
    return doc


def write(folder: Path, doc: dict[str, Any], fmt: str = "toml", name: str = "webinar") -> Path:
    path = folder / f"{name}.{fmt}"
    text = toml_dumps(doc) if fmt == "toml" else json.dumps(doc, ensure_ascii=False, indent=2)
    path.write_text(text, encoding="utf-8")
    return path
