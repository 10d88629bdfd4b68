"""Frame stores: crash-safe writers (LMDB, HDF5, folders) and one reader for all three.

Layout under ``$VSRBENCH_HOME`` (see :func:`store_path`)::

    <dataset>/GT/<clip>/<00000000>.png            canonical tree (folders backend), always written
    <dataset>/<VARIANT>/<clip>/<00000000>.png     LR variants with --folders (BIx4, BDx4, ...)
    <dataset>/lmdb/<set>/<VARIANT>.lmdb/          data.mdb, lock.mdb, meta_info.txt, vsrbench.json
    <dataset>/hdf5/<set>/<VARIANT>.h5             one dataset per clip, T x H x W x 3 uint8

``<set>`` is ``train`` / ``test`` for Vimeo-90K and ``all`` for the other datasets; folder trees hold
every clip of every set.

**LMDB** follows BasicSR's ``create_lmdb.py``: key = ``<clip>/<frame>`` (Vimeo: ``00001/0001/im4``, the
path relative to ``sequences`` without extension; other datasets ``<clip>/<00000000>``), value = PNG of
the BGR frame at compression level 1, ``meta_info.txt`` beside ``data.mdb`` with one line per key
(``00001/0001/im4.png (256,448,3) 1``). ``key_style='mmagic'`` gives ``00001_0001_4`` keys instead.
The map is grown on demand (``MapFullError`` -> double, retry).

**Crash safety.** A store is built under ``<name>.partial`` with a journal of the clips already
committed; the rerun continues after the last committed clip (a clip being written when the process
died is written again: writes are idempotent). Only when every clip is in, the completion marker
(``vsrbench.json``; for HDF5 the root attribute ``vsrbench``) is written and the store renamed into
place. :func:`open_store` refuses a store without the marker.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np

from vsrbench.datasets.catalog import variant_dirname, vsrbench_home
from vsrbench.datasets.frames import check_frame_pixels, decode_image, list_clips, list_frames, natural_key, read_frame
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import atomic_write_bytes, atomic_write_text, name_problem, safe_child

__all__ = [
    "MARKER",
    "BACKENDS",
    "frame_key",
    "store_path",
    "find_store",
    "open_store",
    "Store",
    "LmdbWriter",
    "Hdf5Writer",
    "FolderWriter",
    "make_writer",
    "StoreDamagedError",
    "store_damage",
    "check_clip_names",
]

MARKER = "vsrbench.json"
JOURNAL = ".vsrbench-journal.txt"
BACKENDS = ("lmdb", "hdf5", "folders")
_FORMAT = "vsrbench-store/1"
#: LMDB's own key limit (MDB_MAXKEYSIZE of the default build)
LMDB_MAX_KEY_BYTES = 511


class StoreDamagedError(VsrbenchError):
    """A store that claims to be complete but cannot be read safely (truncated, foreign, corrupt)."""


def frame_key(clip: str, gt_index: int, key_style: str = "basicsr", vimeo: bool = False) -> str:
    """LMDB key of frame ``gt_index`` (0-based) of ``clip``."""
    if key_style == "basicsr":
        return f"{clip}/im{gt_index + 1}" if vimeo else f"{clip}/{gt_index:08d}"
    if key_style == "mmagic":
        base = clip.replace("/", "_")
        return f"{base}_{gt_index + 1}" if vimeo else f"{base}_{gt_index:08d}"
    raise VsrbenchError(f"unknown LMDB key style {key_style!r}; use 'basicsr' or 'mmagic'")


def store_path(dataset: str, variant: str = "GT", set: str = "all", backend: str = "lmdb", home=None) -> Path:
    """Where the store of (dataset, set, variant) lives for ``backend`` (it may not exist)."""
    home = Path(home) if home is not None else vsrbench_home()
    vdir = variant_dirname(variant)
    if backend == "folders":
        return home / dataset / vdir
    if backend == "lmdb":
        return home / dataset / "lmdb" / set / f"{vdir}.lmdb"
    if backend == "hdf5":
        return home / dataset / "hdf5" / set / f"{vdir}.h5"
    raise VsrbenchError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


def _claims_complete(path: Path) -> bool:
    """The store carries its completion marker (or is a file that may: HDF5 keeps it inside)."""
    return (path / MARKER).is_file() if path.is_dir() else path.is_file()


def is_complete(path: str | os.PathLike) -> bool:
    """The store at ``path`` is finished and sound (a damaged one counts as not complete, so that
    ``prepare`` writes it again)."""
    path = Path(path)
    if path.is_dir():
        return (path / MARKER).is_file() and store_damage(path) is None
    if path.is_file():
        try:
            import h5py

            with h5py.File(path, "r") as f:
                return "vsrbench" in f.attrs
        except OSError:
            return False
    return False


def find_store(dataset: str, variant: str = "GT", set: str = "all", backend: str | None = None, home=None) -> Path:
    """Path of a complete store for (dataset, set, variant); ``backend`` None tries lmdb, hdf5, folders.

    Raises :class:`VsrbenchError` saying which ``vsrbench prepare`` command makes it, and
    :class:`StoreDamagedError` for a store that is there but damaged (never silently skipped).
    """
    for b in [backend] if backend else list(BACKENDS):
        p = store_path(dataset, variant, set, b, home)
        if _claims_complete(p):
            check_store(p)
        if is_complete(p):
            return p
    flag = f" --{backend}" if backend else ""
    var = "" if variant == "GT" else f" --variants {variant}"
    raise VsrbenchError(
        f"no prepared store for {dataset} ({set}, {variant}) under {Path(home) if home else vsrbench_home()}; "
        f"run `vsrbench prepare {dataset}{flag}{var}`"
    )


# --------------------------------------------------------------------------------------------- damage


def _rerun_command(path: Path, meta: dict | None) -> str:
    """The ``vsrbench prepare`` command that writes the store at ``path`` again."""
    meta = meta or {}
    backend = meta.get("backend") or ("hdf5" if path.suffix == ".h5" else "lmdb" if path.suffix == ".lmdb" else "folders")
    dataset = meta.get("dataset") or (path.parents[2].name if backend != "folders" and len(path.parents) > 2 else path.parent.name)
    variant = meta.get("variant")
    if variant is None:
        import re

        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        m = re.fullmatch(r"(BI|BD|BDDUF)x(\d+)", stem)
        ops = {"BI": "bi", "BD": "bd", "BDDUF": "bd-duf"}
        variant = "GT" if stem == "GT" else (f"{ops[m.group(1)]}:x{m.group(2)}" if m else None)
    cmd = f"vsrbench prepare {dataset}" + ("" if backend == "lmdb" else f" --{backend}")
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


def _lmdb_damage(path: Path, meta: dict) -> str | None:
    """LMDB's meta pages (the first two pages, read with ``pread`` when the environment opens) record
    the last page in use: a ``data.mdb`` shorter than that is cut, and mapping it would end in SIGBUS
    on the first read past the end. The entry count must match the frames the marker lists. (The
    file size is not recorded in the marker: it depends on ``--commit-every``, and identical stores
    must have identical markers.)"""
    import lmdb

    data = path / "data.mdb"
    try:
        size = data.stat().st_size
    except OSError:
        return "data.mdb is missing"
    env = _LMDB_ENVS.get((os.getpid(), str(path)))
    opened = env is None
    try:
        if opened:
            env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=1)
        # both read from LMDB's meta pages (the first two pages, read with pread): safe on a cut file
        info, stat = env.info(), env.stat()
    except lmdb.Error as e:
        return f"LMDB cannot open it ({e})"
    finally:
        if opened and env is not None:
            env.close()
    need = (int(info["last_pgno"]) + 1) * int(stat["psize"])
    if size < need:
        return f"data.mdb is {size} bytes, its pages need {need}: truncated"
    frames = sum(len(idx) for _, idx, _ in meta.get("clips", []))
    if int(stat["entries"]) != frames:
        return f"it holds {stat['entries']} frames, its {MARKER} lists {frames}"
    return None


def store_damage(path: str | os.PathLike) -> str | None:
    """Why the store at ``path`` (which claims to be complete) cannot be read safely, or None.

    Cheap: sizes and LMDB's meta pages, never a mapped read of the data (a truncated ``data.mdb``
    would otherwise kill the reader with SIGBUS).
    """
    path = Path(path)
    if path.is_dir():
        marker = path / MARKER
        if not marker.is_file():
            return None
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or not isinstance(meta.get("clips"), list):
                raise ValueError("no clip list")
        except (OSError, ValueError) as e:
            return f"its {MARKER} is unreadable ({e})"
        if meta.get("backend") == "lmdb" or (path / "data.mdb").exists():
            return _lmdb_damage(path, meta)
        return None
    if path.is_file():
        try:
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("vsrbench")
                if raw is not None:
                    json.loads(raw)
        except OSError as e:
            return f"not a readable HDF5 file ({str(e).splitlines()[0]})"
        except ValueError as e:
            return f"its vsrbench marker is unreadable ({e})"
    return None


def check_store(path: str | os.PathLike, meta: dict | None = None) -> None:
    """Raise :class:`StoreDamagedError` (naming the store and the command that rewrites it) when the
    store at ``path`` is damaged."""
    path = Path(path)
    why = store_damage(path)
    if why is not None:
        if meta is None:
            try:
                meta = json.loads((path / MARKER).read_text(encoding="utf-8")) if path.is_dir() else None
            except (OSError, ValueError):
                meta = None
        raise StoreDamagedError(f"store {path} is damaged: {why}; {_rerun_command(path, meta if isinstance(meta, dict) else None)}")


def check_clip_names(clips, backend: str, where: str = "") -> None:
    """Refuse, before anything is written, clip names a store cannot hold: names that are not valid
    UTF-8 (undecodable bytes in a folder name), names :func:`~vsrbench.outputs.name_problem` refuses
    (control characters would split ``meta_info.txt``; ``..`` or a separator would make a path), and
    LMDB keys longer than LMDB allows."""
    for clip in clips:
        try:
            raw = clip.encode("utf-8")
        except UnicodeEncodeError:
            raise VsrbenchError(
                f"{where or 'source'}: clip folder {clip!r} has a name that is not valid UTF-8; rename it"
            ) from None
        why = name_problem(clip)  # the rules open_store applies to a store's names, and safe_child to paths
        if why == "it holds a control character":  # they would split meta_info.txt
            raise VsrbenchError(f"{where or 'source'}: clip folder {clip!r} has a control character in its name; rename it")
        if why is not None:
            raise VsrbenchError(f"{where or 'source'}: clip folder {clip!r} cannot be a clip name ({why}); rename it")
        if backend == "lmdb" and len(raw) + 16 > LMDB_MAX_KEY_BYTES:
            raise VsrbenchError(
                f"{where or 'source'}: clip name {clip[:40]!r}... is {len(raw)} bytes in UTF-8; LMDB keys hold at most "
                f"{LMDB_MAX_KEY_BYTES - 16} for a clip name: rename it, or use --hdf5 or --folders"
            )


# --------------------------------------------------------------------------------------------- writers


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _write_failure(exc: BaseException, path: Path) -> VsrbenchError | None:
    """A clear error for a failed store write (disk full, quota, I/O error), or None to re-raise."""
    import lmdb

    free = ""
    for d in (path.parent, *path.parents):
        if d.exists():
            try:
                free = f"; {shutil.disk_usage(d).free / 1e9:.2f} GB free at {d}"
            except OSError:
                pass
            break
    msg = str(exc)
    if isinstance(exc, OSError) and (exc.errno in _NO_SPACE or "No space left" in msg or "errno = 28" in msg):
        return VsrbenchError(f"no space left on device while writing {path}{free}; free some space and rerun the same command")
    if isinstance(exc, (lmdb.DiskError, lmdb.MapFullError)) or (
        isinstance(exc, lmdb.Error) and ("Input/output error" in msg or "No space left" in msg or "Disk quota" in msg)
    ):
        return VsrbenchError(
            f"no space left on device while writing {path} (or a disk I/O error; LMDB says: {msg}){free}; "
            "free some space (or check the disk) and rerun the same command"
        )
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return VsrbenchError(
            f"cannot write {path}: {exc.strerror or msg}; make the folder writable or set VSRBENCH_HOME to a writable folder"
        )
    if isinstance(exc, lmdb.Error):
        return VsrbenchError(f"could not write {path}: LMDB says: {msg}; check that the folder is writable and the disk "
                             "is healthy, then rerun the same command")
    if isinstance(exc, OSError) and exc.errno == errno.EIO:
        return VsrbenchError(f"input/output error while writing {path} ({msg}){free}; check the disk and rerun")
    return None


class _write_guard:
    """Turn disk-full / I/O failures inside a store write into one clear :class:`VsrbenchError`."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, et, exc, tb):
        if exc is None or isinstance(exc, VsrbenchError) or not isinstance(exc, Exception):
            return False
        err = _write_failure(exc, self.path)
        if err is None:
            return False
        raise err from None


