"""Settings come from the environment in one place, archive/config.py, and are passed in."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_only_the_settings_module_reads_the_environment():
    readers = {str(p.relative_to(ROOT)) for folder in ("archive", "web") for p in (ROOT / folder).rglob("*.py")
               if re.search(r"os\.environ|os\.getenv|getenv\(", p.read_text(encoding="utf-8"))}
    # localdev is not the app: `python -m archive.localdev`, run by scripts/run with MinIO's
    # root account in its environment, sets up the bucket and the app's user.
    assert readers - {"archive/localdev.py"} == {"archive/config.py"}
