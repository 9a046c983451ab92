"""Recording jobs: the fast path that makes the webinar watchable, then the renditions."""
from __future__ import annotations

import dataclasses
import logging
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, ImageStat

from .. import ffmpeg_commands as cmd, hls, media, probe, storyboard
from ..context import Archive
from ..hashing import sha256_file
from ..jobs import Heartbeat, PermanentError
from ..models import Asset
from .common import Outcome, fetch_original, upload_tree

# Each fast path logs its breakdown here (`extra={"steps": ...}`); bench/processing.py prints it.
step_log = logging.getLogger("archive.steps")


class Steps:
    """When each step started and ended, in seconds from the job's start (steps overlap)."""

    def __init__(self):
        self._t0 = time.perf_counter()
        self._lock = threading.Lock()
        self.times: dict[str, tuple[float, float]] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter() - self._t0
        try:
            yield
        finally:
            with self._lock:
                self.times[name] = (round(start, 3), round(time.perf_counter() - self._t0, 3))

    def run(self, name: str, fn, *args, **kwargs):
        with self(name):
            return fn(*args, **kwargs)

    def log(self, asset: Asset) -> None:
        text = ", ".join(f"{n} {e - s:.2f} s" for n, (s, e) in sorted(self.times.items(), key=lambda kv: kv[1]))
        step_log.info("fast path for asset %s: %s", asset.id, text, extra={"steps": dict(self.times)})


def _limits(archive: Archive) -> media.ToolLimits:
    return media.ToolLimits.from_settings(archive.settings)


def _ffmpeg(archive: Archive, args: list[str], timeout: float | None = None, duration: float | None = None,
            on_progress=None) -> None:
    media.run_ffmpeg(args, _limits(archive).ffmpeg(timeout), duration, on_progress)


def _verify_checksum(path: Path, asset: Asset) -> None:
    digest = sha256_file(path)
    if digest != asset.sha256:
        raise PermanentError(f"the stored original does not match its checksum "
                             f"(expected {asset.sha256[:12]}…, found {digest[:12]}…)")


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


def _remux(archive: Archive, src: Path, web: Path, hls_dir: Path, info: probe.MediaInfo,
           plan: probe.Plan, hb: Heartbeat) -> None:
    """Both renditions in one run, the MP4's index in space reserved for it; should the
    reserve be too small (an odd stream), once more with a faststart pass."""
    def progress(f: float) -> None:
        hb.progress(0.05 + f * 0.8)

    try:
        _ffmpeg(archive, cmd.fast_path_args(src, web, hls_dir, info, plan, cmd.moov_reserve(info)),
                None, info.duration, progress)
    except media.MediaError as e:
        if "reserved_moov_size is too small" not in e.log:
            raise
        _ffmpeg(archive, cmd.fast_path_args(src, web, hls_dir, info, plan), None, info.duration, progress)


def _publish_renditions(archive: Archive, asset: Asset, hls_dir: Path, hb: Heartbeat) -> None:
    hb.check()
    upload_tree(archive, hls_dir, asset.derived_key("hls/"), hls.CONTENT_TYPES)


