"""Vimeo-90K evaluation splits: ``sep_testlist`` and the fast / medium / slow motion splits.

Two forms of the motion split exist (protocol.md, "Vimeo-90K"):

* ``cleaned`` (the space-time SR literature's default): fast 1225 / medium 4977 / slow 1613 -- the
  original minus 9 clips containing all-black frames;
* ``original`` (RBPN's split of ``sep_testlist.txt``): 1225 / 4983 / 1616.

Lists are read from a folder given as ``source`` (laid out as ``<source>/<form>/<split>_testset.txt``
with ``<form>`` ``cleaned`` or ``rbpn-original``, or the files directly in ``source``), else from
``$VSRBENCH_HOME/vimeo90k/splits/``. ``sep_testlist`` comes from the prepared archive's
``sep_testlist.txt`` (copied there by ``prepare vimeo90k``) or ``source``. Blank lines are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vsrbench.datasets.catalog import split_sources, vsrbench_home
from vsrbench.datasets.download import download
from vsrbench.datasets.splitpins import MOTION_SPLITS, PINNED_SHA256, SPLIT_COUNTS
from vsrbench.errors import VsrbenchError
from vsrbench.hashing import sha256_file

__all__ = ["fetch_motion_splits", "install_splits", "PINNED_SHA256", "SPLIT_COUNTS", "MOTION_SPLITS", "read_id_list", "load_split", "check_split", "SplitCheck"]

_FORM_DIRS = {"cleaned": ("cleaned",), "original": ("rbpn-original", "original")}


def read_id_list(path: str | os.PathLike) -> list[str]:
    """Clip ids (``00001/0001``) of a list file; blank lines and surrounding spaces ignored."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise VsrbenchError(f"{path}: no such list file") from None
    ids = [line.strip() for line in text.splitlines() if line.strip()]
    bad = [i for i in ids if i.count("/") != 1]
    if bad:
        raise VsrbenchError(f"{path}: {len(bad)} line(s) are not clip ids of the form 00001/0001, e.g. {bad[0]!r}")
    return ids


def _candidates(split: str, form: str, source) -> list[Path]:
    roots = [Path(source)] if source else []
    roots.append(vsrbench_home() / "vimeo90k" / "splits")
    out = []
    for r in roots:
        if split == "test":
            out += [r / "sep_testlist.txt", r.parent / "sep_testlist.txt"]
            out += [vsrbench_home() / "vimeo90k" / "sep_testlist.txt"] if r is roots[-1] else []
        else:
            for d in _FORM_DIRS[form]:
                out.append(r / d / f"{split}_testset.txt")
            out.append(r / f"{split}_testset.txt")
    return out


def load_split(
    split: str = "test", form: str = "cleaned", source: str | os.PathLike | None = None, *, verify: bool = True
) -> list[str]:
    """Clip ids of a Vimeo-90K evaluation split: ``test`` (sep_testlist) or ``fast``/``medium``/``slow``.

    ``form``: ``cleaned`` (default; 1225/4977/1613) or ``original`` (1225/4983/1616). The count is
    checked against the protocol's; a mismatch raises :class:`VsrbenchError`. With ``verify`` the
    file's sha256 must equal the published list's (:data:`PINNED_SHA256`).
    """
    split = split.lower()
    if split not in ("test",) + MOTION_SPLITS:
        raise VsrbenchError(f"unknown Vimeo-90K split {split!r}; use test, fast, medium or slow")
    if form not in SPLIT_COUNTS:
        raise VsrbenchError(f"unknown split form {form!r}; use 'cleaned' (default) or 'original'")
    for p in _candidates(split, form, source):
        if p.is_file():
            ids = read_id_list(p)
            want = 7824 if split == "test" else SPLIT_COUNTS[form][split]
            if len(ids) != want:
                raise VsrbenchError(f"{p}: {len(ids)} clip ids, expected {want} for the {form} {split} split")
            if len(set(ids)) != len(ids):
                raise VsrbenchError(f"{p}: duplicate clip ids")
            if verify:
                digest, pinned = sha256_file(p), PINNED_SHA256[(form, split)]
                if digest != pinned:
                    raise VsrbenchError(
                        f"{p}: sha256 {digest} is not the published list's ({pinned}); restore the original "
                        "file, or pass verify=False to use a modified list knowingly"
                    )
            return ids
    where = ", ".join(str(p) for p in _candidates(split, form, source)[:3])
    raise VsrbenchError(
        f"Vimeo-90K {form} {split} list not found (looked at {where}); pass the folder holding "
        "the lists (cleaned/ and rbpn-original/ sub-folders) as source, or put them in "
        f"{vsrbench_home() / 'vimeo90k' / 'splits'}"
        + ("; the original lists download with vsrbench.datasets.splits.fetch_motion_splits() "
           "(RBPN-PyTorch, sha256-pinned; see `vsrbench datasets vimeo90k`)" if form == "original" and split != "test" else "")
    )


