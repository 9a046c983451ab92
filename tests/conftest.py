from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from archive.config import Settings
from archive.context import Archive
from archive.worker import Worker
from web import create_app

from .browser import browser_page
from .media_inputs import make_inputs
from .services import MinioServer, archive_env, free_port


@pytest.fixture(scope="session")
def minio(tmp_path_factory):
    server = MinioServer(tmp_path_factory.mktemp("minio") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("inputs"))


def make_settings(minio: MinioServer, tmp: Path, **overrides) -> Settings:
    return Settings.from_env(archive_env(minio, tmp, **overrides))


@pytest.fixture
def settings(minio, tmp_path) -> Settings:
    return make_settings(minio, tmp_path)


@pytest.fixture
def archive(settings):
    a = Archive.from_settings(settings)
    a.setup()
    yield a
    a.close()


@pytest.fixture
def worker(archive) -> Worker:
    return Worker(archive, name="test-worker")


@pytest.fixture
def app(archive):
    return create_app(archive, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app):
    """The app on a real HTTP port, for the browser."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(tmp_path):
    """A fresh browser page (Debian's chromium); no page it opens may break the CSP."""
    with browser_page(tmp_path / "chromium-profile") as p:
        yield p


@pytest.fixture
def webinar_id(archive) -> str:
    """A webinar with nothing in it yet (a draft): what staff upload files into."""
    from archive.models import Webinar, new_id

    wid = new_id()
    with archive.catalog.transaction() as s:
        s.add(Webinar(id=wid, title="Uploaded in the browser"))
    return wid
