"""PPTX and ODP decks: cheap checks at import, made safe and turned into PDF by LibreOffice.

Three steps, each with its own guard:

- `inspect_package` (import request): the file is a zip of sane size and entry count,
  carries a presentation's content type, and is not password-protected. Cheap: it reads
  the zip directory and one or two small entries, never the slides.
- `sanitize_package` (worker): rewrites the package with honest sizes, refusing XML
  DTDs and dropping every reference to content outside the package (a linked image,
  an external OLE object, a remote font), which LibreOffice would otherwise fetch while
  converting. Hyperlinks stay: they are exported as links, never opened.
- `convert_to_pdf` (worker): headless LibreOffice with a fresh profile per run (which
  also points every proxy at a closed port, a second layer against fetching), a time
  limit, an address-space limit, killed with its whole process group on timeout; its
  temporary files are always removed.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from xml.parsers import expat

from .slides import SlidesRejected

SOFFICE = "soffice"
TIMEOUT_SECONDS = 300
MEMORY_LIMIT_BYTES = 4 * 1024**3  # address space of each LibreOffice process

MAX_ENTRIES = 10_000
MAX_UNCOMPRESSED = 1024**3
MAX_RATIO = 200  # whole-package expansion allowed once it unpacks to more than RATIO_FLOOR
RATIO_FLOOR = 64 * 1024**2
MAX_CENTRAL_DIRECTORY = 4 * 1024**2
MAX_SMALL_PART = 1024**2  # [Content_Types].xml, mimetype, manifest.xml

LOG_TAIL_CHARS = 2000


@dataclass(frozen=True)
class Format:
    ext: str
    content_type: str
    infilter: str  # LibreOffice's import filter: no guessing from the bytes


FORMATS = {
    "pptx": Format("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                   "Impress MS PowerPoint 2007 XML"),
    "odp": Format("odp", "application/vnd.oasis.opendocument.presentation", "impress8"),
}

_OOXML_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
# Other OOXML main parts, for a message that says what the file is instead.
_OOXML_OTHER = {
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml":
        "a macro-enabled presentation (PPTM); save it as PPTX or PDF",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml":
        "a PowerPoint show (PPSX); save it as PPTX or PDF",
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml":
        "a PowerPoint template (POTX); save it as PPTX or PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml":
        "a Word document, not a presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml":
        "an Excel workbook, not a presentation",
}
_ODP_MIMETYPE = "application/vnd.oasis.opendocument.presentation"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HYPERLINK_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
_XLINK_HREF = "http://www.w3.org/1999/xlink href"
# ODF elements whose xlink:href is a link the reader clicks, never content to load.
_ODF_LINKS = {"urn:oasis:names:tc:opendocument:xmlns:text:1.0 a",
              "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0 a"}


class ConversionFailed(SlidesRejected):
    """LibreOffice could not make a PDF of the deck; `log` holds the tail of its output."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


class ConversionTimedOut(ConversionFailed):
    """LibreOffice did not finish in time and was killed."""


class OfficeUnavailable(RuntimeError):
    """LibreOffice is not installed here: an operator's problem, not the deck's (retried)."""


# -- import-time checks -------------------------------------------------------------------

def _scan_for(path: Path, needles: list[bytes], chunk: int = 1 << 20) -> set[bytes]:
    """Which needles occur in the file (streamed, with an overlap between chunks)."""
    found: set[bytes] = set()
    keep = max(len(n) for n in needles) - 1
    tail = b""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            data = tail + block
            found.update(n for n in needles if n in data)
            tail = data[-keep:]
    return found


def _check_ole(path: Path) -> None:
    """An OLE compound file is never a deck we take; say which kind it is."""
    encrypted = "EncryptedPackage".encode("utf-16-le")
    legacy = "PowerPoint Document".encode("utf-16-le")
    found = _scan_for(path, [encrypted, legacy])
    if encrypted in found:
        raise SlidesRejected("the presentation is password-protected; remove the password "
                             "(or export a PDF) and upload it again")
    if legacy in found:
        raise SlidesRejected("a PowerPoint 97-2003 file (.ppt); save it as PPTX or PDF")
    raise SlidesRejected("an OLE compound file (old Office format), not a PDF, PPTX or ODP deck")


