"""Small formatters, each written once: a length of time (H:MM:SS), a WebVTT or SRT timestamp,
a file size. Sizes are in decimal units (1 MB = 1,000,000 bytes) everywhere: on the
staff and public pages, in refusals, in the CLI and in the browser uploader."""
from __future__ import annotations

SIZE_UNITS = ("B", "KB", "MB", "GB")


def hms(seconds: float, *, hours: bool = False, tenths: bool = False) -> str:
    """'1:02:03' from an hour on, '2:03' below, to the nearest second; with `hours`, always
    H:MM:SS ('0:02:03', as podcast feeds give durations). Both read back as start times.
    With `tenths`, to the tenth of a second ('0:02.7'): enough to tell a cut from a rounding."""
    if tenths:
        t = max(0, int(round(seconds * 10)))
        return f"{hms(t // 10, hours=hours)}.{t % 10}"
    s = max(0, int(round(seconds)))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h or hours else f"{m}:{s % 60:02d}"


def vtt_timestamp(seconds: float) -> str:
    """A WebVTT cue time, 'HH:MM:SS.mmm', to the nearest millisecond."""
    ms = max(0, int(round(seconds * 1000)))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def srt_timestamp(seconds: float) -> str:
    """An SRT cue time, 'HH:MM:SS,mmm' (WebVTT's with a comma)."""
    return vtt_timestamp(seconds).replace(".", ",")


def size_parts(n: float) -> tuple[float, str]:
    """The number and unit a size is shown in: the largest unit that keeps the number
    below 1000, rounded to one decimal (whole bytes)."""
    size = float(n)
    for unit in SIZE_UNITS[:-1]:
        shown = float(round(size)) if unit == "B" else round(size, 1)
        if abs(shown) < 1000:
            return shown, unit
        size /= 1000
    return round(size, 1), SIZE_UNITS[-1]


def file_size(n: float) -> str:
    """'512 B', '1.5 MB', '500 MB', '2.1 GB' (a '.0' is left out; `web.i18n.file_size`
    writes the same in the reader's language)."""
    number, unit = size_parts(n)
    return f"{number:,.1f}".removesuffix(".0") + f" {unit}"
