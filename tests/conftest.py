from __future__ import annotations

import os
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
from .services import (GunicornServer, MinioServer, PostgresServer, RedisServer, VersityServer, WorkerProcesses,
                       archive_env, free_port)


# The S3 servers tests marked `storage` run against (parametrized, ids [minio] and
# [versitygw]); `@pytest.mark.storage("minio")` names the ones a test needs. Every other
# test runs on MinIO alone.
S3_SERVERS = ("minio", "versitygw")


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("storage")
    if marker is not None and "s3" in metafunc.fixturenames:
        metafunc.parametrize("s3", marker.args or S3_SERVERS, indirect=True)


@pytest.fixture(scope="session")
def minio(tmp_path_factory):
    server = MinioServer(tmp_path_factory.mktemp("minio") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def versitygw(tmp_path_factory):
    server = VersityServer(tmp_path_factory.mktemp("versitygw") / "data")
    yield server
    server.stop()


@pytest.fixture
def s3(request) -> MinioServer | VersityServer:
    """The S3 server under test: MinIO, or each server for tests marked `storage`."""
    return request.getfixturevalue(getattr(request, "param", "minio"))


# The configuration the tests run in. By default one machine's: a SQLite catalog, the
# embedded queue, the worker in the test's own process, Werkzeug serving the browser.
# WEBINAR_ARCHIVE_TEST_CONFIG=scale-out gives them that of many machines: a PostgreSQL
# catalog, Redis wake-ups, two `webinar-archive worker` processes (the `worker` fixture)
# and gunicorn (the `live_server` fixture). scripts/test runs the tests marked `scaleout`
# (a large subset, the whole way from import or upload to pages) that way too.
SCALE_OUT = os.environ.get("WEBINAR_ARCHIVE_TEST_CONFIG", "") == "scale-out"


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def catalog_template(postgres) -> str:
    """A migrated PostgreSQL catalog that each scale-out test's database is copied from."""
    from archive.catalog import Catalog

    catalog = Catalog(postgres.create_database("catalog_template"))
    catalog.migrate()
    catalog.dispose()
    return "catalog_template"


@pytest.fixture
def configuration(request) -> dict[str, str]:
    """The settings that pick the configuration under test: none for the default one; a
    new PostgreSQL catalog and the Redis server for the scale-out one."""
    if not SCALE_OUT:
        return {}
    pg = request.getfixturevalue("postgres")
    return {"WEBINAR_ARCHIVE_DATABASE_URL": pg.create_database(template=request.getfixturevalue("catalog_template")),
            "WEBINAR_ARCHIVE_REDIS_URL": request.getfixturevalue("redis_server").url}


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("inputs"))


def make_settings(minio: MinioServer | VersityServer, tmp: Path, **overrides) -> Settings:
    return Settings.from_env(archive_env(minio, tmp, **overrides))


@pytest.fixture
def settings(s3, tmp_path, configuration) -> Settings:
    return make_settings(s3, tmp_path, **configuration)


@pytest.fixture
def archive(settings):
    a = Archive.from_settings(settings)
    a.setup()
    yield a
    a.close()


@pytest.fixture
def worker(archive, tmp_path):
    """The worker, in this process; in the scale-out configuration, two worker processes
    (tests.services.WorkerProcesses: run_until_idle, and a check that no job ran twice)."""
    if not SCALE_OUT:
        yield Worker(archive, name="test-worker")
        return
    workers = WorkerProcesses(archive, tmp_path / "workers")
    yield workers
    workers.stop()


@pytest.fixture
def app(archive):
    return create_app(archive, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app, archive, tmp_path):
    """The app on a real HTTP port, for the browser: Werkzeug in this process, or in the
    scale-out configuration `webinar-archive serve` (gunicorn, two processes)."""
    if SCALE_OUT:
        server = GunicornServer(archive.settings, tmp_path / "gunicorn.log")
        yield server.url
        server.stop()
        return
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
