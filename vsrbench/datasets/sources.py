"""Obtaining a dataset's source: a folder or archive given with ``--source``, the files of an
installed package, or a download (mirrors in order, resumable, pinned sha256) extracted once
(``<home>/<name>/source``, re-extracted when the archive changes)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from vsrbench.datasets.catalog import DatasetEntry, Source, vsrbench_home
from vsrbench.datasets.download import download
from vsrbench.datasets.extract import BadArchiveError, safe_extract
from vsrbench.datasets.frames import natural_key
from vsrbench.errors import VsrbenchError

__all__ = ["obtain_source", "download_limit", "find_dir", "log"]


def log(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"vsrbench: {msg}", file=sys.stderr, flush=True)


def _extract_cached(archive: Path, dest: Path, progress: bool, quiet: bool, entry: DatasetEntry | None = None) -> Path:
    st = archive.stat()
    stamp = {"archive": str(archive.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    stamp_file = dest / ".vsrbench-extracted.json"
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):  # an extraction killed earlier
        shutil.rmtree(stale, ignore_errors=True)
    if dest.exists():
        try:
            if json.loads(stamp_file.read_text()) == stamp:
                return dest
        except (OSError, ValueError):
            pass
        shutil.rmtree(dest)
    log(f"extracting {archive} -> {dest}", quiet)
    safe_extract(archive, dest, progress=progress, **_extract_limits(entry))
    stamp_file.write_text(json.dumps(stamp))
    return dest


def _extract_limits(entry: DatasetEntry | None) -> dict:
    from vsrbench.datasets.extract import extraction_limit

    return {} if entry is None else {"max_bytes": extraction_limit(entry.extracted_size), "what": entry.name}


def download_limit(entry: DatasetEntry) -> int | None:
    """Most bytes a download of ``entry``'s source may have: its catalog size (the archive's, else the
    extracted frames') with the extraction margin (1.5x + 0.5 GB); None (the download module's
    generous default) when the catalog states no size."""
    from vsrbench.datasets.extract import extraction_limit

    sizes = [s.size for s in entry.sources if s.size] + ([entry.extracted_size] if entry.extracted_size else [])
    return extraction_limit(max(sizes)) if sizes else None


def obtain_source(entry: DatasetEntry, source=None, urls=None, home=None, progress=True, quiet=False) -> Path:
    """Folder holding the dataset's source files: ``source`` (folder or archive) or a download."""
    home = Path(home) if home is not None else vsrbench_home()
    ds_home = home / entry.name
    if source is None and not urls and entry.layout == "package-videos":
        from vsrbench.datasets.video import package_data_dir

        return package_data_dir(entry.extra["package"], entry.extra["package_dir"], entry.extra.get("pip"))
    if entry.extra.get("archives"):
        return _obtain_archives(entry, source, urls, ds_home, progress, quiet)
    if source is not None:
        p = Path(source).expanduser()
        if p.is_dir():
            return p
        if p.is_file():
            return _extract_cached(p, ds_home / "source", progress, quiet, entry)
        raise VsrbenchError(f"--source {p}: no such file or folder")
    srcs = [Source(u) for u in urls] if urls else [s for s in entry.sources if not s.browser]
    if not srcs:
        notes = "\n".join(f"  - {s.url}: {s.note}" for s in entry.sources)
        raise VsrbenchError(
            f"{entry.name} cannot be downloaded automatically (its source needs a browser):\n{notes}\n"
            f"then run `vsrbench prepare {entry.name} --source PATH`"
        )
    first = srcs[0]
    filename = first.filename or Path(first.url.split("?")[0]).name or f"{entry.name}.zip"
    dest = ds_home / "downloads" / filename
    log(f"downloading {filename} from {first.url}" + (f" ({first.size / 1e9:.1f} GB)" if first.size else ""), quiet)
    # the catalog's sizes are approximate ("82 GB"): only a pinned sha256 is enforced, the size caps
    # the transfer (with margin; --url too: it stands in for the same dataset)
    download([s.url for s in srcs], dest, sha256=None if urls else first.sha256, progress=progress,
             max_bytes=download_limit(entry))
    if first.size and not urls and dest.stat().st_size < 0.5 * first.size:
        log(f"warning: {dest} is {dest.stat().st_size} bytes; the catalog expects about {first.size}", quiet)
    try:
        return _extract_cached(dest, ds_home / "source", progress, quiet, entry)
    except BadArchiveError as e:  # unsafe, a bomb or corrupt: do not reuse this copy on the next run
        dest.unlink(missing_ok=True)
        raise BadArchiveError(f"{e} (the downloaded copy {dest} was removed)") from None


def _obtain_archives(entry: DatasetEntry, source, urls, ds_home: Path, progress: bool, quiet: bool) -> Path:
    """A dataset in several archives (REDS: GT and LR), each extracted to ``<home>/<name>/source/<stem>``.

    ``source``: a folder holding the extracted trees, or the archives under their official names.
    ``urls``: one per archive, matched by file name. Returns the folder that holds all parts."""
    names = entry.extra["archives"]
    if source is not None:
        p = Path(source).expanduser()
        if not p.is_dir():
            raise VsrbenchError(f"--source {p}: {entry.name} comes in {len(names)} archives; pass the folder that "
                                f"holds {' and '.join(names)} (or the folders they extract to)")
        if not all((p / n).is_file() for n in names):
            return p
        for n in names:
            _extract_cached(p / n, ds_home / "source" / Path(n).stem, progress, quiet, entry)
        return ds_home / "source"
    by_name = {s.filename: s for s in entry.sources if not s.browser}
    for n in names:
        s = by_name.get(n)
        url = next((u for u in urls or [] if Path(u.split("?")[0]).name == n), None) if urls else (s.url if s else None)
        if url is None:
            raise VsrbenchError(f"{entry.name}: no URL for {n}; pass --url for each of {', '.join(names)}")
        dest = ds_home / "downloads" / n
        log(f"downloading {n} from {url}", quiet)
        download(url, dest, sha256=None if urls or s is None else s.sha256, progress=progress)
        try:
            _extract_cached(dest, ds_home / "source" / Path(n).stem, progress, quiet, entry)
        except BadArchiveError as e:
            dest.unlink(missing_ok=True)
            raise BadArchiveError(f"{e} (the downloaded copy {dest} was removed)") from None
    return ds_home / "source"


def find_dir(root: Path, pred, depth: int = 4) -> Path | None:
    """Breadth-first: the first folder under ``root`` (itself included) satisfying ``pred``."""
    level = [root]
    for _ in range(depth + 1):
        nxt = []
        for d in level:
            if pred(d):
                return d
            try:
                nxt += sorted((p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: natural_key(p.name))
            except OSError:
                pass
        level = nxt
    return None
