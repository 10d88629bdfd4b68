"""The GT side of the temporal metrics (tOF, warping error), computed once per clip and cached.

:func:`vsrbench.metrics.temporal.gt_temporal_work` (GT Farneback flows both ways and the occlusion
masks) depends on the ground truth only, so every model evaluated on the same clip reuses it.
One ``.npz`` per (GT store, modcrop scale, crop, clip), in a folder beside the GT store::

    <folder of the GT store>/cache/temporal/<store name>/x<scale>[-crop<H>x<W>]/<clip>-<key>.npz

or, when that folder cannot be written, under ``$VSRBENCH_HOME/cache/temporal/<dataset>/<set>/<store
name>/...``; when neither can, the work is computed and not kept (one warning). The key is a sha256
over :data:`CACHE_VERSION`, the Farneback parameters and occlusion constants, a hash of
``metrics/temporal.py``, the OpenCV and NumPy versions, the GT store's marker, the clip, the
frames scored, the scale and crop and the content (sha256) of the GT frames as scored, so a
re-prepared store, other parameters or other code never read a stale entry. Entries are written to
a temporary file and renamed (never half-written); the temporary files of a writer that was killed
(its pid no longer runs on this host, or older than a day) are removed when the folder is next
opened. ``np.load`` checks each member's CRC-32, and an entry that does not read back whole and of
the expected shapes is recomputed with a warning, never trusted. The arrays are bound to the key:
each entry holds an HMAC-SHA256 of its key and arrays under a secret of the home
(``$VSRBENCH_HOME/cache/.cache-key``, 32 random bytes, mode 0600, made on first use), so an
entry rewritten with the same key and other arrays (or written under another home's secret) is
recomputed with one warning; without a readable or creatable secret nothing is cached. A new entry replaces the older entries of the same clip in its folder. Uncompressed
(float flows compress by ~9% at 30x the time): Vid4 takes ~1.1 GB. ``VSRBENCH_TEMPORAL_CACHE=off``
turns it off; clips whose entry would exceed :data:`MAX_ENTRY_BYTES` are never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import weakref
from pathlib import Path

import numpy as np

from vsrbench.benchmark.tecogan_run import _gt_digest
from vsrbench import hashing
from vsrbench.datasets import diskspace
from vsrbench.outputs import os_reason, remove_stale_temps, replacing, safe_child

__all__ = ["CACHE_VERSION", "MAX_ENTRY_BYTES", "cache_enabled", "cache_dirs", "cache_secret", "entry_key",
           "cached_gt_work"]

CACHE_VERSION = 2  # 2: entries carry the HMAC of their arrays
#: larger entries (long, large clips) are computed each time instead of cached
MAX_ENTRY_BYTES = 2 << 30
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_warned: set[str] = set()
_store_ids: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_swept: set[Path] = set()
SECRET_NAME = hashing.SECRET_NAME


def _warn_once(message: str) -> None:
    from vsrbench.benchmark.results import warn

    if message not in _warned:
        _warned.add(message)
        warn(message)


def cache_enabled() -> bool:
    return os.environ.get("VSRBENCH_TEMPORAL_CACHE", "on").strip().lower() not in ("off", "0", "no", "false")


def _safe(name: str) -> str:
    return (_SAFE.sub("_", name) or "_")[:96]


def _store_identity(store) -> str:
    """sha256 of the GT store's marker (its recorded meta), once per open store."""
    try:
        return _store_ids[store]
    except (KeyError, TypeError):
        pass
    ident = hashlib.sha256(json.dumps(store.meta, sort_keys=True, default=str).encode()).hexdigest()
    try:
        _store_ids[store] = ident
    except TypeError:
        pass
    return ident


def _sub(scale: int, crop) -> str:
    return f"x{int(scale)}" + (f"-crop{int(crop[0])}x{int(crop[1])}" if crop else "")


def cache_dirs(store, scale: int, crop=None, home=None) -> list[Path]:
    """Where entries of ``store`` live: beside the store first, then under ``$VSRBENCH_HOME/cache``."""
    from vsrbench.datasets.catalog import vsrbench_home

    p = Path(store.path)
    h = Path(home) if home else vsrbench_home()
    beside = safe_child(p.parent / "cache" / "temporal", _safe(p.name), _sub(scale, crop), what="store")
    in_home = safe_child(h / "cache" / "temporal", _safe(store.dataset or "dataset"), _safe(store.set or "all"),
                         _safe(p.name), _sub(scale, crop), what="store's dataset or set")  # the marker is input
    return [beside, in_home] if beside != in_home else [beside]


