"""Automatic captions in the catalog: recording them when the `transcribe` job ends, the
rule that human captions win, and staff corrections (which become human captions).

An automatic track is a captions asset with `automatic` set, one per recording and
language (`info.source` is the recording). Visitors and search see it only while no human
captions in its language are there; staff always see it.
"""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import captions, search
from .captions import human_languages, primary
from .models import Asset, Webinar
from .states import AssetStatus


def keys(webinar_id: str, captions_id: str, language: str) -> dict[str, str]:
    """Where an automatic track's files live: the asset's own keys (see Asset)."""
    return {"vtt": f"webinars/{webinar_id}/captions/{captions_id}/{language}.vtt",
            "words": f"webinars/{webinar_id}/captions/{captions_id}/words.json",
            "original": f"webinars/{webinar_id}/originals/{captions_id}/original.vtt"}


def _automatic_of(session: Session, webinar_id: str, language: str) -> list[Asset]:
    return [a for a in session.scalars(select(Asset).where(
        Asset.webinar_id == webinar_id, Asset.kind == "captions", Asset.automatic.is_(True)))
        if primary(a.info.get("language")) == primary(language)]


def record(session: Session, recording: Asset, records: dict) -> None:
    """The end of a `transcribe` job (in its finishing transaction): its automatic track
    is added or updated, and indexed unless human captions in its language are there."""
    made = records.get("captions")
    if not made:
        return
    body: bytes = made["vtt"]
    asset = session.get(Asset, made["id"])
    info = {"language": made["language"], "automatic": True, "detected": made["detected"],
            "source": recording.id, "cues": made["cues"]}
    if asset is None:
        asset = Asset(id=made["id"], webinar_id=recording.webinar_id, kind="captions", position=1000,
                      automatic=True)
        session.add(asset)
    asset.original_filename = f"{made['language']}-automatic.vtt"
    asset.original_ext, asset.content_type = "vtt", "text/vtt"
    asset.size, asset.sha256 = len(body), hashlib.sha256(body).hexdigest()
    asset.status, asset.error = AssetStatus.READY, None
    asset.info = info
    asset.outputs = {"vtt": made["keys"]["vtt"], "words": made["keys"]["words"]}
    session.flush()
    webinar = session.get(Webinar, recording.webinar_id)
    if primary(made["language"]) in human_languages(webinar.assets):
        search.remove_asset(session, asset)
    else:  # each word with its own time: a hit opens the moment the word is said
        search.index_asset(session, asset, made["words"])


def human_ready(session: Session, asset: Asset, records: dict) -> None:
    """Human captions are ready (a `process_captions` job's end): the automatic track in
    their language leaves the index (it stays for staff)."""
    if asset.automatic:
        return
    for auto in _automatic_of(session, asset.webinar_id, asset.info.get("language")):
        search.remove_asset(session, auto)


def human_gone(session: Session, store, webinar_id: str, language: str | None) -> None:
    """Human captions were deleted (in the caller's transaction, after the delete): when
    none in their language are left, the automatic track in it is found by search again,
    word by word from its stored words (the player shows it again by itself)."""
    left = list(session.scalars(select(Asset).where(Asset.webinar_id == webinar_id, Asset.kind == "captions")))
    if primary(language) in human_languages(left):
        return
    for auto in _automatic_of(session, webinar_id, language):
        if auto.status == AssetStatus.READY and auto.outputs.get("words"):
            words = json.loads(store.get_bytes(auto.outputs["words"]))
            search.index_asset(session, auto, [{"at": start, "text": text} for start, _, text in words])


def corrected_vtt(original: list[captions.Cue], texts: list[str]) -> bytes:
    """Staff's corrected text, cue by cue, on the original cues' times; an emptied cue is
    dropped."""
    if len(texts) != len(original):
        raise captions.CaptionsRejected("the transcript changed meanwhile: reload the page")
    cues = [captions.Cue(c.start, c.end, "\n".join(ln.strip() for ln in t.strip().splitlines() if ln.strip()))
            for c, t in zip(original, texts) if t.strip()]
    if not cues:
        raise captions.CaptionsRejected("no cue has any text")
    return captions.to_vtt(cues).encode("utf-8")
