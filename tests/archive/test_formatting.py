"""The small formatters, each written once in archive/formatting.py."""
from __future__ import annotations

import pytest

from archive.describe import parse_start
from archive.formatting import file_size, hms, size_parts, vtt_timestamp


@pytest.mark.parametrize("seconds, short, long", [
    (0, "0:00", "0:00:00"),
    (4.4, "0:04", "0:00:04"),
    (59.6, "1:00", "0:01:00"),  # to the nearest second
    (750, "12:30", "0:12:30"),
    (3599.6, "1:00:00", "1:00:00"),
    (3723, "1:02:03", "1:02:03"),
    (12 * 3600, "12:00:00", "12:00:00"),
])
def test_hms(seconds, short, long):
    assert hms(seconds) == short
    assert hms(seconds, hours=True) == long


@pytest.mark.parametrize("seconds", [0, 4, 750, 3723, 36_000])
def test_a_clock_reads_back_as_a_start_time(seconds):
    for text in (hms(seconds), hms(seconds, hours=True)):
        assert parse_start(text) == seconds


@pytest.mark.parametrize("seconds, stamp", [
    (0, "00:00:00.000"),
    (1.5, "00:00:01.500"),
    (59.9996, "00:01:00.000"),  # never "00:00:60.000"
    (3723.0004, "01:02:03.000"),
    (-0.2, "00:00:00.000"),
])
def test_vtt_timestamp(seconds, stamp):
    assert vtt_timestamp(seconds) == stamp


@pytest.mark.parametrize("n, text", [
    (0, "0 B"),
    (999, "999 B"),
    (1000, "1 KB"),
    (1500, "1.5 KB"),
    (999_960, "1 MB"),  # rounds up into the next unit, not "1,000 KB"
    (12_345_678, "12.3 MB"),
    (500_000_000, "500 MB"),
    (10 * 1024 * 1024, "10.5 MB"),
    (2 * 1024**3, "2.1 GB"),
    (5 * 10**12, "5,000 GB"),
])
def test_file_size_is_decimal(n, text):
    assert file_size(n) == text


def test_size_parts_pick_the_unit():
    assert size_parts(1_234_567) == (1.2, "MB")
