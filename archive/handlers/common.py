"""What every handler shares: the Outcome it returns, fetching the original, uploads."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..context import Archive
from ..jobs import PermanentError
from ..models import Asset


@dataclass
class Outcome:
    """What a job made. `outputs` and `info` are merged into the asset's (nested dicts
    key by key), so jobs that each add a part never erase each other's; `warnings` are
    sentences for staff (the file was published all the same). `texts` is the searchable
    text the job found, when it reads any: one {"page": n} (a slide) or {"at": seconds}
    (a caption cue) entry with its "text"; None leaves the asset's indexed text as it is."""

    outputs: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    texts: list[dict] | None = None


def fetch_original(archive: Archive, asset: Asset, workdir: Path) -> Path:
    """The original, downloaded and checked against its checksum in the same pass."""
    local = workdir / f"original.{asset.original_ext}"
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
