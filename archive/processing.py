"""What the worker does with each job: make the derived files from an original.

Every handler downloads the original to local scratch space, checks its SHA-256,
writes its outputs under fixed keys (a rerun replaces, never duplicates) and
returns the asset's new info and outputs.
"""
from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from PIL import Image, ImageStat

from . import captions, ffmpeg_commands as cmd, media, office, probe, slides, storyboard
from .context import Archive
from .hashing import sha256_file
from .jobs import Heartbeat, PermanentError, enqueue
from .models import Asset, Job

Result = tuple[dict, dict]  # (info, outputs)


def _fetch_original(archive: Archive, asset: Asset, workdir: Path) -> Path:
    local = workdir / f"original.{asset.original_ext}"
    archive.store.download_file(asset.original_key, local)
    digest = sha256_file(local)
    if digest != asset.sha256:
        raise PermanentError(f"the stored original does not match its checksum "
                             f"(expected {asset.sha256[:12]}…, found {digest[:12]}…)")
    return local


def _limits(archive: Archive) -> media.ToolLimits:
    return media.ToolLimits.from_settings(archive.settings)


def _ffmpeg(archive: Archive, args: list[str], timeout: float | None = None, duration: float | None = None,
            on_progress=None) -> None:
    media.run_ffmpeg(args, _limits(archive).ffmpeg(timeout), duration, on_progress)


def _choose_poster_time(archive: Archive, info: probe.MediaInfo, src: Path, work: Path) -> float:
    """The first candidate frame that is neither black, white nor flat."""
    best, best_spread = 0.0, -1.0
    for i, at in enumerate(cmd.poster_candidates(info.duration)):
        sample = work / f"sample-{i}.png"
        try:
            _ffmpeg(archive, cmd.frame_sample_args(src, sample, info, at), 120)
            with Image.open(sample) as im:
                stat = ImageStat.Stat(im.convert("L"))
        except (media.MediaError, OSError):
            continue
        mean, spread = stat.mean[0], stat.stddev[0]
        if 24 < mean < 232 and spread > 12:
            return at
        if spread > best_spread:
            best, best_spread = at, spread
    return best


def _upload_files(archive: Archive, uploads: list[tuple[Path, str, str]]) -> None:
    """(file, key, content type) uploads, several at a time."""
    with ThreadPoolExecutor(max_workers=archive.settings.upload_threads) as pool:
        for future in [pool.submit(archive.store.upload_file, f, key, ctype) for f, key, ctype in uploads]:
            future.result()


def _upload_tree(archive: Archive, local_dir: Path, key_prefix: str, content_types: dict[str, str]) -> list[str]:
    uploads = [(f, key_prefix + f.relative_to(local_dir).as_posix(),
                content_types.get(f.suffix, "application/octet-stream"))
               for f in sorted(local_dir.rglob("*")) if f.is_file()]
    _upload_files(archive, uploads)
    return [key for _, key, _ in uploads]



_HLS_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}


def _segment_sizes(playlist: Path) -> tuple[list[float], list[int], int]:
    """Durations and byte sizes of a media playlist's segments, and the init size."""
    durations, sizes, init = [], [], 0
    pending_range = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            durations.append(float(line.split(":", 1)[1].rstrip(",")))
        elif line.startswith("#EXT-X-BYTERANGE:"):
            pending_range = int(line.split(":", 1)[1].split("@")[0])
        elif line.startswith("#EXT-X-MAP:") and "BYTERANGE=" in line:
            init = int(line.split('BYTERANGE="', 1)[1].split("@")[0])
        elif line and not line.startswith("#"):
            sizes.append(pending_range if pending_range is not None else (playlist.parent / line).stat().st_size)
            pending_range = None
    return durations, sizes, init


def _rendition_entry(name: str, playlist: Path, info: probe.MediaInfo) -> dict:
    """BANDWIDTH from the largest segment, AVERAGE-BANDWIDTH from the total."""
    durations, sizes, init = _segment_sizes(playlist)
    total_bits = (sum(sizes) + init) * 8
    total_time = sum(durations) or info.duration
    peak = max((sz * 8 / d for sz, d in zip(sizes, durations) if d > 0), default=total_bits / total_time)
    w, h = probe.display_size(info)
    return {"name": name, "playlist": f"{name}/index.m3u8", "bandwidth": int(peak),
            "average_bandwidth": int(total_bits / total_time), "width": w, "height": h,
            "frame_rate": round(info.fps, 3) if info.fps else None,
            "codecs": ",".join(probe.codec_strings_of(playlist.parent / cmd.HLS_MEDIA_FILE))}


def master_playlist(renditions: list[dict]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in sorted(renditions, key=lambda r: r["bandwidth"]):
        attrs = [f"BANDWIDTH={r['bandwidth']}", f"AVERAGE-BANDWIDTH={r['average_bandwidth']}",
                 f"RESOLUTION={r['width']}x{r['height']}", f'CODECS="{r["codecs"]}"']
        if r.get("frame_rate"):
            attrs.append(f"FRAME-RATE={r['frame_rate']:.3f}")
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), r["playlist"]]
    return "\n".join(lines) + "\n"