class _Writer:
    """Base: journal of committed clips under a ``.partial`` name; finalize renames into place."""

    backend = ""

    def __init__(self, final: Path, meta: dict, commit_every: int = 1000):
        self.final = Path(final)
        self.partial = self.final.with_name(self.final.name + ".partial")
        self.meta = dict(meta)
        self.commit_every = max(1, int(commit_every))
        self.pending: list[tuple[str, list[int], tuple, list]] = []  # (clip, gt indices, shape, payload)
        self.pending_frames = 0
        self.done: dict[str, dict] = {}
        self._config = json.dumps({k: v for k, v in sorted(self.meta.items())}, sort_keys=True)
        try:
            with _write_guard(self.final):
                self._open_partial()
        except VsrbenchError:
            self.abort()
            raise

    # journal -----------------------------------------------------------------
    @property
    def journal(self) -> Path:
        return self.partial / JOURNAL

    def _read_journal(self) -> dict | None:
        try:
            lines = self.journal.read_text().splitlines()
        except FileNotFoundError:
            return None
        if not lines or lines[0] != self._config:
            return None
        done = {}
        for line in lines[1:]:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                break  # a torn last line: that clip is redone
            done[rec["clip"]] = rec
        return done

    def _open_partial(self) -> None:
        done = self._read_journal() if self.partial.exists() else None
        if done is None:
            self._wipe()
            self._create()
            self.partial.mkdir(parents=True, exist_ok=True) if self.backend != "hdf5" else None
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            with open(self.journal, "w") as f:
                f.write(self._config + "\n")
                f.flush()
                os.fsync(f.fileno())
            done = {}
        self.done = done

    def _wipe(self) -> None:
        if self.partial.is_dir():
            shutil.rmtree(self.partial)
        elif self.partial.exists():
            self.partial.unlink()

    def _append_journal(self, recs: list[dict]) -> None:
        with open(self.journal, "a") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")
            f.flush()
            os.fsync(f.fileno())
        for r in recs:
            self.done[r["clip"]] = r

    # API ---------------------------------------------------------------------
    def add_clip(self, clip: str, indices: list[int], shape: tuple, payload: list) -> None:
        """Queue one clip: ``payload[k]`` is frame ``indices[k]`` (PNG bytes, or an array for HDF5)."""
        self.pending.append((clip, list(indices), tuple(shape), payload))
        self.pending_frames += len(indices)

    def should_flush(self) -> bool:
        return self.pending_frames >= self.commit_every

    def flush(self) -> None:
        if not self.pending:
            return
        with _write_guard(self.final):
            self._commit(self.pending)
            self._append_journal([{"clip": c, "indices": i, "shape": list(s)} for c, i, s, _ in self.pending])
        self.pending, self.pending_frames = [], 0

    def finalize(self, clip_order: list[str]) -> Path:
        """Write the marker and rename into place; every clip of ``clip_order`` must be committed."""
        self.flush()
        missing = [c for c in clip_order if c not in self.done]
        if missing:
            raise RuntimeError(f"{self.partial}: clips not written: {missing[:5]}")
        clips = [[c, self.done[c]["indices"], self.done[c]["shape"]] for c in clip_order]
        marker = {"format": _FORMAT, **self.meta, "clips": clips}
        with _write_guard(self.final):
            self._close(marker)
            if self.final.is_dir():
                shutil.rmtree(self.final)
            elif self.final.exists():
                self.final.unlink()
            os.replace(self.partial, self.final)
        return self.final

    def abort(self) -> None:
        """Remove the partial store (bad input: nothing is kept)."""
        try:
            self._close(None)
        except Exception:
            pass
        self._wipe()

    # backend hooks -----------------------------------------------------------
    def _create(self) -> None:
        pass

    def _commit(self, items) -> None:
        raise NotImplementedError

    def _close(self, marker: dict | None) -> None:
        pass