def _central_directory(path: Path) -> tuple[int, int]:
    """(entries, central directory size) from the end-of-central-directory record."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - (22 + 65535)))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise SlidesRejected("a damaged zip file (no central directory); not a usable PPTX or ODP")
    _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment = struct.unpack(
        "<4H2LH", tail[at + 4: at + 22])
    return entries, cd_size


def _read_small(z: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = z.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_SMALL_PART:
        raise SlidesRejected(f"{name} is implausibly large ({info.file_size:,} bytes)")
    return z.read(info)


def _size(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GiB"
    return f"{n / 1024**2:.0f} MiB" if n >= 1024**2 else f"{n / 1024:.0f} KiB"


def _check_zip_limits(z: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = z.infolist()
    if len(infos) > MAX_ENTRIES:
        raise SlidesRejected(f"the package has {len(infos):,} entries; at most {MAX_ENTRIES:,} are accepted")
    if len({i.filename for i in infos}) != len(infos):
        raise SlidesRejected("a damaged package (the same entry twice)")
    if any(i.flag_bits & 0x1 for i in infos):
        raise SlidesRejected("the package is password-protected (encrypted zip entries)")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        raise SlidesRejected(f"the package would unpack to {_size(total)}; at most {_size(MAX_UNCOMPRESSED)} "
                             "is accepted (a zip bomb?)")
    if total > RATIO_FLOOR and total > MAX_RATIO * max(packed, 1):
        raise SlidesRejected(f"the package would unpack to {_size(total)} from {_size(packed)} "
                             f"({total // max(packed, 1):,} times its size): a zip bomb")
    return infos


def _ooxml_main_type(content_types: bytes) -> set[str]:
    """Content types of the parts named in [Content_Types].xml (parsed without a DTD)."""
    types: set[str] = set()

    def start(name, attrs):
        if name.endswith(" Override") or name == "Override":
            types.add(dict(zip(attrs[::2], attrs[1::2])).get("ContentType", ""))

    parser = _parser("[Content_Types].xml")
    parser.StartElementHandler = start
    _run(parser, content_types, "[Content_Types].xml")
    return types


def inspect_package(path: Path) -> Format:
    """Check a PPTX or ODP cheaply (no slide is read); SlidesRejected says what is wrong."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_OLE_MAGIC):
        _check_ole(path)
    if not head.startswith(b"PK\x03\x04"):
        raise SlidesRejected("not a PDF, PPTX or ODP file")
    entries, cd_size = _central_directory(path)
    if entries == 0xFFFF or entries > MAX_ENTRIES:  # 0xFFFF: ZIP64, more than 65,534 entries
        shown = "more than 65,000" if entries == 0xFFFF else f"{entries:,}"
        raise SlidesRejected(f"the package has {shown} entries; at most {MAX_ENTRIES:,} are accepted")
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise SlidesRejected(f"the package's zip directory is {_size(cd_size)}; too large for a deck")
    try:
        with zipfile.ZipFile(path) as z:
            _check_zip_limits(z)
            content_types = _read_small(z, "[Content_Types].xml")
            mimetype = _read_small(z, "mimetype")
            if content_types is not None:
                return _check_ooxml(z, content_types)
            if mimetype is not None:
                return _check_odf(z, mimetype)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise SlidesRejected(f"a damaged zip file: {e}") from e
    raise SlidesRejected("a zip file, but not a PPTX or ODP presentation")


def _check_ooxml(z: zipfile.ZipFile, content_types: bytes) -> Format:
    types = _ooxml_main_type(content_types)
    if _OOXML_MAIN in types:
        return FORMATS["pptx"]
    for ctype, what in _OOXML_OTHER.items():
        if ctype in types:
            raise SlidesRejected(what)
    raise SlidesRejected("an Office Open XML file, but not a PowerPoint presentation")


