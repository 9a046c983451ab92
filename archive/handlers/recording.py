"""Recording jobs: the fast path that makes the webinar watchable, then the renditions."""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, ImageStat

from .. import ffmpeg_commands as cmd, hls, media, presets, probe, storyboard
from ..context import Archive
from ..jobs import Heartbeat
from ..mediatypes import display_size
from ..models import Asset
from ..states import AssetStatus, EncodeState
from ..storage import StorageError
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
            on_progress=None, pass_fds: tuple[int, ...] = ()) -> None:
    media.run_ffmpeg(args, _limits(archive).ffmpeg(timeout), duration, on_progress, pass_fds=pass_fds)


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


def _poster(archive: Archive, info: probe.MediaInfo, src: Path, poster: Path, work: Path) -> None:
    at = _choose_poster_time(archive, info, src, work)
    _ffmpeg(archive, cmd.poster_at_args(src, poster, info, at), 600)


# S3 takes at most 10,000 parts: a part is this large, or larger for a file of over 150 GB.
STREAM_PART_BYTES = 16 * 1024 * 1024


def _copied(archive: Archive, asset: Asset, src: Path, hls_dir: Path, info: probe.MediaInfo,
            plan: probe.Plan, steps: Steps, pool: ThreadPoolExecutor, hb: Heartbeat) -> str:
    """The stream copy: one ffmpeg run writes the HLS rendition's single fragmented MP4
    (segments by byte range) down a pipe, and it is uploaded as it comes, never written
    to disk; the playlist is a small local file. That one object is also the MP4 that
    plays without HLS (a fragmented MP4 is still an MP4): the original is read once, one
    copy is made and sent. Returns its key."""
    hls_dir.mkdir(parents=True)
    key = asset.derived_key(f"hls/{hls.SOURCE}/{hls.MEDIA_FILE}")
    part = max(STREAM_PART_BYTES, -(-(asset.size or 0) // 9000))
    read_end, write_end = os.pipe()
    writer: Future = Future()

    def send() -> bytes | None:
        with open(read_end, "rb", buffering=0) as stream:
            return archive.store.upload_stream(stream, key, "video/mp4", writer, part, keep_head=1 << 20)

    sending = pool.submit(steps.run, "upload HLS media (as made)", send)
    try:
        with steps("ffmpeg (HLS)"):
            _ffmpeg(archive, cmd.hls_copy_args(src, hls_dir, info, plan, media_to=f"pipe:{write_end}"),
                    None, info.duration, lambda f: hb.progress(0.05 + f * 0.8), pass_fds=(write_end,))
        hb.check()  # a worker that lost the job completes no upload: its parts are dropped
    except BaseException:
        writer.set_result(False)
        os.close(write_end)
        if isinstance(sending.exception(), StorageError):  # ffmpeg stopped because the upload did
            sending.result()
        raise
    writer.set_result(True)
    os.close(write_end)
    head = sending.result()
    # What is left locally: the playlist, naming the media file instead of the pipe, and
    # the media file's first MiB (its init segment: the codecs are read from it).
    playlist = hls_dir / "index.m3u8"
    playlist.write_text(playlist.read_text().replace(f"pipe:{write_end}", hls.MEDIA_FILE))
    (hls_dir / hls.MEDIA_FILE).write_bytes(head or b"")
    return key


class _Stop(Exception):
    """Raised in ffmpeg's progress callback: stops the encode (runner kills it)."""


def _progressive_info(info: probe.MediaInfo) -> probe.MediaInfo:
    """The progressive rendition's picture: what progressive_hls_args makes of `info`."""
    w, h = display_size(info)
    out_h = int(min(h, presets.PROGRESSIVE["height"]) / 2) * 2
    return dataclasses.replace(info, width=int(out_h * w / h / 2) * 2, height=out_h, rotation=0,
                               video_codec="h264", pix_fmt="yuv420p", interlaced=False)


def _published_playlist(archive: Archive, key: str) -> tuple[list[tuple[float, str]], bool]:
    """What an earlier attempt published of the progressive rendition (nothing: [], False)."""
    try:
        return hls.segments_of(archive.store.get_bytes(key).decode("utf-8"))
    except StorageError:
        return [], False


def _progressive(archive: Archive, asset: Asset, src: Path, info: probe.MediaInfo, plan: probe.Plan,
                 work: Path, steps: Steps, pool: ThreadPoolExecutor, hb: Heartbeat,
                 public: threading.Event, decodes: Future) -> tuple[Path, dict]:
    """The progressive encode: ffmpeg writes the first rendition as HLS segments; each one
    goes to S3 as soon as it is complete, then the growing playlist (EVENT) that names it.
    Once the first segment is up the job publishes the rendition (hb.publish: the asset is
    watchable from then on). At the end the playlist is closed (ENDLIST).

    An earlier attempt that died left segments and a playlist that viewers are playing:
    they stay as they are. This attempt encodes from the start again (the same command
    makes the same names, boundaries and timestamps) without sending those segments again
    or touching the playlist until it has more than they do; then it carries on growing
    it. (A closed playlist is complete: its segments are fetched back instead.) Returns
    the folder holding the whole rendition (init segment, segments, `index.m3u8`) and its
    catalog entry. `public` is set once viewers may be playing it: from then on a
    failure deletes none of it. `decodes`: the decode check, running beside the encode;
    nothing is made public before it passes (a file that cannot be played stops the encode)."""
    prefix = asset.derived_key(f"hls/{hls.SOURCE}/")
    playlist_key = prefix + "index.m3u8"
    earlier, ended = _published_playlist(archive, playlist_key)
    if any(name != hls.segment_name(i) for i, (_, name) in enumerate(earlier)):
        earlier, ended = [], False  # not ours to continue: made again from the start
    if earlier and asset.status == AssetStatus.READY:
        public.set()
    out = work / "progressive"
    out.mkdir()
    out_info = _progressive_info(info)
    if ended:
        def fetch(name: str) -> None:
            archive.store.download_file(prefix + name, out / name)
        with steps("fetch the closed rendition"):
            for future in [pool.submit(fetch, n) for n in [hls.INIT_FILE] + [n for _, n in earlier]]:
                future.result()
        (out / "index.m3u8").write_text(hls.event_playlist(earlier, True))
        return out, hls.rendition_entry(hls.SOURCE, out / "index.m3u8", out_info, init_file=hls.INIT_FILE)

    stop = threading.Event()

    def on_progress(f: float) -> None:
        if stop.is_set():
            raise _Stop()
        hb.progress(0.05 + f * 0.8)

    args = cmd.progressive_hls_args(src, out, info, plan, archive.settings.web_x264_preset,
                                    readrate=archive.settings.progressive_readrate)
    encoding = pool.submit(steps.run, "ffmpeg (progressive HLS)", _ffmpeg, archive, args, None,
                           info.duration, on_progress)
    local = out / "index.m3u8"
    sent = 0  # segments of this run known to be in S3 (an earlier attempt's count as sent)
    listed = len(earlier)  # segments the published playlist names
    announced = public.is_set() or bool(asset.replaces)  # a replacement is shown at its end
    try:
        while True:
            finished = encoding.done()  # before the playlist: a last look then sees every segment
            made = hls.segments_of(local.read_text())[0] if local.exists() else []
            if len(made) > sent:
                with steps("upload segments (as made)"):
                    if sent == 0 and not earlier:
                        archive.store.upload_file(out / hls.INIT_FILE, prefix + hls.INIT_FILE, "video/mp4")
                    futures = [pool.submit(archive.store.upload_file, out / name, prefix + name,
                                           hls.CONTENT_TYPES[".m4s"])
                               for i, (_, name) in enumerate(made) if sent <= i and i >= len(earlier)]
                    for future in futures:
                        future.result()
                sent = len(made)
            if finished:
                encoding.result()  # an encode that failed closes no playlist
            if len(made) > listed or finished:
                hb.check()  # a worker that lost the job writes nothing more
                names = earlier + made[len(earlier):]
                archive.store.put_bytes(playlist_key, hls.event_playlist(names, finished).encode(),
                                        hls.PLAYLIST_TYPE)
                listed = len(names)
                if not announced:
                    steps.run("decode check wait", decodes.result)
                    entry = hls.rendition_entry(hls.SOURCE, local, out_info, init_file=hls.INIT_FILE)
                    steps.run("publish (watchable)", hb.publish, Outcome(
                        outputs={"renditions": {hls.SOURCE: entry}},
                        info={"web_plan": plan.summary(), "progressive": {"state": EncodeState.ENCODING}}))
                    public.set()
                    announced = True
            if finished:
                break
            if decodes.done() and decodes.exception() is not None:
                decodes.result()  # refused: the encode stops here
            time.sleep(0.2)
    except BaseException:
        stop.set()
        raise
    local.write_text(hls.event_playlist(hls.segments_of(local.read_text())[0], True))
    return out, hls.rendition_entry(hls.SOURCE, local, out_info, init_file=hls.INIT_FILE)


def _joined(folder: Path, playlist: Path, dst: Path) -> None:
    """The init segment and every segment, one after another: a fragmented MP4 that plays
    without HLS (the web MP4), made at the speed of the disk."""
    with open(dst, "wb") as out:
        for name in [hls.INIT_FILE] + [n for _, n in hls.segments_of(playlist.read_text())[0]]:
            with open(folder / name, "rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)


def process_recording(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    """The fast path: what makes the webinar watchable, by stream copy when possible.

    One download of the original, its checksum taken as it arrives (none at all when the
    check of a browser upload handed its checked copy on: see fetch_original); the decode check runs
    while it is remuxed and must pass before the job ends (its outputs are recorded only
    then: objects sent before a check fails are deleted). For H.264/AAC one ffmpeg run
    writes the HLS rendition, uploaded while it is written, and the poster is taken
    from the original at the same time. For an hour of H.264/AAC this is seconds."""
    steps = Steps()
    limits = _limits(archive)
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="rec-") as tmp, \
            ThreadPoolExecutor(max_workers=4) as pool:
        work = Path(tmp)
        src = steps.run("download + checksum (or the check's copy)", fetch_original, archive, asset, work)
        info = steps.run("probe", probe.probe, src, limits)
        # The decode check only gates the job's end: it runs while the renditions are made.
        decodes = pool.submit(steps.run, "decode check", probe.check_decodes, src, info, limits)
        hb.progress(0.05)
        plan = probe.plan_web(info)
        outputs: dict = {"poster": asset.derived_key("poster.jpg")}
        poster = work / "poster.jpg"
        hls_dir = work / "hls" / hls.SOURCE
        uploads: list[Future] = []
        public = threading.Event()  # viewers may be playing what this job published

        def publish(name: str, fn, *args) -> None:
            uploads.append(pool.submit(steps.run, name, fn, *args))

        try:
            if info.has_video and plan.fast:
                posting = pool.submit(steps.run, "poster", _poster, archive, info, src, poster, work)
                outputs["web"] = _copied(archive, asset, src, hls_dir, info, plan, steps, pool, hb)
                web_info = dataclasses.replace(info, demuxer="mov")  # a stream copy: the same streams, in MP4
                posting.result()
            elif plan.progressive:
                # The decode check runs beside the encode and gates what is made public.
                folder, entry = _progressive(archive, asset, src, info, plan, work, steps, pool, hb, public, decodes)
                web = work / "web.mp4"
                outputs["web"] = asset.derived_key("web.mp4")
                steps.run("join segments (web MP4)", _joined, folder, folder / "index.m3u8", web)
                hb.check()
                publish("upload web", archive.store.upload_file, web, outputs["web"], "video/mp4")
                steps.run("poster", _poster, archive, info, src, poster, work)
                outputs["renditions"] = {hls.SOURCE: entry}
            else:
                # Only the sound must be converted (or an audio-only recording): one quick pass.
                steps.run("decode check wait", decodes.result)
                web_name = "web.mp4" if info.has_video else "audio.m4a"
                web = work / web_name
                outputs["web"] = asset.derived_key(web_name)
                steps.run("ffmpeg (web MP4)", _ffmpeg, archive,
                          cmd.web_rendition_args(src, web, info, plan, archive.settings.web_x264_preset),
                          None, info.duration, lambda f: hb.progress(0.05 + f * 0.8))
                web_info = probe.probe(web, limits) if info.has_video else info
                if info.has_video:
                    hls_dir.mkdir(parents=True)
                    steps.run("ffmpeg (HLS)", _ffmpeg, archive,
                              cmd.hls_copy_args(web, hls_dir, web_info, probe.plan_web(web_info)))
                hb.check()
                publish("upload web", archive.store.upload_file, web, outputs["web"],
                        "video/mp4" if info.has_video else "audio/mp4")
                if info.has_video:
                    publish("upload HLS", _publish_renditions, archive, asset, work / "hls", hb)
                    steps.run("poster", _poster, archive, web_info, web, poster, work)
                else:
                    steps.run("poster", _ffmpeg, archive, cmd.waveform_poster_args(src, poster, info), 600)
            # Nothing is recorded from a file that cannot be played.
            warnings = steps.run("decode check wait", decodes.result)
            hb.check()
            if info.has_video and plan.fast:  # the playlist last: it names the media file
                publish("upload HLS playlist", archive.store.upload_file, hls_dir / "index.m3u8",
                        asset.derived_key(f"hls/{hls.SOURCE}/index.m3u8"), hls.PLAYLIST_TYPE)
            if info.has_video and not plan.progressive:
                entry = hls.rendition_entry(hls.SOURCE, hls_dir / "index.m3u8", web_info)
                outputs["renditions"] = {hls.SOURCE: entry}
            publish("upload poster", archive.store.upload_file, poster, outputs["poster"], "image/jpeg")
            for future in uploads:
                future.result()
        except BaseException:
            for future in uploads:
                future.cancel()
            if not public.is_set():
                _discard(archive, asset, hb)
            raise
        result_info = {**info.summary(), "web_plan": plan.summary()}
        if plan.progressive:
            result_info["progressive"] = {"state": EncodeState.DONE}
    steps.log(asset)
    return Outcome(outputs=outputs, info=result_info, warnings=warnings)


def _discard(archive: Archive, asset: Asset, hb: Heartbeat) -> None:
    """A failed fast path leaves no object behind (what it made is recorded nowhere). An
    asset that is already watchable (a retried job) keeps its files: its outputs name them;
    and a worker that lost the job deletes nothing: the keys are the new holder's now."""
    if asset.status == AssetStatus.READY:
        return
    try:
        hb.check()
    except Exception:  # LeaseLost, or the catalog cannot say: keep them
        return
    try:
        archive.store.delete_prefix(asset.derived_key(""))
    except StorageError:
        pass  # they stay under the asset's own prefix: a retry overwrites them, its removal deletes them


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