class LmdbWriter(_Writer):
    backend = "lmdb"

    def __init__(self, final, meta, commit_every=1000, map_size: int = 1 << 28):
        self._env = None
        self._map_size = int(map_size)
        super().__init__(final, meta, commit_every)

    def _env_open(self):
        import lmdb

        if self._env is None:
            self.partial.mkdir(parents=True, exist_ok=True)
            self._env = lmdb.open(str(self.partial), map_size=self._map_size, meminit=False, map_async=False)
            self._map_size = max(self._map_size, self._env.info()["map_size"])
        return self._env

    def _commit(self, items) -> None:
        import lmdb

        env = self._env_open()
        style, vimeo = self.meta["key_style"], self.meta["vimeo_names"]
        while True:
            try:
                with env.begin(write=True) as txn:
                    for clip, indices, _, payload in items:
                        for i, value in zip(indices, payload):
                            txn.put(_lmdb_key(frame_key(clip, i, style, vimeo), self.final), value)
                break
            except lmdb.MapFullError:
                self._map_size *= 2
                env.set_mapsize(self._map_size)
        env.sync(True)

    def _close(self, marker) -> None:
        if marker is not None:
            self._env_open()
            style, vimeo = self.meta["key_style"], self.meta["vimeo_names"]
            with open(self.partial / "meta_info.txt", "w", encoding="utf-8") as f:
                for clip, indices, shape in marker["clips"]:
                    sh = ",".join(str(int(v)) for v in shape)
                    for i in indices:
                        f.write(f"{frame_key(clip, i, style, vimeo)}.png ({sh}) 1\n")
        if self._env is not None:
            self._env.close()
            self._env = None
        if marker is not None:
            self.journal.unlink(missing_ok=True)
            _write_json_atomic(self.partial / MARKER, marker)


