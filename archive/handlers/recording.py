"""Recording jobs: the fast path that makes the webinar watchable, then the renditions."""
from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageStat

from .. import ffmpeg_commands as cmd, hls, media, probe, storyboard
from ..context import Archive
from ..jobs import Heartbeat
from ..models import Asset
from .common import Outcome, fetch_original, upload_tree


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


def _publish_renditions(archive: Archive, asset: Asset, hls_dir: Path, hb: Heartbeat) -> None:
    hb.check()
    upload_tree(archive, hls_dir, asset.derived_key("hls/"), hls.CONTENT_TYPES)


def process_recording(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    """The fast path: what makes the webinar watchable, by stream copy when possible.

    The web MP4 and the single HLS rendition are made side by side from the original,
    and uploaded side by side: for an hour of H.264/AAC this is seconds of work."""
    timeout = archive.settings.ffmpeg_timeout_seconds
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="rec-") as tmp:
        work = Path(tmp)
        src = fetch_original(archive, asset, work)
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
                hls_dir = work / "hls" / hls.SOURCE
                hls_dir.mkdir(parents=True)
                hls_job = pool.submit(_ffmpeg, archive, cmd.hls_copy_args(src, hls_dir, info, plan), timeout)
            # Stream copy takes seconds; an encode reports progress as it goes.
            _ffmpeg(archive, cmd.web_rendition_args(src, web, info, plan, archive.settings.web_x264_preset), timeout, info.duration,
                    lambda f: hb.progress(0.05 + f * 0.8))
            hb.check()
            web_ctype = "video/mp4" if info.has_video else "audio/mp4"
            web_upload = pool.submit(archive.store.upload_file, web, outputs["web"], web_ctype)
            if info.has_video:
                web_info = probe.probe(web, _limits(archive))
                if hls_job is None:
                    # An encode: the HLS rendition is copied from the new web.mp4.
                    hls_dir = work / "hls" / hls.SOURCE
                    hls_dir.mkdir(parents=True)
                    hls_job = pool.submit(_ffmpeg, archive, cmd.hls_copy_args(
                        web, hls_dir, web_info, probe.plan_web(web_info)), timeout)
                at = _choose_poster_time(archive, web_info, web, work)
                _ffmpeg(archive, cmd.poster_at_args(web, poster, web_info, at), 600)
                hls_job.result()
                entry = hls.rendition_entry(hls.SOURCE, hls_dir / "index.m3u8", web_info)
                _publish_renditions(archive, asset, work / "hls", hb)
                outputs["renditions"] = {hls.SOURCE: entry}
            else:
                _ffmpeg(archive, cmd.waveform_poster_args(src, poster, info), 600)
            hb.check()
            archive.store.upload_file(poster, outputs["poster"], "image/jpeg")
            web_upload.result()
        result_info = {**info.summary(), "web_plan": {"video": plan.video, "audio": plan.audio}}
    return Outcome(outputs=outputs, info=result_info, warnings=warnings)


def recording_renditions(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    """What follows the fast path: the HLS ladder, audio downloads, the storyboard."""
    timeout = archive.settings.ffmpeg_timeout_seconds
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="ren-") as tmp:
        work = Path(tmp)
        src = fetch_original(archive, asset, work)
        info = probe.probe(src, _limits(archive))
        outputs: dict = {}
        if info.has_audio:
            for codec, ctype in (("m4a", "audio/mp4"), ("mp3", "audio/mpeg")):
                dst = work / f"audio.{codec}"
                _ffmpeg(archive, cmd.audio_args(src, dst, info, codec), timeout)
                outputs[f"audio_{codec}"] = asset.derived_key(dst.name)
                hb.check()
                archive.store.upload_file(dst, outputs[f"audio_{codec}"], ctype)
        hb.progress(0.1)
        if info.has_video:
            interval = storyboard.storyboard_interval(info.duration)
            sb = work / "storyboard"
            sb.mkdir()
            _ffmpeg(archive, cmd.storyboard_args(src, sb, info, interval), timeout)
            sheets = sorted(p.name for p in sb.glob("storyboard-*.jpg"))
            (sb / "storyboard.vtt").write_text(storyboard.storyboard_vtt(info, interval, sheets))
            hb.check()
            upload_tree(archive, sb, asset.derived_key("storyboard/"), {".jpg": "image/jpeg", ".vtt": "text/vtt"})
            outputs["storyboard"] = asset.derived_key("storyboard/storyboard.vtt")
            hb.progress(0.2)

            rungs = probe.ladder_rungs(info)
            hls_dir = work / "hls"
            for rung in rungs:
                (hls_dir / rung["name"]).mkdir(parents=True)
            _ffmpeg(archive, cmd.hls_ladder_args(src, hls_dir, info, rungs), timeout, info.duration,
                    lambda f: hb.progress(0.2 + f * 0.75))
            renditions = {}
            for rung in rungs:
                entry = hls.rendition_entry(rung["name"], hls_dir / rung["name"] / "index.m3u8", info)
                entry.update(width=rung["width"], height=rung["height"])
                renditions[rung["name"]] = entry
            _publish_renditions(archive, asset, hls_dir, hb)
            outputs["renditions"] = renditions
    return Outcome(outputs=outputs, info={"renditions": "ready"})
