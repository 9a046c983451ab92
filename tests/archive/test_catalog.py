import subprocess
import sys

from sqlalchemy import inspect

from archive.catalog import Catalog

MIGRATE = "import sys; from archive.catalog import Catalog; Catalog(sys.argv[1]).migrate()"


def test_processes_starting_together_on_an_empty_catalog(tmp_path):
    """Web and worker started at once on a fresh volume must not trip over each other."""
    for round_ in range(6):
        url = f"sqlite:///{tmp_path / f'c{round_}.sqlite3'}"
        procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, url], stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        results = [(p.communicate(timeout=120)[1], p.returncode) for p in procs]
        assert [rc for _, rc in results] == [0, 0, 0, 0], "\n".join(err for err, _ in results)
        catalog = Catalog(url)
        assert {"webinars", "assets", "jobs", "alembic_version"} <= set(inspect(catalog.engine).get_table_names())
        catalog.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    catalog.migrate()
    with catalog.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    catalog.dispose()
