"""What every backend shares: the marker's name and format, the backend's layout facts, the damaged-store
error and its rerun hint, and the clip-name rules (for names going into a store and names read from one)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from vsrbench.datasets.framerules import check_frame_pixels
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import atomic_write_text, name_problem

__all__ = ["MARKER", "JOURNAL", "FORMAT", "Layout", "StoreDamagedError", "damaged", "rerun_hint",
           "check_clip_names", "check_clip_list", "write_json_atomic", "read_marker_file"]

#: the completion marker of a folder store (HDF5 keeps it as the root attribute ``vsrbench``)
MARKER = "vsrbench.json"
#: the journal of committed clips inside a ``.partial`` folder store
JOURNAL = ".vsrbench-journal.txt"
FORMAT = "vsrbench-store/1"


@dataclass(frozen=True)
class Layout:
    """The facts of one backend: where its stores live and what its writer takes."""

    name: str  #: the backend's name (``--<name>`` selects it in ``vsrbench prepare``)
    suffix: str  #: of the store's path (``.lmdb``, ``.h5``; ``""``: a folder tree named by the variant)
    per_set: bool  #: one store per set under ``<dataset>/<name>/<set>/`` (False: one tree holds every set)
    is_file: bool = False  #: the store is one file, its marker inside
    signature: str = ""  #: a file that marks a folder as a store of this backend (``data.mdb``)
    payload: str = "png"  #: what its writer takes per frame: ``png`` (bytes) or ``array`` (uint8 RGB)
    max_key_bytes: int = 0  #: frames are addressed by keys of at most this many bytes (0: no keys)
    default: bool = False  #: ``vsrbench prepare`` packs into it when no backend flag is given
    help: str = ""  #: what its ``--<name>`` flag of ``vsrbench prepare`` packs, and where

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    def path(self, home: Path, dataset: str, vdir: str, set: str) -> Path:
        """Where the store of (dataset, set, variant folder name) lives under ``home``."""
        if not self.per_set:
            return home / dataset / vdir
        return home / dataset / self.name / set / f"{vdir}{self.suffix}"

    def key_style(self, lmdb_keys: str) -> str:
        """The key style its stores record: ``lmdb_keys`` for a keyed backend, else ``files``."""
        return lmdb_keys if self.max_key_bytes else "files"

    def dataset_of(self, path: Path) -> str:
        """The dataset a store at ``path`` belongs to, read from the layout."""
        return path.parents[2].name if self.per_set and len(path.parents) > 2 else path.parent.name


class StoreDamagedError(VsrbenchError):
    """A store that claims to be complete but cannot be read safely (truncated, foreign, corrupt)."""


def rerun_hint(path: Path, meta: dict | None, layout: Layout) -> str:
    """The ``vsrbench prepare`` command that writes the store at ``path`` (of ``layout``) again."""
    meta = meta or {}
    dataset = meta.get("dataset") or layout.dataset_of(path)
    variant = meta.get("variant")
    if variant is None:
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        m = re.fullmatch(r"(BI|BD|BDDUF)x(\d+)", stem)
        ops = {"BI": "bi", "BD": "bd", "BDDUF": "bd-duf"}
        variant = "GT" if stem == "GT" else (f"{ops[m.group(1)]}:x{m.group(2)}" if m else None)
    cmd = f"vsrbench prepare {dataset}" + ("" if layout.default else f" {layout.flag}")
    if variant is None:
        cmd += " --variants SPEC"
    elif variant != "GT":
        cmd += f" --variants {variant}"
    hint = f"rerun `{cmd}`"
    if variant == "GT" and dataset != "demo":
        hint += " (with the --source you prepared it from)"
    elif variant is None:
        hint += f" (SPEC: the variant stored as {path.name})"
    return hint


def damaged(path: Path, why: str, meta: dict | None, layout: Layout) -> StoreDamagedError:
    """The one-line error of a damaged store: what is wrong and the command that writes it again."""
    return StoreDamagedError(f"store {path} is damaged: {why}; {rerun_hint(path, meta, layout)}")


def read_marker_file(path: Path) -> tuple[dict | None, str | None]:
    """``(meta, why)`` from the marker file of the folder store ``path``: ``meta`` the object it holds
    (None when it is not one), ``why`` None when it is readable (a marker is input: it must be an
    object with a clip list)."""
    try:
        meta = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return None, f"its {MARKER} is unreadable ({e})"
    if not isinstance(meta, dict) or not isinstance(meta.get("clips"), list):
        return (meta if isinstance(meta, dict) else None), f"its {MARKER} is unreadable (no clip list)"
    return meta, None


def write_json_atomic(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj), fsync=True)


# --------------------------------------------------------------------------------------------- clip names


def check_clip_names(clips, layout: Layout, where: str = "", other_flags: str = "") -> None:
    """Refuse, before anything is written, clip names a store of ``layout`` cannot hold: names that are
    not valid UTF-8 (undecodable bytes in a folder name), names :func:`~vsrbench.outputs.name_problem`
    refuses (control characters would split ``meta_info.txt``; ``..`` or a separator would make a
    path), and keys longer than the backend allows (``other_flags``: the backends without that limit)."""
    where = where or "source"
    for clip in clips:
        try:
            raw = clip.encode("utf-8")
        except UnicodeEncodeError:
            raise VsrbenchError(f"{where}: clip folder {clip!r} has a name that is not valid UTF-8; rename it") from None
        why = name_problem(clip)  # the rules open_store applies to a store's names, and safe_child to paths
        if why == "it holds a control character":  # they would split meta_info.txt
            raise VsrbenchError(f"{where}: clip folder {clip!r} has a control character in its name; rename it")
        if why is not None:
            raise VsrbenchError(f"{where}: clip folder {clip!r} cannot be a clip name ({why}); rename it")
        if layout.max_key_bytes and len(raw) + 16 > layout.max_key_bytes:
            raise VsrbenchError(
                f"{where}: clip name {clip[:40]!r}... is {len(raw)} bytes in UTF-8; LMDB keys hold at most "
                f"{layout.max_key_bytes - 16} for a clip name: rename it, or use {other_flags}"
            )


def check_clip_list(path: Path, meta: dict, layout: Layout) -> None:
    """A store is input: its clip list must be ``[name, [frame indices], [H, W, C]]`` entries whose
    names pass :func:`~vsrbench.outputs.name_problem` (the rules of ``prepare``), else the store is
    damaged (a name like ``../../x`` would otherwise become a path under ``--save-outputs``)."""
    clips = meta.get("clips") if isinstance(meta, dict) else None
    why = None if isinstance(clips, list) else "its clip list is missing"
    for entry in clips if why is None else []:
        why = _clip_entry_problem(entry)
        if why:
            break
    if why is not None:
        raise damaged(path, why, meta if isinstance(meta, dict) else None, layout)
    for name, _, (h, w, _c) in clips:  # before a frame is read: the size limit of every frame
        check_frame_pixels(w, h, f"store {path} clip {name!r}")


def _clip_entry_problem(entry) -> str | None:
    if not (isinstance(entry, (list, tuple)) and len(entry) == 3 and isinstance(entry[1], list)
            and isinstance(entry[2], (list, tuple))):
        return f"clip entry {str(entry)[:60]} is not [name, frame indices, shape]"
    if name_problem(entry[0]) is not None:
        return f"clip name {str(entry[0])[:60]!r} is not a safe name ({name_problem(entry[0])})"
    if not (len(entry[2]) == 3 and all(type(v) is int and v > 0 for v in entry[2])):
        return f"clip {entry[0]!r} has the frame shape {str(entry[2])[:60]}, not [H, W, C]"
    return None

