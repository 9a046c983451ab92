"""Small helpers the tests share: reading the catalog back, what a test left behind."""
from __future__ import annotations

from archive import queries
from archive.context import Archive
from archive.models import Webinar


def reload(archive: Archive, webinar_id: str) -> Webinar | None:
    """The webinar as the catalog has it now (assets loaded)."""
    with archive.catalog.session() as s:
        return queries.get(s, webinar_id)


def work_dir_entries(archive: Archive) -> list[str]:
    """What is left in the worker's scratch space."""
    if not archive.settings.work_dir.exists():
        return []
    return sorted(p.name for p in archive.settings.work_dir.iterdir())
