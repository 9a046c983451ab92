"""The archive's services, built once from settings and passed around explicitly."""
from __future__ import annotations

from dataclasses import dataclass

from .catalog import Catalog
from .config import Settings
from .queue import queue_from_settings
from .storage import S3Store


@dataclass
class Archive:
    settings: Settings
    catalog: Catalog
    store: S3Store

    @classmethod
    def from_settings(cls, settings: Settings) -> "Archive":
        return cls(settings=settings, catalog=Catalog(settings.database_url, queue_from_settings(settings)),
                   store=S3Store(settings))

    def setup(self) -> None:
        """Create what is missing: the schema (migrations) and the bucket."""
        self.catalog.migrate()
        self.store.ensure_bucket()
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self.catalog.dispose()
