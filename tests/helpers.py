"""Small helpers the tests share: reading the catalog back, what a test left behind."""
from __future__ import annotations

import importlib
import pkgutil
import urllib.request

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import archive as archive_package
from archive import queries
from archive.catalog import Catalog
from archive.context import Archive
from archive.models import Base, Webinar


def put_part(url: str, data: bytes) -> str:
    """PUT one part to a presigned URL, as a browser does; the part's ETag."""
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="PUT"), timeout=60) as r:
        return r.headers["ETag"]


def reload(archive: Archive, webinar_id: str) -> Webinar | None:
    """The webinar as the catalog has it now (assets loaded)."""
    with archive.catalog.session() as s:
        return queries.get(s, webinar_id)


def work_dir_entries(archive: Archive) -> list[str]:
    """What is left in the worker's scratch space."""
    if not archive.settings.work_dir.exists():
        return []
    return sorted(p.name for p in archive.settings.work_dir.iterdir())


def schema_differences(catalog: Catalog) -> list:
    """What differs between the catalog's schema and the models (all of them: they live in
    several modules, so every archive module is loaded first)."""
    for module in pkgutil.iter_modules(archive_package.__path__):
        if not module.ispkg:
            importlib.import_module(f"archive.{module.name}")
    with catalog.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    # The full-text engine's own tables and indexes (FTS5 shadow tables, GIN indexes on
    # tsvectors), made by the search migration, are not models.
    def engine_own(d) -> bool:
        if d[0] == "remove_table":
            return d[1].name.startswith("search_")
        if d[0] == "remove_index":
            return d[1].table.name.startswith("search_")
        return False

    return [d for d in diff if not engine_own(d)]
