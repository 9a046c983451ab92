"""Settings come from the environment in one place, archive/config.py, and are passed in."""
from __future__ import annotations

import re
from pathlib import Path

from archive.config import Settings
from archive.context import Archive
from web import create_app

from ..conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_login_limit_storage_is_a_setting(minio, tmp_path):
    assert Settings.from_env({}).ratelimit_storage == "memory://"
    archive = Archive.from_settings(make_settings(minio, tmp_path,
                                                  WEBINAR_ARCHIVE_RATELIMIT_STORAGE="redis://127.0.0.1:9/0"))
    try:
        app = create_app(archive, {"TESTING": True})
        assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:9/0"
    finally:
        archive.close()


def test_only_the_settings_module_reads_the_environment():
    readers = {str(p.relative_to(ROOT)) for folder in ("archive", "web") for p in (ROOT / folder).rglob("*.py")
               if re.search(r"os\.environ|os\.getenv|getenv\(", p.read_text(encoding="utf-8"))}
    # localdev is not the app: `python -m archive.localdev`, run by scripts/run with MinIO's
    # root account in its environment, sets up the bucket and the app's user.
    assert readers - {"archive/localdev.py"} == {"archive/config.py"}
