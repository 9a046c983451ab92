"""A webinar described in a file (TOML or JSON), read into an ImportRequest.

The same description serves scripts, tests and the demo. Paths are relative to the
file's folder, and only files in that folder (or below) are read: an absolute path, a
`..` or a symlink leading out is refused. Every problem is one ImportRejected sentence that names the
field (presentations and speakers are numbered from 1, as they appear in the file).

    title = "Open data in practice"
    date = "2021-06-07"            # or a TOML date; optional with a start time
    time = "14:00"                 # local time; needs `timezone`
    timezone = "Europe/Berlin"     # IANA name
    language = "en"                # BCP 47
    series = "Open data"           # created if new, matched by slug
    tags = ["open data", "cities"]
    visibility = "public"          # draft | public | unlisted | private
    publish_at = "2021-06-10T09:00"  # local to `timezone` unless it has an offset
    description = "Markdown"
    recording = "talk.mp4"
    slides = ["extra.pdf"]         # decks of no presentation
    captions = { en = "talk.vtt" }
    [[speakers]]                   # name, organisation, bio, photo
    [[presentations]]              # title, speakers (names), slides, start, slide_times
                                   # slide_times = ["0:00", "3:10", ...]: when each page
                                   # of its deck appears in the recording, from page 1
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .formatting import file_size
from .importer import ImportRequest, PresentationInput, SpeakerInput
from .intake import ImportRejected, inside, parse_start, time_zone
from .states import Visibility

WEBINAR_KEYS = ("title", "date", "time", "timezone", "language", "series", "tags", "visibility",
                "publish_at", "description", "recording", "slides", "captions", "speakers", "presentations")
SPEAKER_KEYS = ("name", "organisation", "bio", "photo")
PRESENTATION_KEYS = ("title", "speakers", "slides", "start", "slide_times")
MAX_BYTES = 1024 * 1024

def load(path: Path) -> ImportRequest:
    """Read a .toml or .json description; raises ImportRejected."""
    path = Path(path)
    if not path.is_file():
        raise ImportRejected(f"description {path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise ImportRejected(f"description {path.name}: larger than {file_size(MAX_BYTES)}")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            doc = tomllib.loads(data.decode("utf-8"))
        elif suffix == ".json":
            doc = json.loads(data.decode("utf-8"))
        else:
            raise ImportRejected(f"description {path.name}: name a .toml or .json file")
    except UnicodeDecodeError as e:
        raise ImportRejected(f"description {path.name}: not UTF-8 text") from e
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ImportRejected(f"description {path.name}: not valid {suffix[1:].upper()} ({e})") from e
    return parse(doc, path.parent)


def load_with(path: Path, conflicting: Sequence[str] = (), visibility: str | None = None) -> ImportRequest:
    """A description and what a command adds to it: only a visibility (e.g. a draft to
    review first), which wins. `conflicting` names the options given that say what the
    file says: they are refused rather than silently dropped or mixed in."""
    if conflicting:
        raise ImportRejected(f"{', '.join(conflicting)} cannot be combined with --describe "
                             f"({Path(path).name}): put it in the file")
    req = load(path)
    if visibility is not None:
        req.visibility = visibility
    return req


def parse(doc: Any, base: Path) -> ImportRequest:
    """A parsed description (dict) into an ImportRequest; paths relative to `base`."""
    if not isinstance(doc, dict):
        raise ImportRejected("a description is a table (a JSON object) of fields")
    _no_unknown(doc, WEBINAR_KEYS, "")
    timezone = _opt(doc, "timezone", str, "timezone")
    zone = time_zone(timezone) if timezone is not None else None
    day = _date(doc.get("date"))
    clock = _time(doc.get("time"))
    starts_at = None
    if clock is not None:
        if day is None:
            raise ImportRejected("time: a start time needs a date")
        if zone is None:
            raise ImportRejected("time: a start time needs a timezone (like Europe/Berlin)")
        starts_at = dt.datetime.combine(day, clock, tzinfo=zone)
    captions = doc.get("captions", {})
    if not isinstance(captions, dict) or not all(isinstance(v, str) for v in captions.values()):
        raise ImportRejected('captions: give a table of language = file, like { en = "talk.vtt" }')
    speakers = [_speaker(s, i, base) for i, s in enumerate(_list_of_tables(doc, "speakers"), 1)]
    return ImportRequest(
        title=_req(doc, "title", str, "title"),
        held_on=day,
        starts_at=starts_at,
        timezone=timezone,
        language=_opt(doc, "language", str, "language"),
        series=_opt(doc, "series", str, "series"),
        tags=_strings(doc, "tags"),
        visibility=_opt(doc, "visibility", str, "visibility") or Visibility.PUBLIC,
        publish_at=_publish_at(doc.get("publish_at"), zone),
        description=_opt(doc, "description", str, "description") or "",
        recording=_file(doc.get("recording"), base, "recording"),
        slides=[_file(p, base, "slides") for p in _strings(doc, "slides")],
        captions=[(lang, _file(p, base, f"captions.{lang}")) for lang, p in captions.items()],
        speakers=speakers,
        presentations=[_presentation(p, i, base) for i, p in enumerate(_list_of_tables(doc, "presentations"), 1)],
    )


def _no_unknown(table: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ImportRejected(f"{where}{key}: unknown field{hint}; known: {', '.join(allowed)}")


def _type_name(t: type) -> str:
    return {str: "text", int: "a whole number", list: "a list", dict: "a table"}.get(t, t.__name__)


def _opt(table: dict, key: str, t: type, where: str):
    value = table.get(key)
    if value is not None and not isinstance(value, t):
        raise ImportRejected(f"{where}: expected {_type_name(t)}, got {value!r}")
    return value


def _req(table: dict, key: str, t: type, where: str):
    value = _opt(table, key, t, where)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ImportRejected(f"{where}: missing")
    return value


def _strings(table: dict, key: str, where: str | None = None) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImportRejected(f"{where or key}: expected a list of text, got {value!r}")
    return value


def _list_of_tables(doc: dict, key: str) -> list[dict]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ImportRejected(f"{key}: expected a list of tables ([[{key}]] in TOML)")
    return value


def _file(value: Any, base: Path, where: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ImportRejected(f"{where}: expected a file name, got {value!r}")
    return inside(base, value, where)


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ImportRejected(f"date: {value!r} is not a date (YYYY-MM-DD)")


def _time(value: Any) -> dt.time | None:
    if value is None or isinstance(value, dt.time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value):
        try:
            return dt.time.fromisoformat(value.zfill(5) if len(value) == 4 else value)
        except ValueError:
            pass
    raise ImportRejected(f"time: {value!r} is not a time of day (HH:MM)")


def _publish_at(value: Any, zone: ZoneInfo | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ImportRejected(f"publish_at: {value!r} is not a date and time (like 2021-06-10T09:00)") from None
    if not isinstance(value, dt.datetime):
        raise ImportRejected(f"publish_at: {value!r} is not a date and time (like 2021-06-10T09:00)")
    if value.tzinfo is None:
        if zone is None:
            raise ImportRejected("publish_at: give an offset (like +02:00) or the webinar's timezone")
        value = value.replace(tzinfo=zone)
    return value


def _speaker(table: dict, i: int, base: Path) -> SpeakerInput:
    where = f"speakers[{i}]."
    _no_unknown(table, SPEAKER_KEYS, where)
    return SpeakerInput(
        name=_req(table, "name", str, where + "name").strip(),
        organisation=_opt(table, "organisation", str, where + "organisation") or "",
        bio=_opt(table, "bio", str, where + "bio") or "",
        photo=_file(table.get("photo"), base, where + "photo"),
    )


def _presentation(table: dict, i: int, base: Path) -> PresentationInput:
    where = f"presentations[{i}]."
    _no_unknown(table, PRESENTATION_KEYS, where)
    start = table.get("start")
    times = table.get("slide_times", [])
    if not isinstance(times, list):
        raise ImportRejected(f"{where}slide_times: expected a list of times, got {times!r}")
    return PresentationInput(
        title=_req(table, "title", str, where + "title").strip(),
        speakers=_strings(table, "speakers", where + "speakers"),
        slides=_file(table.get("slides"), base, where + "slides"),
        start=parse_start(start, where + "start") if start is not None else None,
        slide_times=[parse_start(t, f"{where}slide_times[{n}]") for n, t in enumerate(times, 1)],
    )