def _publish_hls(archive: Archive, asset: Asset, hls_dir: Path, entries: list[dict]) -> str:
    """Upload renditions, then the master playlist last, so it never names a missing file."""
    _upload_tree(archive, hls_dir, asset.derived_key("hls/"), _HLS_TYPES)
    master = asset.derived_key("hls/master.m3u8")
    archive.store.put_bytes(master, master_playlist(entries).encode(), _HLS_TYPES[".m3u8"])
    return master


def ensure_job(archive: Archive, asset_id: str, kind: str) -> None:
    """Queue `kind` for the asset unless it is already queued, running or done."""
    with archive.catalog.transaction() as s:
        exists = s.query(Job).filter(Job.asset_id == asset_id, Job.kind == kind,
                                     Job.state.in_(("queued", "running", "done"))).count()
        if not exists:
            enqueue(s, asset_id, kind, max_attempts=archive.settings.job_max_attempts)


def process_recording(archive: Archive, asset: Asset, hb: Heartbeat) -> Result:
    """The fast path: what makes the webinar watchable, by stream copy when possible.

    The web MP4 and the single HLS rendition are made side by side from the original,
    and uploaded side by side: for an hour of H.264/AAC this is seconds of work."""
    timeout = archive.settings.ffmpeg_timeout_seconds
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="rec-") as tmp:
        work = Path(tmp)
        src = _fetch_original(archive, asset, work)
        info = probe.probe(src, _limits(archive))
        warnings = probe.check_decodes(src, info, _limits(archive))
        hb.progress(0.05)
        plan = probe.plan_web(info)
        web_name = "web.mp4" if info.has_video else "audio.m4a"
        web = work / web_name
        outputs: dict = {"web": asset.derived_key(web_name), "poster": asset.derived_key("poster.jpg")}
        poster = work / "poster.jpg"
        with ThreadPoolExecutor(max_workers=2) as pool:
            hls_job = None
            if info.has_video and plan.fast:
                hls = work / "hls" / "source"
                hls.mkdir(parents=True)
                hls_job = pool.submit(_ffmpeg, archive, cmd.hls_copy_args(src, hls, info, plan), timeout)
            # Stream copy takes seconds; an encode reports progress as it goes.
            _ffmpeg(archive, cmd.web_rendition_args(src, web, info, plan, archive.settings.web_x264_preset), timeout, info.duration,
                    lambda f: hb.progress(0.05 + f * 0.8))
            web_ctype = "video/mp4" if info.has_video else "audio/mp4"
            web_upload = pool.submit(archive.store.upload_file, web, outputs["web"], web_ctype)
            if info.has_video:
                web_info = probe.probe(web, _limits(archive))
                if hls_job is None:
                    # An encode: the HLS rendition is copied from the new web.mp4.
                    hls = work / "hls" / "source"
                    hls.mkdir(parents=True)
                    hls_job = pool.submit(_ffmpeg, archive, cmd.hls_copy_args(
                        web, hls, web_info, probe.plan_web(web_info)), timeout)
                at = _choose_poster_time(archive, web_info, web, work)
                _ffmpeg(archive, cmd.poster_at_args(web, poster, web_info, at), 600)
                hls_job.result()
                entry = _rendition_entry("source", hls / "index.m3u8", web_info)
                outputs["hls"] = _publish_hls(archive, asset, work / "hls", [entry])
                outputs["hls_renditions"] = [entry]
            else:
                _ffmpeg(archive, cmd.waveform_poster_args(src, poster, info), 600)
            archive.store.upload_file(poster, outputs["poster"], "image/jpeg")
            web_upload.result()
        result_info = {**info.summary(), "web_plan": {"video": plan.video, "audio": plan.audio}}
        if warnings:
            result_info["warnings"] = warnings
    ensure_job(archive, asset.id, "recording_renditions")
    return result_info, {**asset.outputs, **outputs}


