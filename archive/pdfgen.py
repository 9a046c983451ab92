"""A minimal PDF writer for generated decks (demo webinar, tests): real text, real pages."""
from __future__ import annotations

from pathlib import Path

BULLET = "\u2022 "


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_deck(path: Path, title: str, slides: list[tuple[str, list[str]]],
               size: tuple[float, float] = (960, 540)) -> Path:
    """A 16:9 deck: one page per (heading, bullet lines), text in Helvetica (WinAnsi)."""
    w, h = size
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog_id = add(b"")  # filled in below
    pages_id = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    bold = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    page_ids = []
    for n, (heading, lines) in enumerate(slides, start=1):
        ops = [
            "0.07 0.09 0.15 rg", f"0 {h - 90} {w} 90 re f",  # dark title band
            "0.15 0.39 0.92 rg", f"0 0 {w} 8 re f",
            "BT 1 1 1 rg /F2 40 Tf", f"48 {h - 62} Td ({_esc(heading)}) Tj ET",
        ]
        y = h - 160
        for line in lines:
            ops += ["BT 0.12 0.16 0.2 rg /F1 28 Tf", f"64 {y} Td ({_esc(BULLET + line)}) Tj ET"]
            y -= 52
        ops += ["BT 0.38 0.43 0.49 rg /F1 14 Tf", f"{w - 140} 24 Td ({_esc(f'{title} - {n}')}) Tj ET"]
        stream = "\n".join(ops).encode("cp1252")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(add(
            f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {w} {h}] "
            f"/Resources << /Font << /F1 {font} 0 R /F2 {bold} 0 R >> >> /Contents {content} 0 R >>".encode()
        ))
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects[pages_id - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()
    objects[catalog_id - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode()
    info = add(f"<< /Title ({_esc(title)}) /Producer (webinar-archive) >>".encode("cp1252"))

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {catalog_id} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    path = Path(path)
    path.write_bytes(bytes(out))
    return path
