"""The migrations make exactly the schema the models describe, on both backends."""
from __future__ import annotations

import importlib
import pkgutil

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import archive
from archive.catalog import Catalog
from archive.models import Base


def _import_every_model() -> None:
    """Models live in several modules (catalog, accounts, analytics, ...): load them all."""
    for module in pkgutil.iter_modules(archive.__path__):
        if not module.ispkg:
            importlib.import_module(f"archive.{module.name}")


def _differences(url: str) -> list:
    _import_every_model()
    catalog = Catalog(url)
    try:
        catalog.migrate()
        with catalog.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        catalog.dispose()
    # Tables the database engine makes for itself (full-text shadow tables) are not models.
    return [d for d in diff if not (d[0] == "remove_table" and d[1].name not in Base.metadata.tables
                                    and d[1].name.startswith("search_"))]


def test_sqlite_schema_matches_the_models(tmp_path):
    assert _differences(f"sqlite:///{tmp_path / 'c.sqlite3'}") == []


def test_postgresql_schema_matches_the_models(postgres):
    assert _differences(postgres.create_database()) == []
