"""The migrations make exactly the schema the models describe, on both backends."""
from __future__ import annotations

from archive.catalog import Catalog

from ..helpers import schema_differences


def _differences(url: str) -> list:
    catalog = Catalog(url)
    try:
        catalog.migrate()
        return schema_differences(catalog)
    finally:
        catalog.dispose()


def test_sqlite_schema_matches_the_models(tmp_path):
    assert _differences(f"sqlite:///{tmp_path / 'c.sqlite3'}") == []


def test_postgresql_schema_matches_the_models(postgres):
    assert _differences(postgres.create_database()) == []
