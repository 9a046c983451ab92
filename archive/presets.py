"""Encoding presets as plain data: change the ladder here, in one place."""
from __future__ import annotations

# HLS renditions, smallest first. A source never gets a rung above its own height;
# one smaller than 360 lines gets a single rung at its own size.
LADDER: list[dict] = [
    {"name": "360p", "height": 360, "video_kbps": 700, "audio_kbps": 96},
    {"name": "540p", "height": 540, "video_kbps": 1400, "audio_kbps": 128},
    {"name": "720p", "height": 720, "video_kbps": 2500, "audio_kbps": 128},
    {"name": "1080p", "height": 1080, "video_kbps": 4500, "audio_kbps": 160},
]
HLS_SEGMENT_SECONDS = 6
X264_PRESET = "veryfast"

# The progressive rendition: what a recording that must be encoded plays first, encoded as
# HLS segments published as they are made (Settings.web_x264_preset). At most this many
# lines, so that an hour encodes well ahead of a viewer (the ladder adds 1080p later).
PROGRESSIVE = {"height": 720, "crf": 23, "audio_kbps": 128}

# Audio-only downloads: M4A for players, MP3 for podcast apps.
AUDIO_M4A_KBPS = 96
AUDIO_MP3_KBPS = 96

# Storyboard: at most this many thumbnails, never closer than MIN_INTERVAL seconds.
STORYBOARD_MAX_THUMBS = 200
STORYBOARD_MIN_INTERVAL = 2.0
STORYBOARD_WIDTH = 160
STORYBOARD_COLUMNS = 10
STORYBOARD_ROWS = 10

# Limits on what we accept.
MAX_WIDTH, MAX_HEIGHT = 3840, 2160
MAX_DURATION_SECONDS = 12 * 3600
MAX_AUDIO_STREAMS = 8
MIN_BYTES_PER_SECOND = 64  # below this, the declared duration is not believable