def process_recording(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    """The fast path: what makes the webinar watchable, by stream copy when possible.

    One download of the original; its checksum and the decode check run while it is
    remuxed, and both must pass before anything is published. For H.264/AAC one ffmpeg
    run writes both the HLS rendition and the faststart MP4; the two uploads and the
    poster run side by side. For an hour of H.264/AAC this is seconds of work."""
    steps = Steps()
    limits = _limits(archive)
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="rec-") as tmp, \
            ThreadPoolExecutor(max_workers=4) as pool:
        work = Path(tmp)
        src = work / f"original.{asset.original_ext}"
        steps.run("download", archive.store.download_file, asset.original_key, src)
        checksum = pool.submit(steps.run, "checksum", _verify_checksum, src, asset)
        try:
            info = steps.run("probe", probe.probe, src, limits)
        except media.MediaError:
            checksum.result()  # a tampered original is reported as such, not as bad media
            raise
        # The decode check only gates publishing: it runs while the renditions are made.
        decodes = pool.submit(steps.run, "decode check", probe.check_decodes, src, info, limits)
        hb.progress(0.05)
        plan = probe.plan_web(info)
        web_name = "web.mp4" if info.has_video else "audio.m4a"
        web = work / web_name
        outputs: dict = {"web": asset.derived_key(web_name), "poster": asset.derived_key("poster.jpg")}
        poster = work / "poster.jpg"
        hls_dir = work / "hls" / hls.SOURCE
        uploads: list[Future] = []

        def publish(name: str, fn, *args) -> None:
            uploads.append(pool.submit(steps.run, name, fn, *args))

        web_ctype = "video/mp4" if info.has_video else "audio/mp4"
        if info.has_video and plan.fast:
            hls_dir.mkdir(parents=True)
            with steps("ffmpeg (HLS + web MP4)"):
                _remux(archive, src, web, hls_dir, info, plan, hb)
            web_info = dataclasses.replace(info, demuxer="mov")  # a stream copy: the same streams, in MP4
        else:
            # An encode is long: a file that cannot be played is refused before it starts.
            # It reports progress as it goes; the HLS rendition is copied from it.
            steps.run("checksum wait", checksum.result)
            steps.run("decode check wait", decodes.result)
            steps.run("ffmpeg (web MP4)", _ffmpeg, archive,
                      cmd.web_rendition_args(src, web, info, plan, archive.settings.web_x264_preset),
                      None, info.duration, lambda f: hb.progress(0.05 + f * 0.8))
            web_info = probe.probe(web, limits) if info.has_video else info
            if info.has_video:
                hls_dir.mkdir(parents=True)
                steps.run("ffmpeg (HLS)", _ffmpeg, archive,
                          cmd.hls_copy_args(web, hls_dir, web_info, probe.plan_web(web_info)))
        # Nothing is published from a wrong original or one that cannot be played.
        steps.run("checksum wait", checksum.result)
        warnings = steps.run("decode check wait", decodes.result)
        hb.check()
        publish("upload web", archive.store.upload_file, web, outputs["web"], web_ctype)
        if info.has_video:
            publish("upload HLS", _publish_renditions, archive, asset, work / "hls", hb)
            entry = hls.rendition_entry(hls.SOURCE, hls_dir / "index.m3u8", web_info)
            outputs["renditions"] = {hls.SOURCE: entry}
            with steps("poster"):
                at = _choose_poster_time(archive, web_info, web, work)
                _ffmpeg(archive, cmd.poster_at_args(web, poster, web_info, at), 600)
        else:
            steps.run("poster", _ffmpeg, archive, cmd.waveform_poster_args(src, poster, info), 600)
        hb.check()
        publish("upload poster", archive.store.upload_file, poster, outputs["poster"], "image/jpeg")
        for future in uploads:
            future.result()
        result_info = {**info.summary(), "web_plan": {"video": plan.video, "audio": plan.audio}}
    steps.log(asset)
    return Outcome(outputs=outputs, info=result_info, warnings=warnings)


def recording_renditions(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    """What follows the fast path: the HLS ladder, audio downloads, the storyboard."""
    limits = _limits(archive)
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="ren-") as tmp:
        work = Path(tmp)
        src = fetch_original(archive, asset, work)
        info = probe.probe(src, limits)
        outputs: dict = {}
        if info.has_audio:
            for codec, ctype in (("m4a", "audio/mp4"), ("mp3", "audio/mpeg")):
                dst = work / f"audio.{codec}"
                _ffmpeg(archive, cmd.audio_args(src, dst, info, codec))
                outputs[f"audio_{codec}"] = asset.derived_key(dst.name)
                hb.check()
                archive.store.upload_file(dst, outputs[f"audio_{codec}"], ctype)
        hb.progress(0.1)
        if info.has_video:
            interval = storyboard.storyboard_interval(info.duration)
            sb = work / "storyboard"
            sb.mkdir()
            _ffmpeg(archive, cmd.storyboard_args(src, sb, info, interval))
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
            _ffmpeg(archive, cmd.hls_ladder_args(src, hls_dir, info, rungs), None, info.duration,
                    lambda f: hb.progress(0.2 + f * 0.75))
            renditions = {}
            for rung in rungs:
                entry = hls.rendition_entry(rung["name"], hls_dir / rung["name"] / "index.m3u8", info)
                entry.update(width=rung["width"], height=rung["height"])
                renditions[rung["name"]] = entry
            _publish_renditions(archive, asset, hls_dir, hb)
            outputs["renditions"] = renditions
    return Outcome(outputs=outputs, info={"renditions": "ready"})
