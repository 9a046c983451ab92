"""The template filters that format: one per thing, the same on staff and public pages."""
from __future__ import annotations

import pytest


def _render(app, source: str, lang: str = "en", **values) -> str:
    with app.test_request_context(f"/?lang={lang}"):
        return app.jinja_env.from_string(source).render(**values)


def test_one_size_filter(app):
    assert "file_size" in app.jinja_env.filters
    assert "filesize" not in app.jinja_env.filters


@pytest.mark.parametrize("lang, n, text", [
    ("en", 10 * 1024 * 1024, "10.5 MB"),
    ("de", 10 * 1024 * 1024, "10,5 MB"),
    ("fr", 10 * 1024 * 1024, "10,5 Mo"),
    ("en", 500_000_000, "500 MB"),
    ("de", 1_234, "1,2 kB"),
    ("en", 0, "0 B"),  # an empty file, or nothing left to delete, still says so
])
def test_file_size_in_the_readers_language(app, lang, n, text):
    assert _render(app, "{{ n|file_size }}", lang, n=n) == text


def test_file_size_of_nothing_known(app):
    assert _render(app, "{{ n|file_size }}", n=None) == ""


@pytest.mark.parametrize("seconds, text", [(None, ""), (0, "0:00"), (4.4, "0:04"), (3723, "1:02:03")])
def test_duration(app, seconds, text):
    assert _render(app, "{{ s|duration }}", s=seconds) == text
