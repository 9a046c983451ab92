"""The web app's session key: never the development key published with the code once
anything is reachable from elsewhere; scripts/run and the tests make one per data folder."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from archive.config import DEVELOPMENT_SESSION_KEY, ConfigError, Settings, read_env_file

from ..services import ROOT, session_key

LOOPBACK = {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_SECRET_ACCESS_KEY": "a-real-secret",
            "WEBINAR_ARCHIVE_PUBLIC_URL": "http://127.0.0.1:8000"}


@pytest.mark.parametrize("public_url, serve_host, refused", [
    ("http://127.0.0.1:8000", None, False), ("http://localhost:8000", "127.0.0.1", False),
    ("http://[::1]:8000", "::1", False), ("http://127.0.0.1:8000", "localhost", False),
    ("https://archive.example.org", None, True), ("http://192.168.1.5:8000", None, True),
    ("http://127.0.0.1:8000", "0.0.0.0", True), ("http://127.0.0.1:8000", "", True),
    ("http://127.0.0.1:8000", "192.168.1.5", True), ("http://127.0.0.1:8000", "::", True),
])
def test_the_development_session_key_only_on_loopback(tmp_path, public_url, serve_host, refused):
    env = {**LOOPBACK, "WEBINAR_ARCHIVE_DATA": str(tmp_path), "WEBINAR_ARCHIVE_PUBLIC_URL": public_url}
    settings = Settings.from_env(env)
    assert settings.secret_key == DEVELOPMENT_SESSION_KEY  # the default
    if refused:
        with pytest.raises(ConfigError, match="WEBINAR_ARCHIVE_SECRET_KEY is a development secret"):
            settings.refuse_development_secrets(serve_host=serve_host)
    else:
        settings.refuse_development_secrets(serve_host=serve_host)
    Settings.from_env({**env, "WEBINAR_ARCHIVE_SECRET_KEY": "a-real-key"}).refuse_development_secrets(
        serve_host=serve_host)


def _scripts_run_writes_services_env(data: Path) -> dict[str, str]:
    """What scripts/run does with the session key on a start, with lib.sh's own functions."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(data)), "DATA": str(data),
           **{name: "x" for name in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                     "AWS_DEFAULT_REGION", "WEBINAR_ARCHIVE_BUCKET", "WEBINAR_ARCHIVE_PUBLIC_URL")},
           "WEBINAR_ARCHIVE_PORT": "8000"}
    script = ('source scripts/lib.sh; mkdir -p "$DATA"; '
              'export WEBINAR_ARCHIVE_SECRET_KEY="${WEBINAR_ARCHIVE_SECRET_KEY:-$(session_key "$DATA")}"; '
              'write_services_env "$DATA"')
    subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, check=True, timeout=60)
    assert stat.S_IMODE((data / "services.env").stat().st_mode) == 0o600
    return read_env_file(data / "services.env")


def test_scripts_run_makes_a_session_key_once_per_data_folder(tmp_path):
    first = _scripts_run_writes_services_env(tmp_path / "data")["WEBINAR_ARCHIVE_SECRET_KEY"]
    assert len(first) >= 40 and first != DEVELOPMENT_SESSION_KEY
    again = _scripts_run_writes_services_env(tmp_path / "data")["WEBINAR_ARCHIVE_SECRET_KEY"]
    assert again == first  # sessions survive a restart
    assert _scripts_run_writes_services_env(tmp_path / "other")["WEBINAR_ARCHIVE_SECRET_KEY"] != first
    assert Settings.from_env({"WEBINAR_ARCHIVE_DATA": str(tmp_path / "data")}).secret_key == first


def test_the_tests_make_a_session_key_once_per_data_folder(tmp_path):
    key = session_key(tmp_path / "data")
    assert len(key) >= 40 and key != DEVELOPMENT_SESSION_KEY
    assert session_key(tmp_path / "data") == key and session_key(tmp_path / "other") != key
    assert stat.S_IMODE((tmp_path / "data" / "services.env").stat().st_mode) == 0o600
    assert Settings.from_env({"WEBINAR_ARCHIVE_DATA": str(tmp_path / "data")}).secret_key == key
