"""PPTX and ODP decks as packages: cheap checks at import, a clean copy for the worker.

Two steps, each with its own guard (LibreOffice itself runs in `libreoffice`):

- `inspect_package` (import request): the file is a zip of sane size and entry count,
  carries a presentation's content type, and is not password-protected. Cheap: it reads
  the zip directory and one or two small entries, never the slides.
- `sanitize_package` (worker): rewrites the package with honest sizes, refusing XML
  DTDs and dropping every reference to content outside the package (a linked image,
  an external OLE object, a remote font), which LibreOffice would otherwise fetch while
  converting. Every part whose bytes are XML is read, whatever its name (`.XML`, `.vml`,
  `.svg`, ...). In a PPTX an external relationship survives only as a hyperlink (http,
  https or mailto) that nothing but `hlinkClick`/`hlinkHover` uses: LibreOffice
  resolves a picture's link by relationship id whatever the relationship's type.
"""
from __future__ import annotations

import errno
import lzma
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit
from xml.parsers import expat

from .formatting import file_size
from .slides import SlidesRejected
from .wording import N_

MAX_ENTRIES = 10_000
MAX_UNCOMPRESSED = 10**9  # 1 GB, as refusals write it
MAX_RATIO = 200  # whole-package expansion allowed once it unpacks to more than RATIO_FLOOR
RATIO_FLOOR = 64 * 1024**2
MAX_CENTRAL_DIRECTORY = 4 * 1024**2
MAX_SMALL_PART = 1024**2  # [Content_Types].xml, mimetype, manifest.xml


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
        N_("a macro-enabled presentation (PPTM); save it as PPTX or PDF"),
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml":
        N_("a PowerPoint show (PPSX); save it as PPTX or PDF"),
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml":
        N_("a PowerPoint template (POTX); save it as PPTX or PDF"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml":
        N_("a Word document, not a presentation"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml":
        N_("an Excel workbook, not a presentation"),
}
_ODP_MIMETYPE = "application/vnd.oasis.opendocument.presentation"

# What reading a damaged entry raises: zlib, bz2 (an OSError without errno) and lzma
# errors as well as zipfile's own.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError,
               zlib.error, lzma.LZMAError, OSError)



def _damage(e: Exception) -> bool:
    """Whether a read error is the package's fault: bz2 raises OSError without errno, a
    damaged offset makes zipfile seek before the start (EINVAL); ENOSPC or EIO are the
    machine's, and retried."""
    return not isinstance(e, OSError) or e.errno in (None, errno.EINVAL)


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HYPERLINK_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
_XLINK_HREF = "http://www.w3.org/1999/xlink href"
# ODF elements whose xlink:href is a link the reader clicks, never content to load.
_ODF_LINKS = {"urn:oasis:names:tc:opendocument:xmlns:text:1.0 a",
              "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0 a"}


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
        raise SlidesRejected(N_("the presentation is password-protected; remove the password "
                                "(or export a PDF) and upload it again"))
    if legacy in found:
        raise SlidesRejected(N_("a PowerPoint 97-2003 file (.ppt); save it as PPTX or PDF"))
    raise SlidesRejected(N_("an OLE compound file (old Office format), not a PDF, PPTX or ODP deck"))