def _lmdb_key(key: str, where) -> bytes:
    """LMDB keys are UTF-8 (BasicSR decodes them so); refuse what LMDB cannot hold."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        raise VsrbenchError(f"{where}: key {key!r} is not valid UTF-8; rename the clip folder") from None
    if len(raw) > LMDB_MAX_KEY_BYTES:
        raise VsrbenchError(
            f"{where}: key {key[:40]!r}... is {len(raw)} bytes, LMDB allows {LMDB_MAX_KEY_BYTES}; "
            "rename the clip folder or use --hdf5 / --folders"
        )
    return raw


class FolderWriter(_Writer):
    backend = "folders"

    def _commit(self, items) -> None:
        for clip, indices, _, payload in items:
            d = safe_child(self.partial, clip, what="clip")
            d.mkdir(parents=True, exist_ok=True)
            for i, value in zip(indices, payload):
                atomic_write_bytes(d / f"{i:08d}.png", value)

    def _close(self, marker) -> None:
        if marker is not None:
            self.journal.unlink(missing_ok=True)
            _write_json_atomic(self.partial / MARKER, marker)


class Hdf5Writer(_Writer):
    backend = "hdf5"

    def __init__(self, final, meta, commit_every=1000):
        self._f = None
        super().__init__(final, meta, commit_every)

    @property
    def journal(self) -> Path:
        return self.final.with_name(self.final.name + ".journal")

    def _wipe(self) -> None:
        super()._wipe()
        self.journal.unlink(missing_ok=True)

    def _open_partial(self) -> None:
        super()._open_partial()
        if self.done:  # verify what the journal claims survived the crash; else start over
            try:
                f = self._file()
                ok = all(c in f and f[c].shape[0] == len(r["indices"]) for c, r in self.done.items())
            except Exception:
                ok = False
            if not ok:
                self._close(None)
                self._wipe()
                self.journal.parent.mkdir(parents=True, exist_ok=True)
                with open(self.journal, "w") as fj:
                    fj.write(self._config + "\n")
                self.done = {}

    def _file(self):
        import h5py

        if self._f is None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._f = h5py.File(self.partial, "a")
        return self._f

    def _commit(self, items) -> None:
        f = self._file()
        for clip, indices, shape, payload in items:
            if clip in f:
                del f[clip]
            ds = f.create_dataset(clip, shape=(len(indices), *shape), dtype=np.uint8, chunks=(1, *shape))
            for k, arr in enumerate(payload):
                ds[k] = arr
        f.flush()

    def _close(self, marker) -> None:
        if marker is not None:
            f = self._file()
            f.attrs["vsrbench"] = json.dumps(marker)
        if self._f is not None:
            self._f.close()
            self._f = None
        if marker is not None:
            self.journal.unlink(missing_ok=True)


def make_writer(backend: str, final: Path, meta: dict, commit_every: int = 1000, **kw) -> _Writer:
    cls = {"lmdb": LmdbWriter, "hdf5": Hdf5Writer, "folders": FolderWriter}[backend]
    return cls(final, {**meta, "backend": backend}, commit_every, **kw)


def _write_json_atomic(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj), fsync=True)


# --------------------------------------------------------------------------------------------- readers


class Store:
    """Read-only view of a store: ``clips()``, ``num_frames(clip)``, ``read(clip, index)`` (uint8 RGB).

    ``index`` is the position in the store's clip (0 .. num_frames-1); ``gt_indices(clip)`` maps it to
    the GT frame index (they differ only for frame-selecting variants such as ``frames:odd``).
    Storage handles open lazily on the first read in each process (safe to pickle into workers).
    """

    backend = ""

    def __init__(self, path: Path, meta: dict):
        self.path = Path(path)
        self.meta = meta
        _check_clip_list(self.path, meta)
        self._clips = {c: (list(idx), tuple(shape)) for c, idx, shape in meta["clips"]}
        self._order = [c for c, _, _ in meta["clips"]]
        self._handle = None
        self._pid = None

    # metadata
    @property
    def dataset(self) -> str:
        return self.meta.get("dataset", "")

    @property
    def variant(self) -> str:
        return self.meta.get("variant", "")

    @property
    def set(self) -> str:
        return self.meta.get("set", "")

    @property
    def scale(self) -> int:
        return int(self.meta.get("scale", 1))

    def clips(self) -> list[str]:
        return list(self._order)

    def _info(self, clip: str):
        try:
            return self._clips[clip]
        except KeyError:
            raise VsrbenchError(f"{self.path}: no clip {clip!r} in this store ({len(self._order)} clips)") from None

    def num_frames(self, clip: str) -> int:
        return len(self._info(clip)[0])

    def frame_shape(self, clip: str) -> tuple[int, int, int]:
        return self._info(clip)[1]

    def gt_indices(self, clip: str) -> list[int]:
        return list(self._info(clip)[0])

    def __len__(self) -> int:
        return sum(len(v[0]) for v in self._clips.values())

    def __contains__(self, clip: str) -> bool:
        return clip in self._clips

    def read(self, clip: str, index: int) -> np.ndarray:
        indices, shape = self._info(clip)
        if not 0 <= index < len(indices):
            raise VsrbenchError(f"{self.path}: clip {clip!r} has {len(indices)} frames, no frame {index}")
        if self._handle is None or self._pid != os.getpid():
            self._handle = self._open()
            self._pid = os.getpid()
        return self._checked(self._read(clip, indices[index], index), clip, index, shape)

    #: what a frame's dtype and shape are checked against, for messages
    _expected_from = "its marker says"

    def _checked(self, frame, clip: str, pos: int, shape) -> np.ndarray:
        """``frame`` when it is what the store promises (uint8 of the clip's shape), else the store is damaged
        (a frame of another dtype or size is never scored)."""
        if isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.shape == tuple(shape):
            return frame
        got = f"{frame.dtype} {tuple(frame.shape)}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise self._damaged(f"clip {clip!r} frame {pos} is {got}, {self._expected_from} uint8 {tuple(shape)}")

    def _damaged(self, why: str) -> VsrbenchError:
        return StoreDamagedError(f"store {self.path} is damaged: {why}; {_rerun_command(self.path, self.meta)}")

    def read_clip(self, clip: str) -> list[np.ndarray]:
        return [self.read(clip, i) for i in range(self.num_frames(clip))]

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            try:
                self._handle.close()
            except Exception:
                pass
        self._handle = None

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_handle"] = None
        d["_pid"] = None
        return d

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path} {len(self._order)} clips, {len(self)} frames>"

    def _open(self):
        return None

    def _read(self, clip: str, gt_index: int, pos: int) -> np.ndarray:
        raise NotImplementedError


def _check_clip_list(path: Path, meta: dict) -> None:
    """A store is input: its clip list must be ``[name, [frame indices], [H, W, C]]`` entries whose
    names pass :func:`~vsrbench.outputs.name_problem` (the rules of ``prepare``), else the store is
    damaged (a name like ``../../x`` would otherwise become a path under ``--save-outputs``)."""
    clips = meta.get("clips") if isinstance(meta, dict) else None
    why = None if isinstance(clips, list) else "its clip list is missing"
    for entry in clips if why is None else []:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 3 and isinstance(entry[1], list)
                and isinstance(entry[2], (list, tuple))):
            why = f"clip entry {str(entry)[:60]} is not [name, frame indices, shape]"
        elif name_problem(entry[0]) is not None:
            why = f"clip name {str(entry[0])[:60]!r} is not a safe name ({name_problem(entry[0])})"
        elif not (len(entry[2]) == 3 and all(type(v) is int and v > 0 for v in entry[2])):
            why = f"clip {entry[0]!r} has the frame shape {str(entry[2])[:60]}, not [H, W, C]"
        if why:
            break
    if why is None:
        for name, _, (h, w, _c) in clips:  # before a frame is read: the size limit of every frame
            check_frame_pixels(w, h, f"store {path} clip {name!r}")
    if why is not None:
        raise StoreDamagedError(f"store {path} is damaged: {why}; {_rerun_command(path, meta if isinstance(meta, dict) else None)}")


def _decode(buf, where: str) -> np.ndarray:
    img = decode_image(np.frombuffer(buf, np.uint8), where) if buf else None
    if img is None:
        raise VsrbenchError(f"{where}: corrupt frame in the store; delete the store and run prepare again")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, 2::-1])


_LMDB_ENVS: dict = {}


def _lmdb_env(path: Path):
    """One read-only environment per (process, path): py-lmdb refuses to open a path twice."""
    import lmdb

    key = (os.getpid(), str(path))
    env = _LMDB_ENVS.get(key)
    if env is None:
        for k in [k for k in _LMDB_ENVS if k[1] == key[1]]:  # inherited through fork (DataLoader workers):
            _LMDB_ENVS.pop(k).close()  # py-lmdb refuses to reopen a path the parent held; drop the copy
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
        _LMDB_ENVS[key] = env
    return env


class _LmdbHandle:
    def __init__(self, path: Path):
        self.path = path
        _lmdb_env(path)

    def close(self):
        env = _LMDB_ENVS.pop((os.getpid(), str(self.path)), None)
        if env is not None:
            env.close()


class LmdbStore(Store):
    backend = "lmdb"

    def _open(self):
        return _LmdbHandle(self.path)

    def _read(self, clip, gt_index, pos):
        key = frame_key(clip, gt_index, self.meta.get("key_style", "basicsr"), self.meta.get("vimeo_names", False))
        import lmdb

        try:
            with _lmdb_env(self.path).begin(write=False) as txn:
                buf = txn.get(key.encode("utf-8"))
        except lmdb.Error as e:
            raise StoreDamagedError(
                f"store {self.path} is damaged: LMDB cannot read key {key!r} ({e}); {_rerun_command(self.path, self.meta)}"
            ) from None
        if buf is None:
            raise VsrbenchError(f"{self.path}: key {key!r} missing; delete the store and run prepare again")
        return _decode(buf, f"{self.path} key {key}")


class Hdf5Store(Store):
    backend = "hdf5"

    def _open(self):
        import h5py

        return h5py.File(self.path, "r")

    def _read(self, clip, gt_index, pos):
        want = (self.num_frames(clip), *self.frame_shape(clip))
        try:
            ds = self._handle[clip]
            dtype, shape = getattr(ds, "dtype", None), getattr(ds, "shape", None)
            if dtype != np.uint8 or shape != want:  # before reading: no float/int16/string frames, no short clip
                got = f"{dtype} {shape}" if dtype is not None else f"a {type(ds).__name__}, not a dataset"
                raise self._damaged(f"clip {clip!r} is {got}, its marker says uint8 {want}")
            return np.asarray(ds[pos])
        except (OSError, KeyError, ValueError, TypeError, IndexError) as e:
            raise self._damaged(f"clip {clip!r} frame {pos} cannot be read ({(str(e).splitlines() or [''])[0]})") from None


class FolderStore(Store):
    backend = "folders"

    def _read(self, clip, gt_index, pos):
        return read_frame(self.path.joinpath(*clip.split("/"), f"{gt_index:08d}.png"))


class PlainFolderStore(Store):
    """A folder of clip folders without a marker (e.g. model outputs): natural-sorted frames."""

    backend = "folders"

    def __init__(self, path: Path):
        path = Path(path)
        self._files = {c: list_frames(path / c) for c in list_clips(path)}
        clips = []
        for c, files in self._files.items():
            clips.append([c, list(range(len(files))), list(read_frame(files[0]).shape)])
        super().__init__(path, {"format": "plain-folder", "clips": clips})

    _expected_from = "the clip's first frame is"

    def _read(self, clip, gt_index, pos):
        return read_frame(self._files[clip][pos])

    def _damaged(self, why: str) -> VsrbenchError:
        return VsrbenchError(f"{self.path}: {why}; every frame of a clip must be the same size")


def open_store(path: str | os.PathLike, *, require_marker: bool = True) -> Store:
    """Open an LMDB folder, an HDF5 file or a folder tree written by ``prepare``.

    Stores without the completion marker (an interrupted prepare) are refused. With
    ``require_marker=False`` a plain folder of clip folders (``ROOT/<clip>/<frames>``) is accepted too.
    """
    path = Path(path).expanduser()
    partial = path.with_name(path.name + ".partial")
    if not path.exists():
        if partial.exists():
            raise VsrbenchError(
                f"{path}: not complete ({partial.name} is an interrupted prepare); rerun the same "
                "`vsrbench prepare` command to finish it"
            )
        raise VsrbenchError(f"{path}: no such store; run `vsrbench prepare DATASET` (see `vsrbench datasets`)")
    if path.is_file():
        try:
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("vsrbench")
        except OSError as e:
            check_store(path)
            raise VsrbenchError(f"{path}: not a readable HDF5 file ({e}); delete it and run prepare again") from None
        if raw is None:
            raise VsrbenchError(f"{path}: HDF5 file without the vsrbench completion marker; run prepare again")
        check_store(path)
        return Hdf5Store(path, json.loads(raw))
    marker = path / MARKER
    if marker.is_file():
        check_store(path)
        meta = json.loads(marker.read_text(encoding="utf-8"))
        if meta.get("backend") == "lmdb" or (path / "data.mdb").exists():
            return LmdbStore(path, meta)
        return FolderStore(path, meta)
    if not require_marker and not (path / "data.mdb").exists():
        return PlainFolderStore(path)
    raise VsrbenchError(
        f"{path}: not a complete vsrbench store (no {MARKER}): an interrupted or foreign store; rerun the "
        "`vsrbench prepare` command that makes it" + ("" if (path / "data.mdb").exists() else
        " (for a plain folder of clips use open_store(path, require_marker=False))")
    )


def sorted_clips(clips) -> list[str]:
    return sorted(clips, key=natural_key)