def entry_key(gts: list[np.ndarray], *, store, clip: str, indices, scale: int, crop=None) -> str:
    """The sha256 naming one entry: everything the cached arrays depend on."""
    import cv2

    from vsrbench.codeversion import PACKAGE_ROOT, source_hash
    from vsrbench.metrics import temporal as tm

    k = {"v": CACHE_VERSION, "farneback": tm.FARNEBACK_PARAMS, "occlusion": [tm.OCCLUSION_ALPHA, tm.OCCLUSION_BETA],
         "code": source_hash(PACKAGE_ROOT / "metrics" / "temporal.py"), "opencv": cv2.__version__,
         "numpy": np.__version__, "store": _store_identity(store), "clip": clip, "indices": [int(i) for i in indices],
         "scale": int(scale), "crop": list(crop) if crop else None, "gt": _gt_digest(gts)}
    return hashlib.sha256(json.dumps(k, sort_keys=True).encode()).hexdigest()


def _entry_name(clip: str, key: str) -> str:
    return f"{_safe(clip)}-{key[:24]}.npz"


def cache_secret(home=None) -> bytes | str:
    """The home's secret the entries' HMACs are keyed with (:func:`vsrbench.hashing.cache_secret`
    in ``$VSRBENCH_HOME/cache``), or the reason it can be neither read nor made."""
    from vsrbench.datasets.catalog import vsrbench_home

    return hashing.cache_secret((Path(home) if home else vsrbench_home()) / "cache")


def _mac(secret: bytes, key: str, arrays: dict[str, np.ndarray]) -> str:
    return hashing.arrays_mac(secret, key, arrays)


def _sweep(d: Path) -> None:
    """Once per folder and process: remove the temporary entries of writers killed earlier."""
    if d not in _swept:
        _swept.add(d)
        remove_stale_temps(d)