def _central_directory(path: Path) -> tuple[int, int]:
    """(entries, central directory size) from the end-of-central-directory record."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - (22 + 65535)))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise SlidesRejected(N_("a damaged zip file (no central directory); not a usable PPTX or ODP"))
    _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment = struct.unpack(
        "<4H2LH", tail[at + 4: at + 22])
    return entries, cd_size


def _read_small(z: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = z.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_SMALL_PART:
        raise SlidesRejected(N_("%(part)s is implausibly large (%(size)s bytes)", part=name, size=f"{info.file_size:,}"))
    return z.read(info)


def _check_zip_limits(z: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = z.infolist()
    if len(infos) > MAX_ENTRIES:
        raise SlidesRejected(N_("the package has %(count)s entries; at most %(max)s are accepted",
                                count=f"{len(infos):,}", max=f"{MAX_ENTRIES:,}"))
    if len({i.filename for i in infos}) != len(infos):
        raise SlidesRejected(N_("a damaged package (the same entry twice)"))
    if any(i.flag_bits & 0x1 for i in infos):
        raise SlidesRejected(N_("the package is password-protected (encrypted zip entries)"))
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        raise SlidesRejected(N_("the package would unpack to %(size)s; at most %(max)s is accepted (a zip bomb?)",
                                size=file_size(total), max=file_size(MAX_UNCOMPRESSED)))
    if total > RATIO_FLOOR and total > MAX_RATIO * max(packed, 1):
        raise SlidesRejected(N_("the package would unpack to %(size)s from %(packed)s (%(ratio)s times its size): "
                                "a zip bomb", size=file_size(total), packed=file_size(packed),
                                ratio=f"{total // max(packed, 1):,}"))
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
        raise SlidesRejected(N_("not a PDF, PPTX or ODP file"))
    entries, cd_size = _central_directory(path)
    if entries == 0xFFFF or entries > MAX_ENTRIES:  # 0xFFFF: ZIP64, more than 65,534 entries
        if entries == 0xFFFF:
            raise SlidesRejected(N_("the package has more than 65,000 entries; at most %(max)s are accepted",
                                    max=f"{MAX_ENTRIES:,}"))
        raise SlidesRejected(N_("the package has %(count)s entries; at most %(max)s are accepted",
                                count=f"{entries:,}", max=f"{MAX_ENTRIES:,}"))
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise SlidesRejected(N_("the package's zip directory is %(size)s; too large for a deck", size=file_size(cd_size)))
    try:
        with zipfile.ZipFile(path) as z:
            _check_zip_limits(z)
            content_types = _read_small(z, "[Content_Types].xml")
            mimetype = _read_small(z, "mimetype")
            if content_types is not None:
                return _check_ooxml(z, content_types)
            if mimetype is not None:
                return _check_odf(z, mimetype)
    except _ZIP_ERRORS as e:
        if not _damage(e):
            raise
        raise SlidesRejected(N_("a damaged zip file: %(reason)s", reason=e)) from e
    raise SlidesRejected(N_("a zip file, but not a PPTX or ODP presentation"))


def _check_ooxml(z: zipfile.ZipFile, content_types: bytes) -> Format:
    types = _ooxml_main_type(content_types)
    if _OOXML_MAIN in types:
        return FORMATS["pptx"]
    for ctype, what in _OOXML_OTHER.items():
        if ctype in types:
            raise SlidesRejected(what)
    raise SlidesRejected(N_("an Office Open XML file, but not a PowerPoint presentation"))


def _check_odf(z: zipfile.ZipFile, mimetype: bytes) -> Format:
    kind = mimetype.decode("ascii", "replace").strip()
    if kind != _ODP_MIMETYPE:
        what = kind.rsplit(".", 1)[-1] if kind.startswith("application/vnd.oasis.opendocument.") else kind
        raise SlidesRejected(N_("an OpenDocument %(what)s, not a presentation (ODP)", what=what))
    manifest = _read_small(z, "META-INF/manifest.xml")
    if manifest is not None and b"encryption-data" in manifest:
        raise SlidesRejected(N_("the presentation is password-protected; remove the password "
                                "(or export a PDF) and upload it again"))
    if "content.xml" not in z.namelist():
        raise SlidesRejected(N_("a damaged ODP (no content.xml)"))
    return FORMATS["odp"]


# -- worker: a clean copy of the package ---------------------------------------------------

def _parser(name: str) -> expat.XMLParserType:
    """An expat parser that reports namespaces and refuses a DTD (no Office program writes one)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.ordered_attributes = True

    def doctype(*_):
        raise SlidesRejected(N_("%(part)s declares an XML DTD, which no presentation program writes", part=name))

    parser.StartDoctypeDeclHandler = doctype
    return parser


def _run(parser: expat.XMLParserType, data: bytes, name: str) -> None:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SlidesRejected(N_("%(part)s is not UTF-8 XML", part=name))
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        raise SlidesRejected(N_("%(part)s is not well-formed XML (%(reason)s)", part=name, reason=e)) from e


class _PrologDone(Exception):
    pass