def _check_odf(z: zipfile.ZipFile, mimetype: bytes) -> Format:
    kind = mimetype.decode("ascii", "replace").strip()
    if kind != _ODP_MIMETYPE:
        what = kind.rsplit(".", 1)[-1] if kind.startswith("application/vnd.oasis.opendocument.") else kind
        raise SlidesRejected(f"an OpenDocument {what!s}, not a presentation (ODP)")
    manifest = _read_small(z, "META-INF/manifest.xml")
    if manifest is not None and b"encryption-data" in manifest:
        raise SlidesRejected("the presentation is password-protected; remove the password "
                             "(or export a PDF) and upload it again")
    if "content.xml" not in z.namelist():
        raise SlidesRejected("a damaged ODP (no content.xml)")
    return FORMATS["odp"]


# -- worker: a clean copy of the package ---------------------------------------------------

def _parser(name: str) -> expat.XMLParserType:
    """An expat parser that reports namespaces and refuses a DTD (no Office program writes one)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.ordered_attributes = True

    def doctype(*_):
        raise SlidesRejected(f"{name} declares an XML DTD, which no presentation program writes")

    parser.StartDoctypeDeclHandler = doctype
    return parser


def _run(parser: expat.XMLParserType, data: bytes, name: str) -> None:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SlidesRejected(f"{name} is not UTF-8 XML")
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        raise SlidesRejected(f"{name} is not well-formed XML ({e})") from e


class _PrologDone(Exception):
    pass


def _check_prolog(data: bytes, name: str) -> None:
    """Refuse a DTD; stop at the root element (the rest is LibreOffice's to read)."""
    parser = _parser(name)

    def root(*_):
        raise _PrologDone

    parser.StartElementHandler = root
    try:
        parser.Parse(data, True)
    except (_PrologDone, expat.ExpatError):
        pass


_ATTR = re.compile(rb"""\s+([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")
_TAG_NAME = re.compile(rb"<[^\s/>]+")
_TAG_END = re.compile(rb"\s*(/?)>")


def _start_tag(data: bytes, at: int) -> tuple[list[tuple[bytes, int, int]], int, bool]:
    """The start tag at byte `at`: its attributes as (name, start, end) spans, its end, empty?"""
    m = _TAG_NAME.match(data, at)
    if m is None:  # not an ASCII-compatible encoding
        raise SlidesRejected("an XML part of the package is in an encoding other than UTF-8")
    pos, attrs = m.end(), []
    while a := _ATTR.match(data, pos):
        attrs.append((a.group(1), a.start(), a.end()))
        pos = a.end()
    close = _TAG_END.match(data, pos)
    if close is None:
        raise SlidesRejected("an XML part of the package could not be read")
    return attrs, close.end(), close.group(1) == b"/"


def _names_a_location(ref: str) -> bool:
    """A URL (any scheme) or a UNC path: somewhere other than the package."""
    ref = unquote(ref.strip()).replace("\\", "/")
    return bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", ref)) or ref.startswith("//")


def _outside_odf_package(ref: str) -> bool:
    """ODF resolves "../x" and "/x" against the document's folder, outside the package."""
    path = unquote(ref.strip()).replace("\\", "/")
    return _names_a_location(ref) or path.startswith("/") or ".." in path.split("/")


def _drop_ranges(data: bytes, ranges: list[tuple[int, int]]) -> bytes:
    out, pos = [], 0
    for a, b in sorted(ranges):
        out.append(data[pos:a])
        pos = b
    out.append(data[pos:])
    return b"".join(out)


def _clean_rels(data: bytes, name: str) -> tuple[bytes, int]:
    """Remove relationships to anything outside the package, except hyperlinks."""
    parser = _parser(name)
    ranges: list[tuple[int, int]] = []
    stack: list[tuple[int, bool, int | None]] = []  # (tag start, drop?, end if empty element)

    def start(tag, attrs):
        at = parser.CurrentByteIndex
        a = dict(zip(attrs[::2], attrs[1::2]))
        drop = False
        if tag == f"{_RELS_NS} Relationship":
            # Internal targets ("../media/x.png", "/ppt/x.xml") resolve inside the zip.
            external = a.get("TargetMode", "Internal") != "Internal" or _names_a_location(a.get("Target", ""))
            drop = external and a.get("Type") != _HYPERLINK_TYPE
        _, tag_end, empty = _start_tag(data, at)
        stack.append((at, drop, tag_end if empty else None))

    def end(_tag):
        at, drop, empty_end = stack.pop()
        if drop:
            end_at = empty_end if empty_end is not None else data.index(b">", parser.CurrentByteIndex) + 1
            ranges.append((at, end_at))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    _run(parser, data, name)
    return (_drop_ranges(data, ranges), len(ranges)) if ranges else (data, 0)


def _clean_odf_xml(data: bytes, name: str) -> tuple[bytes, int]:
    """Remove xlink:href attributes that point outside the package, except on hyperlinks."""
    parser = _parser(name)
    ranges: list[tuple[int, int]] = []

    def start(tag, attrs):
        if tag in _ODF_LINKS:
            return
        pairs = list(zip(attrs[::2], attrs[1::2]))
        bad = [i for i, (k, v) in enumerate(pairs) if k == _XLINK_HREF and _outside_odf_package(v)]
        if not bad:
            return
        # expat reports attributes in document order, without the xmlns declarations.
        raw, _, _ = _start_tag(data, parser.CurrentByteIndex)
        raw = [r for r in raw if r[0] != b"xmlns" and not r[0].startswith(b"xmlns:")]
        if len(raw) != len(pairs):
            raise SlidesRejected(f"{name}: the attributes of an element could not be read")
        ranges.extend((raw[i][1], raw[i][2]) for i in bad)

    parser.StartElementHandler = start
    _run(parser, data, name)
    return (_drop_ranges(data, ranges), len(ranges)) if ranges else (data, 0)


def _clean_part(fmt: Format, name: str, data: bytes) -> tuple[bytes, int]:
    if not data.strip():  # older LibreOffice writes empty Configurations2/.../current.xml
        return data, 0
    if fmt.ext == "pptx" and name.endswith(".rels"):
        return _clean_rels(data, name)
    if fmt.ext == "odp":
        return _clean_odf_xml(data, name)
    _check_prolog(data, name)
    return data, 0


def sanitize_package(src: Path, dst: Path) -> int:
    """Copy a PPTX/ODP to `dst` without references outside the package; returns how many went.

    Checks the limits again on what is really unpacked: zipfile stops at each entry's
    declared size and verifies its CRC, so a lying header fails here.
    """
    fmt = inspect_package(src)
    removed = total = 0

    def count(n: int) -> None:
        nonlocal total
        total += n
        if total > MAX_UNCOMPRESSED:
            raise SlidesRejected(f"the package unpacks to more than {_size(MAX_UNCOMPRESSED)}")

    try:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
            for info in _check_zip_limits(zin):
                out = zipfile.ZipInfo(info.filename, info.date_time)
                out.compress_type, out.external_attr = info.compress_type, info.external_attr
                with zin.open(info) as r:
                    if info.filename.endswith((".xml", ".rels")):
                        data = r.read(MAX_UNCOMPRESSED - total + 1)
                        count(len(data))
                        data, n = _clean_part(fmt, info.filename, data)
                        removed += n
                        zout.writestr(out, data)
                        continue
                    out.file_size = info.file_size
                    with zout.open(out, "w", force_zip64=info.file_size > 0x7FFFFFFF) as w:
                        while chunk := r.read(1 << 20):
                            count(len(chunk))
                            w.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise SlidesRejected(f"a damaged package: {e}") from e
    return removed


# -- conversion ------------------------------------------------------------------------------

# A fresh profile for every run. Every proxy points at a closed local port and links from
# untrusted documents are blocked: if a reference slipped past sanitize_package, LibreOffice
# still fetches nothing. Macros never run.
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


def profile_xcu(settings: dict[str, dict[str, str]] = PROFILE_SETTINGS) -> str:
    items = [f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse">'
             f'<value>{value}</value></prop></item>'
             for path, props in settings.items() for name, value in props.items()]
    return _PROFILE.format(items="\n".join(items))


def convert_args(src: Path, out_dir: Path, profile_dir: Path, fmt: Format,
                 soffice: str = SOFFICE, memory_limit: int = MEMORY_LIMIT_BYTES) -> list[str]:
    """The command line that converts `src` into `out_dir/<stem>.pdf`."""
    return [
        "prlimit", f"--as={memory_limit}", "--",
        soffice, f"-env:UserInstallation={Path(profile_dir).absolute().as_uri()}",
        "--headless", "--invisible", "--nologo", "--nodefault", "--norestore", "--nolockcheck",
        f"--infilter={fmt.infilter}", "--convert-to", "pdf:impress_pdf_Export",
        "--outdir", str(out_dir), str(src),
    ]


def _exited(pid: int, timeout: float) -> bool:
    """Wait for `pid` to exit, without reaping it: while it is a zombie, neither its pid nor
    its process group id can be reused, so killing that group afterwards is safe."""
    deadline = time.monotonic() + timeout
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def convert_to_pdf(src: Path, dst: Path, fmt: Format, timeout: float = TIMEOUT_SECONDS,
                   tmp_root: Path | None = None, soffice: str = SOFFICE) -> None:
    """Convert a sanitized deck to a PDF at `dst`; ConversionFailed says why it could not."""
    with tempfile.TemporaryDirectory(prefix="soffice-", dir=tmp_root) as tmp:
        work = Path(tmp).resolve()  # soffice runs in it: relative paths would point elsewhere
        profile, out_dir, in_dir = work / "profile", work / "out", work / "in"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(profile_xcu())
        in_dir.mkdir()
        # A fixed name: LibreOffice writes <stem>.pdf, and no user file name reaches argv.
        deck = in_dir / f"deck.{fmt.ext}"
        try:
            os.link(src, deck)
        except OSError:
            shutil.copyfile(src, deck)
        args = convert_args(deck, out_dir, profile, fmt, soffice)
        with open(work / "soffice.log", "wb") as output:
            try:
                proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output,
                                        stderr=subprocess.STDOUT, start_new_session=True, cwd=work)
            except FileNotFoundError as e:
                raise OfficeUnavailable(f"{e.filename} is not installed") from e
        try:
            finished = _exited(proc.pid, timeout)
        finally:
            _kill_group(proc.pid)  # on every way out: soffice.bin and any helper it left
            proc.wait()
        log = _tail((work / "soffice.log").read_bytes())
        if not finished:
            raise ConversionTimedOut(f"LibreOffice did not finish within {timeout:g} s and was stopped", log)
        if proc.returncode in (126, 127):  # prlimit could not start soffice
            raise OfficeUnavailable(f"LibreOffice could not be started: {log}")
        pdf = out_dir / "deck.pdf"
        if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            reason = _reason(log) or f"exit status {proc.returncode}"
            raise ConversionFailed(f"LibreOffice could not convert the presentation: {reason}", log)
        with open(pdf, "rb") as f:
            if b"%PDF-" not in f.read(1024):
                raise ConversionFailed("LibreOffice wrote something that is not a PDF", log)
        shutil.move(pdf, dst)


def _tail(output: bytes) -> str:
    text = output.decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines() if ln.strip() and "javaldx" not in ln]
    return "\n".join(lines)[-LOG_TAIL_CHARS:]


def _reason(log: str) -> str:
    errors = [ln.strip() for ln in log.splitlines() if ln.strip().lower().startswith("error")]
    return errors[-1] if errors else ""
