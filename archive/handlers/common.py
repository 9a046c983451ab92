"""What every handler shares: the Outcome it returns, fetching the original, uploads."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..context import Archive
from ..jobs import PermanentError
from ..models import Asset


@dataclass
class Original:
    """An original on this worker's disk, hashed as it was downloaded: what the check of an
    upload hands on to the asset's first job, so the file is read from S3 once."""

    path: Path
    sha256: str
    content_type: str


@dataclass
class Outcome:
    """What a job made. `outputs` and `info` are merged into the asset's (nested dicts
    key by key), so jobs that each add a part never erase each other's; `warnings` are
    sentences for staff (the file was published all the same). `texts` is the searchable
    text the job found, when it reads any: one {"page": n} (a slide) or {"at": seconds}
    (a caption cue) entry with its "text"; None leaves the asset's indexed text as it is.
    `timeline` is an alignment job's result for the deck's presentations."""

    outputs: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    texts: list[dict] | None = None
    original: Original | None = None  # the check of an upload: the checked file (see handed_path)
    timeline: dict | None = None  # the alignment of a deck: what slidesync.record stores
    records: dict = field(default_factory=dict)  # for the kind's `record` step (see pipeline.JobKind)


def handed_path(job_dir: Path, asset_id: str) -> Path:
    """Where the worker puts an asset's original that the check of its upload handed on."""
    return job_dir / f"handed-{asset_id}"


def fetch_original(archive: Archive, asset: Asset, workdir: Path) -> Path:
    """The original, downloaded and checked against its checksum in the same pass; or the
    copy the check handed on (its checksum, taken as the check downloaded it, is the one
    recorded: no second read)."""
    local = workdir / f"original.{asset.original_ext}"
    handed = handed_path(archive.settings.work_dir, asset.id)
    try:
        handed.replace(local)
        return local
    except FileNotFoundError:
        pass
    digest = archive.store.download_hashed(asset.original_key, local)
    if digest != asset.sha256:
        raise PermanentError(f"the stored original does not match its checksum "
                             f"(expected {asset.sha256[:12]}…, found {digest[:12]}…)")
    return local


def upload_files(archive: Archive, uploads: list[tuple[Path, str, str]]) -> None:
    """(file, key, content type) uploads, several at a time."""
    with ThreadPoolExecutor(max_workers=archive.settings.upload_threads) as pool:
        for future in [pool.submit(archive.store.upload_file, f, key, ctype) for f, key, ctype in uploads]:
            future.result()


def upload_tree(archive: Archive, local_dir: Path, key_prefix: str, content_types: dict[str, str]) -> list[str]:
    uploads = [(f, key_prefix + f.relative_to(local_dir).as_posix(),
                content_types.get(f.suffix, "application/octet-stream"))
               for f in sorted(local_dir.rglob("*")) if f.is_file()]
    upload_files(archive, uploads)
    return [key for _, key, _ in uploads]
