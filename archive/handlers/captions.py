"""Caption jobs: WebVTT or SRT in, normalised WebVTT out (Zoom speaker names become voices)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from .. import captions
from ..context import Archive
from ..jobs import Heartbeat
from ..models import Asset
from .common import Outcome, fetch_original


def process_captions(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="cap-") as tmp:
        src = fetch_original(archive, asset, Path(tmp))
        cues = captions.parse(src.read_bytes())
    key = asset.derived_key(f"{asset.info['language']}.vtt")
    hb.check()
    archive.store.put_bytes(key, captions.to_vtt(cues).encode("utf-8"), "text/vtt; charset=utf-8")
    return Outcome(outputs={"vtt": key}, info={"cues": len(cues)},
                   texts=[{"at": c.start, "text": c.text} for c in cues if c.text.strip()])