_ATTR = re.compile(rb"""\s+([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")
_TAG_NAME = re.compile(rb"<[^\s/>]+")
_TAG_END = re.compile(rb"\s*(/?)>")


def _start_tag(data: bytes, at: int) -> tuple[list[tuple[bytes, int, int]], int, bool]:
    """The start tag at byte `at`: its attributes as (name, start, end) spans, its end, empty?"""
    m = _TAG_NAME.match(data, at)
    if m is None:  # not an ASCII-compatible encoding
        raise SlidesRejected(N_("an XML part of the package is in an encoding other than UTF-8"))
    pos, attrs = m.end(), []
    while a := _ATTR.match(data, pos):
        attrs.append((a.group(1), a.start(), a.end()))
        pos = a.end()
    close = _TAG_END.match(data, pos)
    if close is None:
        raise SlidesRejected(N_("an XML part of the package could not be read"))
    return attrs, close.end(), close.group(1) == b"/"


def _names_a_location(ref: str) -> bool:
    """A URL (any scheme) or a UNC path: somewhere other than the package."""
    ref = unquote(ref.strip()).replace("\\", "/")
    return bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", ref)) or ref.startswith("//")


def _outside_package(ref: str) -> bool:
    """A location, or a path that LibreOffice resolves against the document's folder or the
    file system ("../x", "/x"), outside the package: in ODF and in a PPTX part's own href."""
    path = unquote(ref.strip()).replace("\\", "/")
    return _names_a_location(ref) or path.startswith("/") or ".." in path.split("/")


def _is_web_link(ref: str) -> bool:
    """A link a reader may click: http, https or mailto, nothing else."""
    try:
        scheme = urlsplit(ref.strip()).scheme.lower()
    except ValueError:
        return False
    return scheme in ("http", "https", "mailto")


def _drop_ranges(data: bytes, ranges: list[tuple[int, int]]) -> bytes:
    out, pos = [], 0
    for a, b in sorted(ranges):
        out.append(data[pos:a])
        pos = b
    out.append(data[pos:])
    return b"".join(out)


def looks_like_xml(data: bytes) -> bool:
    """Sniffed from the bytes, whatever the part is called: a BOM, or "<" after blanks."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    return data.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1] == b"<"


def _root_tag(data: bytes, name: str) -> str | None:
    """The root element's namespaced name; refuses a DTD on the way."""
    parser = _parser(name)
    found: list[str] = []

    def root(tag, _attrs):
        found.append(tag)
        raise _PrologDone

    parser.StartElementHandler = root
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SlidesRejected(N_("%(part)s is not UTF-8 XML", part=name))
    try:
        parser.Parse(data, True)
    except _PrologDone:
        pass
    except expat.ExpatError as e:
        raise SlidesRejected(N_("%(part)s is not well-formed XML (%(reason)s)", part=name, reason=e)) from e
    return found[0] if found else None


Drop = Callable[[str, str, str], bool]  # (element, attribute, value) -> remove the attribute?


def _strip_attributes(data: bytes, name: str, drop: Drop) -> tuple[bytes, int]:
    """Remove every attribute for which `drop` says so; the rest is left byte for byte."""
    parser = _parser(name)
    ranges: list[tuple[int, int]] = []

    def start(tag, attrs):
        pairs = list(zip(attrs[::2], attrs[1::2]))
        bad = [i for i, (k, v) in enumerate(pairs) if drop(tag, k, v)]
        if not bad:
            return
        # expat reports attributes in document order, without the xmlns declarations.
        raw, _, _ = _start_tag(data, parser.CurrentByteIndex)
        raw = [r for r in raw if r[0] != b"xmlns" and not r[0].startswith(b"xmlns:")]
        if len(raw) != len(pairs):
            raise SlidesRejected(N_("%(part)s: the attributes of an element could not be read", part=name))
        ranges.extend((raw[i][1], raw[i][2]) for i in bad)

    parser.StartElementHandler = start
    _run(parser, data, name)
    return (_drop_ranges(data, ranges), len(ranges)) if ranges else (data, 0)


_XLINK = "http://www.w3.org/1999/xlink"
_SVG_A = "http://www.w3.org/2000/svg a"
_VML_O = "urn:schemas-microsoft-com:office:office"
# Attributes that make a reader load something: xlink:href (ODF, SVG 1.1), SVG 2's bare
# href, VML's o:href and src. Their value is a location, never an id.
_LOAD_ATTRS = {f"{_XLINK} href", "href", f"{_VML_O} href", "src"}
# In OOXML parts, any namespace's href or src (r:href, v:src too): a relationship id
# ("rId3") names nothing outside the package and stays.
_OOXML_LOAD_NAMES = {"href", "src"}


def _odf_drop(tag: str, attr: str, value: str) -> bool:
    if attr not in _LOAD_ATTRS or not _outside_package(value):
        return False
    # A link the reader clicks stays if it is a web or mail link ("#page2" is inside).
    return not ((tag in _ODF_LINKS or tag == _SVG_A) and _is_web_link(value))


def _ooxml_drop(tag: str, attr: str, value: str) -> bool:
    if attr.rsplit(" ", 1)[-1] not in _OOXML_LOAD_NAMES:
        return False
    if tag == _SVG_A and _is_web_link(value):
        return False
    return _outside_package(value)


# -- PPTX relationships ----------------------------------------------------------------------

_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_HYPERLINK_USES = {"hlinkClick", "hlinkHover"}  # a:hlinkClick r:id, a:hlinkHover r:id


@dataclass
class _Rel:
    id: str
    type: str
    target: str
    external: bool


def _read_rels(data: bytes, name: str) -> list[_Rel]:
    rels: list[_Rel] = []

    def start(tag, attrs):
        if tag.rsplit(" ", 1)[-1] == "Relationship":  # in whatever namespace LibreOffice might take
            a = dict(zip(attrs[::2], attrs[1::2]))
            target = a.get("Target", "")
            # Internal targets ("../media/x.png", "/ppt/x.xml") resolve inside the zip.
            external = a.get("TargetMode", "Internal") != "Internal" or _names_a_location(target)
            rels.append(_Rel(a.get("Id", ""), a.get("Type", ""), target, external))

    parser = _parser(name)
    parser.StartElementHandler = start
    _run(parser, data, name)
    return rels


def _uses(data: bytes, name: str, ids: set[str]) -> dict[str, set[str]]:
    """For each id, how the part uses it: the (element local name, attribute) pairs whose
    value is that id. Any attribute counts: VML's o:relid, r:link, r:embed, r:pict..."""
    found: dict[str, set[str]] = {i: set() for i in ids}

    def start(tag, attrs):
        for k, v in zip(attrs[::2], attrs[1::2]):
            if v in found:
                local = tag.rsplit(" ", 1)[-1]
                found[v].add("hyperlink" if local in _HYPERLINK_USES and k == f"{_R_NS} id" else f"{local} {k}")

    parser = _parser(name)
    parser.StartElementHandler = start
    _run(parser, data, name)
    return found


def _source_of(rels_name: str) -> str | None:
    """ppt/slides/_rels/slide1.xml.rels -> ppt/slides/slide1.xml; _rels/.rels -> None."""
    folder, _, base = rels_name.rpartition("/")
    parent, _, rels_dir = folder.rpartition("/")
    if rels_dir.lower() != "_rels" or not base.lower().endswith(".rels"):
        return None
    base = base[: -len(".rels")]
    return f"{parent}/{base}" if parent else (base or None)


def _plan_ooxml(xml_parts: dict[str, bytes], strip: bool) -> dict[str, set[str]]:
    """Which relationship ids go, per relationships part.

    An external relationship stays only as a hyperlink to http, https or mailto that its
    source part uses from hlinkClick/hlinkHover alone; one that a picture (`a:blip
    r:link`), an OLE object or anything else uses, or that nothing uses, goes.
    """
    plan: dict[str, set[str]] = {}
    for name, data in xml_parts.items():
        root = _root_tag(data, name)
        if root is None or root.rsplit(" ", 1)[-1] != "Relationships":
            continue
        external = {r.id: r for r in _read_rels(data, name) if r.external}
        if not external or not strip:
            plan[name] = set()
            continue
        source = _source_of(name)
        uses: dict[str, set[str]] = {i: set() for i in external}
        if source is not None and source in xml_parts:
            uses = _uses(xml_parts[source], source, set(external))
        plan[name] = {i for i, r in external.items()
                      if not (r.type == _HYPERLINK_TYPE and _is_web_link(r.target) and uses[i] == {"hyperlink"})}
    return plan


def _drop_relationships(data: bytes, name: str, ids: set[str]) -> tuple[bytes, int]:
    """Remove the Relationship elements with these ids."""
    parser = _parser(name)
    ranges: list[tuple[int, int]] = []
    stack: list[tuple[int, bool, int | None]] = []  # (tag start, drop?, end if empty element)

    def start(tag, attrs):
        at = parser.CurrentByteIndex
        a = dict(zip(attrs[::2], attrs[1::2]))
        drop = tag.rsplit(" ", 1)[-1] == "Relationship" and a.get("Id", "") in ids
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


# -- the clean copy --------------------------------------------------------------------------

def _clean_ooxml_part(name: str, data: bytes, plan: dict[str, set[str]], strip: bool) -> tuple[bytes, int]:
    if name in plan:
        return _drop_relationships(data, name, plan[name]) if plan[name] else (data, 0)
    if not strip:
        _run(_parser(name), data, name)
        return data, 0
    # The part's own references to relationships that went (r:link, r:embed, o:relid...)
    # go too, and so does any location it names itself (VML o:href, SVG href).
    rels_name = _rels_of(name)
    gone = plan.get(rels_name, set()) if rels_name else set()

    locations = 0  # counted; a reference to a relationship already counted is not

    def drop(tag: str, attr: str, value: str) -> bool:
        nonlocal locations
        if value in gone and (attr.startswith(f"{_R_NS} ") or attr == f"{_VML_O} relid"):
            return True
        if _ooxml_drop(tag, attr, value):
            locations += 1
            return True
        return False

    data, _ = _strip_attributes(data, name, drop)
    return data, locations


def _rels_of(part: str) -> str | None:
    folder, _, base = part.rpartition("/")
    return f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"


def _read_entry(z: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    with z.open(info) as r:
        data = r.read(budget + 1)
    if len(data) > budget:
        raise SlidesRejected(N_("the package unpacks to more than %(max)s", max=file_size(MAX_UNCOMPRESSED)))
    return data


def sanitize_package(src: Path, dst: Path, strip_links: bool = True) -> int:
    """Copy a PPTX/ODP to `dst` without references outside the package; returns how many
    went (relationships and attributes).

    Checks the limits again on what is really unpacked: zipfile stops at each entry's
    declared size and verifies its CRC, so a lying header fails here. `strip_links=False`
    keeps the references (only for the test that shows LibreOffice's network namespace
    stops them on its own); the limits and the DTD check still apply.
    """
    fmt = inspect_package(src)
    removed = total = 0
    try:
        with zipfile.ZipFile(src) as zin:
            infos = _check_zip_limits(zin)
            # First every part whose bytes are XML (bounded by the unpacked-size limit),
            # since a relationships part is judged by how its source part uses it.
            xml_parts: dict[str, bytes] = {}
            for info in infos:
                with zin.open(info) as r:
                    head = r.read(64)
                if looks_like_xml(head):
                    data = _read_entry(zin, info, MAX_UNCOMPRESSED - total)
                    total += len(data)
                    xml_parts[info.filename] = data
            plan = _plan_ooxml(xml_parts, strip_links) if fmt.ext == "pptx" else {}
            with zipfile.ZipFile(dst, "w") as zout:
                for info in infos:
                    out = zipfile.ZipInfo(info.filename, info.date_time)
                    out.compress_type, out.external_attr = info.compress_type, info.external_attr
                    data = xml_parts.get(info.filename)
                    if data is not None:
                        if not data.strip():  # older LibreOffice writes empty Configurations2/.../*.xml
                            n = 0
                        elif fmt.ext == "pptx":
                            data, n = _clean_ooxml_part(info.filename, data, plan, strip_links)
                        else:
                            data, n = _strip_attributes(data, info.filename,
                                                        _odf_drop if strip_links else lambda *_: False)
                        removed += n
                        zout.writestr(out, data)
                        continue
                    out.file_size = info.file_size
                    with zin.open(info) as r, zout.open(out, "w", force_zip64=info.file_size > 0x7FFFFFFF) as w:
                        while chunk := r.read(1 << 20):
                            total += len(chunk)
                            if total > MAX_UNCOMPRESSED:
                                raise SlidesRejected(N_("the package unpacks to more than %(max)s", max=file_size(MAX_UNCOMPRESSED)))
                            w.write(chunk)
    except _ZIP_ERRORS as e:
        if not _damage(e):  # the disk, not the deck
            raise
        raise SlidesRejected(N_("a damaged package: %(reason)s", reason=e)) from e
    return removed