@dataclass
class SplitCheck:
    split: str
    ids: list[str]
    present: list[str]
    missing: list[str]

    def report(self) -> str:
        if not self.missing:
            return f"{self.split}: all {len(self.ids)} clips present"
        shown = ", ".join(self.missing[:5]) + (" ..." if len(self.missing) > 5 else "")
        return f"{self.split}: {len(self.missing)} of {len(self.ids)} clip ids are not in the store ({shown})"


def check_split(ids: list[str], store_clips, split: str = "") -> SplitCheck:
    """Which ids of a split a store holds; the missing ones are reported, never silently dropped."""
    have = set(store_clips)
    present = [i for i in ids if i in have]
    missing = [i for i in ids if i not in have]
    return SplitCheck(split, list(ids), present, missing)


def install_splits(source: str | os.PathLike, home=None) -> list[Path]:
    """Copy the motion-split lists found under ``source`` (``cleaned/`` and ``rbpn-original/`` folders,
    up to 3 levels deep) into ``$VSRBENCH_HOME/vimeo90k/splits/``, where :func:`load_split` finds them.
    Every file must match its pinned sha256. Returns the installed paths ([] when none were found)."""
    import shutil

    root = Path(source)
    dest_root = (Path(home) if home is not None else vsrbench_home()) / "vimeo90k" / "splits"
    installed = []
    for form, dirs in _FORM_DIRS.items():
        for d in dirs:
            found = sorted(root.glob(f"{d}/fast_testset.txt")) + sorted(root.glob(f"*/{d}/fast_testset.txt")) + sorted(
                root.glob(f"*/*/{d}/fast_testset.txt"))
            if not found:
                continue
            folder = found[0].parent
            for split in MOTION_SPLITS:
                f = folder / f"{split}_testset.txt"
                if not f.is_file():
                    raise VsrbenchError(f"{folder}: {f.name} missing (the {form} split has fast, medium and slow)")
                if sha256_file(f) != PINNED_SHA256[(form, split)]:
                    raise VsrbenchError(f"{f}: sha256 differs from the published {form} {split} list; re-download it")
                out = dest_root / _FORM_DIRS[form][0] / f.name
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, out)
                installed.append(out)
            break
    return installed


def fetch_motion_splits(home=None, urls: dict[str, str] | None = None, progress: bool = False) -> list[Path]:
    """Download the original (RBPN) motion-split lists named by the catalog
    (:func:`vsrbench.datasets.catalog.split_sources`) into ``$VSRBENCH_HOME/vimeo90k/splits/rbpn-original/``,
    each checked against its pinned sha256; ``urls`` (split -> URL) overrides the catalog's."""
    dest = (Path(home) if home is not None else vsrbench_home()) / "vimeo90k" / "splits" / _FORM_DIRS["original"][0]
    out = []
    for split, src in split_sources().items():
        url = (urls or {}).get(split, src.url)
        out.append(download(url, dest / src.filename, sha256=src.sha256, progress=progress, max_bytes=16 << 20))
    return out
