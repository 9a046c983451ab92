"""Headless LibreOffice turns a sanitized PPTX/ODP (see `decks`) into a PDF.

Each conversion gets a fresh profile (which also blocks untrusted links, turns macros
off and points every proxy at a closed port) and runs through `runner` with the time
and memory limits from Settings, in the runner's sandbox: no network (even a reference
that slipped past sanitising has no host to reach), and no file but the deck (read-only)
and its own scratch folder. Its temporary files are always removed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from . import runner
from .decks import Format
from .slides import SlidesRejected

SOFFICE = "soffice"
LOG_TAIL_CHARS = 2000


class ConversionFailed(SlidesRejected):
    """LibreOffice could not make a PDF of the deck; `log` holds the tail of its output."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


class ConversionTimedOut(ConversionFailed):
    """LibreOffice did not finish in time and was killed."""


class OfficeUnavailable(RuntimeError):
    """LibreOffice (or the sandbox to run it in) is missing here: an operator's
    problem, not the deck's, so the job is retried."""


# A fresh profile for every run. Every proxy points at a closed local port and links from
# untrusted documents are blocked: a third layer after sanitising and the namespace.
_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
{items}
</oor:items>
"""
PROFILE_SETTINGS = {
    "/org.openoffice.Office.Common/Security/Scripting": {
        "BlockUntrustedRefererLinks": "true", "DisableMacrosExecution": "true", "MacroSecurityLevel": "3",
    },
    "/org.openoffice.Inet/Settings": {
        "ooInetProxyType": "1", "ooInetNoProxy": "",
        "ooInetHTTPProxyName": "127.0.0.1", "ooInetHTTPProxyPort": "9",
        "ooInetHTTPSProxyName": "127.0.0.1", "ooInetHTTPSProxyPort": "9",
        "ooInetFTPProxyName": "127.0.0.1", "ooInetFTPProxyPort": "9",
    },
}


def office_limits(settings) -> runner.Limits:
    """LibreOffice's limits, from Settings; it never gets the network."""
    return runner.Limits(settings.office_timeout_seconds, settings.office_memory_mb, network=False,
                         isolation=settings.tool_isolation)


def profile_xcu(settings: dict[str, dict[str, str]] = PROFILE_SETTINGS) -> str:
    items = [f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse">'
             f'<value>{value}</value></prop></item>'
             for path, props in settings.items() for name, value in props.items()]
    return _PROFILE.format(items="\n".join(items))


def convert_args(src: Path, out_dir: Path, profile_dir: Path, fmt: Format, soffice: str = SOFFICE) -> list[str]:
    """The command line that converts `src` into `out_dir/<stem>.pdf`."""
    return [
        soffice, f"-env:UserInstallation={Path(profile_dir).absolute().as_uri()}",
        "--headless", "--invisible", "--nologo", "--nodefault", "--norestore", "--nolockcheck",
        f"--infilter={fmt.infilter}", "--convert-to", "pdf:impress_pdf_Export",
        "--outdir", str(out_dir), str(src),
    ]


def convert_to_pdf(src: Path, dst: Path, fmt: Format, limits: runner.Limits, tmp_root: Path | None = None,
                   soffice: str = SOFFICE,
                   profile: dict[str, dict[str, str]] = PROFILE_SETTINGS) -> None:
    """Convert a sanitized deck to a PDF at `dst`; ConversionFailed says why it could not.

    `limits` come from Settings (`office_limits`); only tests pass network=True or
    another profile, to show what each layer stops on its own.
    """
    with tempfile.TemporaryDirectory(prefix="soffice-", dir=tmp_root) as tmp:
        work = Path(tmp).resolve()  # soffice runs in it: relative paths would point elsewhere
        profile_dir, out_dir, in_dir = work / "profile", work / "out", work / "in"
        (profile_dir / "user").mkdir(parents=True)
        (profile_dir / "user" / "registrymodifications.xcu").write_text(profile_xcu(profile))
        in_dir.mkdir()
        # A fixed name: LibreOffice writes <stem>.pdf, and no user file name reaches argv.
        deck = in_dir / f"deck.{fmt.ext}"
        try:
            os.link(src, deck)
        except OSError:
            shutil.copyfile(src, deck)
        args = convert_args(deck, out_dir, profile_dir, fmt, soffice)
        try:
            done = runner.run(args, limits, cwd=work, env=runner.minimal_env(home=work), tail_lines=60,
                              view=runner.View(read=(deck,)))
        except runner.ToolUnavailable as e:
            raise OfficeUnavailable(str(e)) from e
        except runner.ToolError as e:
            raise ConversionTimedOut(f"LibreOffice did not finish within {limits.seconds:g} s and was stopped",
                                     _tail(e.log)) from e
        log = _tail(done.log)
        pdf = out_dir / "deck.pdf"
        if done.returncode in (126, 127):  # soffice's launcher could not start soffice.bin
            raise OfficeUnavailable(f"LibreOffice could not be started: {log}")
        if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            reason = _reason(log) or _status(done.returncode, limits)
            raise ConversionFailed(f"LibreOffice could not convert the presentation: {reason}", log)
        with open(pdf, "rb") as f:
            if b"%PDF-" not in f.read(1024):
                raise ConversionFailed("LibreOffice wrote something that is not a PDF", log)
        shutil.move(pdf, dst)


def _status(returncode: int, limits: runner.Limits) -> str:
    if returncode < 0:
        hint = f" (out of memory? the limit is {limits.memory_mb} MB)" if limits.memory_mb else ""
        return f"it was killed by signal {-returncode}{hint}"
    return f"exit status {returncode}"


def _tail(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip() and "javaldx" not in ln]
    return "\n".join(lines)[-LOG_TAIL_CHARS:]


def _reason(log: str) -> str:
    errors = [ln.strip() for ln in log.splitlines() if ln.strip().lower().startswith("error")]
    return errors[-1] if errors else ""