def recording_renditions(archive: Archive, asset: Asset, hb: Heartbeat) -> Result:
    """What follows the fast path: the HLS ladder, audio downloads, the storyboard."""
    timeout = archive.settings.ffmpeg_timeout_seconds
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="ren-") as tmp:
        work = Path(tmp)
        src = _fetch_original(archive, asset, work)
        info = probe.probe(src, _limits(archive))
        outputs: dict = {}
        if info.has_audio:
            for codec, ctype in (("m4a", "audio/mp4"), ("mp3", "audio/mpeg")):
                dst = work / f"audio.{codec}"
                _ffmpeg(archive, cmd.audio_args(src, dst, info, codec), timeout)
                outputs[f"audio_{codec}"] = asset.derived_key(dst.name)
                archive.store.upload_file(dst, outputs[f"audio_{codec}"], ctype)
        hb.progress(0.1)
        if info.has_video:
            interval = storyboard.storyboard_interval(info.duration)
            sb = work / "storyboard"
            sb.mkdir()
            _ffmpeg(archive, cmd.storyboard_args(src, sb, info, interval), timeout)
            sheets = sorted(p.name for p in sb.glob("storyboard-*.jpg"))
            (sb / "storyboard.vtt").write_text(storyboard.storyboard_vtt(info, interval, sheets))
            _upload_tree(archive, sb, asset.derived_key("storyboard/"), {".jpg": "image/jpeg", ".vtt": "text/vtt"})
            outputs["storyboard"] = asset.derived_key("storyboard/storyboard.vtt")
            hb.progress(0.2)

            rungs = probe.ladder_rungs(info)
            hls = work / "hls"
            for rung in rungs:
                (hls / rung["name"]).mkdir(parents=True)
            _ffmpeg(archive, cmd.hls_ladder_args(src, hls, info, rungs), timeout, info.duration,
                             lambda f: hb.progress(0.2 + f * 0.75))
            entries = []
            for rung in rungs:
                playlist = hls / rung["name"] / "index.m3u8"
                entry = _rendition_entry(rung["name"], playlist, info)
                entry.update(width=rung["width"], height=rung["height"])
                entries.append(entry)
            outputs["hls"] = _publish_hls(archive, asset, hls, entries)
            outputs["hls_renditions"] = entries
        info_out = {k: v for k, v in asset.info.items() if k != "failures"}
        info_out["renditions"] = "ready"
    return info_out, {**asset.outputs, **outputs}


def process_slides(archive: Archive, asset: Asset, hb: Heartbeat) -> Result:
    """PDF pages as images and text; a PPTX/ODP is made safe and converted to PDF first.

    Everything that can reject the deck runs before the first upload.
    """
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="deck-") as tmp:
        work = Path(tmp)
        src = _fetch_original(archive, asset, work)
        info = dict(asset.info)
        converted = asset.original_ext != "pdf"
        if converted:
            fmt = office.FORMATS.get(asset.original_ext)
            if fmt is None:
                raise PermanentError(f"slides stored as .{asset.original_ext} cannot be converted")
            clean = work / f"clean.{fmt.ext}"
            removed = office.sanitize_package(src, clean)
            if removed:
                info["external_links_removed"] = removed
            pdf = work / "deck.pdf"
            office.convert_to_pdf(clean, pdf, fmt, office.TIMEOUT_SECONDS, tmp_root=work)
            hb.progress(0.3)
        else:
            pdf = src
        deck = slides.inspect_pdf(pdf)
        hb.progress(0.4 if converted else 0.1)
        images = slides.render_pages(pdf, work / "pages")
        hb.progress(0.8)
        texts = slides.page_texts(pdf)
        pages: dict[str, list[str]] = {}
        for size, files in images.items():
            pages[size] = []
            for f in files:
                key = asset.derived_key(f"pages/{f.name}")
                archive.store.upload_file(f, key, "image/webp")
                pages[size].append(key)
        text_key = asset.derived_key("text.json")
        archive.store.put_bytes(text_key, json.dumps({"pages": texts}, ensure_ascii=False).encode(),
                                "application/json")
        info["page_count"] = deck.page_count
        if deck.title:
            info["title"] = deck.title
        if converted:
            pdf_key = asset.derived_key("deck.pdf")
            archive.store.upload_file(pdf, pdf_key, "application/pdf")
        else:  # the PDF original is already the canonical PDF: point at it, do not copy it
            pdf_key = asset.original_key
        return info, {"pdf": pdf_key, "pages": pages, "text": text_key}


def process_captions(archive: Archive, asset: Asset, hb: Heartbeat) -> Result:
    """WebVTT or SRT in, normalised WebVTT out (Zoom speaker names become voices)."""
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="cap-") as tmp:
        src = _fetch_original(archive, asset, Path(tmp))
        cues = captions.parse(src.read_bytes())
    key = asset.derived_key(f"{asset.info['language']}.vtt")
    archive.store.put_bytes(key, captions.to_vtt(cues).encode("utf-8"), "text/vtt; charset=utf-8")
    return {**asset.info, "cues": len(cues)}, {"vtt": key}


HANDLERS: dict[str, Callable[[Archive, Asset, Heartbeat], Result]] = {
    "process_recording": process_recording,
    "recording_renditions": recording_renditions,
    "process_captions": process_captions,
    "process_slides": process_slides,
}

# Jobs that make an asset watchable; the others run after and never hide it.
WATCHABLE_KINDS = ("process_recording", "process_slides", "process_captions")

PERMANENT = (PermanentError, media.MediaRejected, slides.SlidesRejected, captions.CaptionsRejected)
