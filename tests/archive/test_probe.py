"""What a probe makes of a file: malformed headers and tags are refusals with a sentence,
never a traceback."""
from __future__ import annotations

import copy

import pytest

from archive import probe
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.media import MediaRejected

from ..media_inputs import ffmpeg

GOOD = {
    "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "4.0", "bit_rate": "400000"},
    "streams": [
        {"codec_type": "video", "codec_name": "h264", "width": 320, "height": 240,
         "pix_fmt": "yuv420p", "avg_frame_rate": "25/1", "tags": {}},
        {"codec_type": "audio", "codec_name": "aac", "channels": 2},
    ],
}


def _with(path: list, value):
    data = copy.deepcopy(GOOD)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def test_a_good_description():
    info = probe.media_info_from_probe(GOOD, 200_000)
    assert (info.video_codec, info.width, info.height, info.fps, info.rotation) == ("h264", 320, 240, 25.0, 0)


@pytest.mark.parametrize("path, value, reason", [
    (["streams", 0, "tags"], {"rotate": "abc"}, "rotate tag 'abc' is not a whole number"),
    (["streams", 0, "tags"], {"rotate": "45"}, "only quarter turns"),
    (["streams", 0, "side_data_list"], [{"rotation": "x"}], "not a number of degrees"),
    (["streams", 0, "width"], "wide", "no picture size"),
    (["streams", 0, "height"], -240, "no picture size"),
    (["streams", 0, "codec_name"], None, "codec is unknown"),
    (["format", "duration"], "nan", "no duration"),
    (["format", "duration"], "inf", "no duration"),
    (["format", "duration"], "1e400", "no duration"),
    (["format", "duration"], [], "no duration"),
    (["format", "format_name"], 7, "is not accepted"),
    (["format"], "not a dict", "is not accepted"),
    (["streams"], [None, "x", 3], "neither a video nor an audio stream"),
])
def test_malformed_descriptions_are_refusals(path, value, reason):
    with pytest.raises(MediaRejected, match=reason):
        probe.media_info_from_probe(_with(path, value), 200_000)


@pytest.mark.parametrize("path, value, expect", [
    (["streams", 0, "tags"], {"rotate": "-90"}, ("rotation", -90)),
    (["streams", 0, "tags"], {"rotate": "270"}, ("rotation", -90)),
    (["streams", 0, "avg_frame_rate"], "0/0", ("fps", None)),
    (["streams", 0, "avg_frame_rate"], "abc/1", ("fps", None)),
    (["streams", 1, "channels"], "many", ("audio_channels", None)),
    (["format", "bit_rate"], "N/A", ("bit_rate", None)),
])
def test_odd_but_harmless_values_are_ignored(path, value, expect):
    info = probe.media_info_from_probe(_with(path, value), 200_000)
    assert getattr(info, expect[0]) == expect[1]


def test_a_malformed_rotate_tag_is_a_clear_refusal_at_import(archive, tmp_path):
    # ffmpeg's Matroska muxer drops a rotate tag; write another and rename it in the bytes.
    made = tmp_path / "rotatf.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=1", "-c:v", "libx264", "-preset", "ultrafast",
           "-metadata:s:v:0", "rotatf=abc", str(made))
    clip = tmp_path / "rotate-abc.mkv"
    clip.write_bytes(made.read_bytes().replace(b"ROTATF", b"rotate"))
    with pytest.raises(ImportRejected, match="rotate tag 'abc' is not a whole number of degrees"):
        import_webinar(archive, ImportRequest(title="Rotated", recording=clip))