def _load(path: Path, key: str, n: int, h: int, w: int, secret: bytes):
    """The entry's work, or the reason it cannot be used."""
    import zipfile

    from vsrbench.metrics.temporal import GtTemporalWork

    expect = {"key.npy": 4096, "mac.npy": 4096, "forward.npy": n * h * w * 8 + 4096, "backward.npy": n * h * w * 8 + 4096,
              "valid_bits.npy": (n * h * w + 7) // 8 + 4096}
    try:  # before reading anything: the members and their sizes (no zip bomb, nothing compressed)
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
        if sorted(i.filename for i in infos) != sorted(expect):
            return f"it holds {sorted(i.filename for i in infos)}, not {sorted(expect)}"
        big = [i.filename for i in infos if i.file_size > expect[i.filename] or i.compress_type != zipfile.ZIP_STORED]
        if big:
            return f"its member(s) {big} are larger than this clip's work or compressed"
    except Exception as e:
        return f"it is not a readable .npz ({type(e).__name__}: {e})"
    try:
        with np.load(path, allow_pickle=False) as z:
            stored_key, stored_mac = str(z["key"][()]), str(z["mac"][()])
            fwd, bwd, bits = z["forward"], z["backward"], z["valid_bits"]
    except Exception as e:  # zipfile.BadZipFile (CRC), OSError, ValueError, KeyError, EOFError ...
        return f"it does not read back ({type(e).__name__}: {e})"
    if stored_key != key:
        return "it belongs to another key"
    for name, arr in (("forward", fwd), ("backward", bwd)):
        if arr.dtype != np.float32 or arr.shape != (n, h, w, 2):
            return f"its {name} flows are {arr.dtype} {arr.shape}, expected float32 {(n, h, w, 2)}"
    if bits.dtype != np.uint8 or bits.shape != ((n * h * w + 7) // 8,):
        return f"its occlusion masks are {bits.dtype} {bits.shape}"
    if not hmac.compare_digest(stored_mac, _mac(secret, key, {"forward": fwd, "backward": bwd, "valid_bits": bits})):
        return ("its arrays do not match its key's HMAC (changed after it was written, or written under "
                "another VSRBENCH_HOME's secret)")
    valid = np.unpackbits(bits, count=n * h * w).astype(bool).reshape(n, h, w)
    return GtTemporalWork(fwd, bwd, valid)


def _save(path: Path, key: str, work, secret: bytes) -> None:
    """Write the entry atomically (OSError passes through), then drop older entries of the clip."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep(path.parent)
    arrays = {"forward": work.forward, "backward": work.backward, "valid_bits": np.packbits(work.valid.reshape(-1))}
    with replacing(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, key=np.array(key), mac=np.array(_mac(secret, key, arrays)), **arrays)
    prefix = path.name[: -len("-" + key[:24] + ".npz")]
    pat = re.compile(re.escape(prefix) + r"-[0-9a-f]{24}\.npz")
    for old in path.parent.iterdir():
        if old.name != path.name and pat.fullmatch(old.name):
            try:
                old.unlink()
            except OSError:
                pass


_noticed: list[bool] = []


def _notice_once(d: Path, size: int) -> None:
    """Say once per process that the cache writes to disk, where, how much, and how to turn it off."""
    if _noticed:
        return
    _noticed.append(True)
    import sys

    print(f"vsrbench: note: caching the GT flows of the temporal metrics under {d} ({size / 1e6:.0f} MB for this "
          "clip, about 5.6 MB per 720x576 frame), reused by later evaluations; VSRBENCH_TEMPORAL_CACHE=off turns the "
          "cache off", file=sys.stderr, flush=True)


#: free space the cache leaves on a disk: an entry that would leave less is not written (computed, not kept)
KEEP_FREE_BYTES = 2 * 1024**3


def cached_gt_work(gts: list[np.ndarray], *, store, clip: str, indices, scale: int, crop=None, home=None,
                   workers: int | None = None, use_cache: bool | None = None):
    """:func:`~vsrbench.metrics.temporal.gt_temporal_work` of ``gts`` (the clip's GT frames as scored:
    ``indices`` of ``clip`` in ``store``, modcropped to ``scale``, centre ``crop``), from the cache
    when a sound entry is there, else computed and stored. Returns ``(work, state)``; ``state`` is
    ``hit``, ``stored``, ``unwritable`` (computed, not kept) or ``off`` (cache off, or the entry
    would exceed :data:`MAX_ENTRY_BYTES`: ``work`` is None and the metrics compute it as they go)."""
    from vsrbench.metrics.temporal import gt_temporal_work

    n, (h, w) = len(gts) - 1, gts[0].shape[:2]
    if use_cache is None:
        use_cache = cache_enabled()
    if not use_cache or n < 1 or n * h * w * 16 > MAX_ENTRY_BYTES:
        return None, "off"  # temporal_metrics computes it in bounded chunks
    key = entry_key(gts, store=store, clip=clip, indices=indices, scale=scale, crop=crop)
    dirs = cache_dirs(store, scale, crop, home)
    name = _entry_name(clip, key)
    secret = cache_secret(home)
    if isinstance(secret, str):  # no secret to check entries with: none is read or written
        _warn_once(f"cannot write the temporal GT cache ({secret}); computing the GT flows for each evaluation "
                   "instead. Set VSRBENCH_HOME to a writable folder, or VSRBENCH_TEMPORAL_CACHE=off")
        return gt_temporal_work(gts, workers), "unwritable"
    for d in dirs:
        p = d / name
        if d.is_dir():
            _sweep(d)
        if p.is_file():
            got = _load(p, key, n, h, w, secret)
            if not isinstance(got, str):
                return got, "hit"
            _warn_once(f"the temporal GT cache entry {p} is damaged ({got}); computing it again")
    work = gt_temporal_work(gts, workers)
    errors = []
    size = sum(a.nbytes for a in work)
    for d in dirs:
        try:
            free = diskspace.free_bytes(d)
            if free < size + KEEP_FREE_BYTES:  # a cache never fills the disk the stores live on
                errors.append(f"{d}: {diskspace.gb(free)} GB free, the cache keeps {diskspace.gb(KEEP_FREE_BYTES)} GB free")
                continue
            _save(d / name, key, work, secret)
            _notice_once(d, size)
            return work, "stored"
        except OSError as e:
            errors.append(f"{d}: {os_reason(e, d)}")
    _warn_once(f"cannot write the temporal GT cache ({'; '.join(errors)}); computing the GT flows for each "
               "evaluation instead. Set VSRBENCH_HOME to a writable folder with space to cache them (about 5.6 MB "
               "per 720x576 frame: 1 GB for Vid4, ~90 GB for Vimeo-90K-T), or VSRBENCH_TEMPORAL_CACHE=off")
    return work, "unwritable"
