"""The results store: the one place that reads, writes and validates result records
(``<results>/<suite>/<model>-<id>.json``) and their journals (``*.partial.jsonl``), and defines the
settings schema records carry.

* where: :func:`results_dir`, :func:`record_path`, :func:`identity` (the hash naming a record);
* settings: :data:`DEFAULT_SETTINGS`, :func:`make_settings`, :func:`settings_label` (boards),
  :func:`settings_key` (regression guard);
* reading: :func:`read_record`, :func:`load_results` (skip damaged files with one warning line),
  :func:`read_journal`; writing: :func:`write_record`, :func:`rewrite_journal`,
  :func:`open_journal`, :func:`append_journal` (all through ``outputs``' atomic write);
* concurrent writers (many processes, many hosts on a shared file system): :func:`record_lock`
  (an exclusive ``fcntl.flock`` on a per-record lock file) around every record and journal
  rewrite, appends locked on the journal itself; never a torn or lost record;
* validation: :func:`record_problem`, :func:`journal_entry_problem` (pure: ``None`` for a sound
  object, else one short reason); a damaged file never takes the whole board down;
* summaries: :func:`json_number`, :func:`suite_summary` (the suite-level fields of ``score`` and
  ``evaluate``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from vsrbench.benchmark.options import settings_of
from vsrbench.benchmark.record import SCHEMA, _float_or_null, _is_int, _is_num, _num_or_null, record_problem
from vsrbench.benchmark.suites import Suite
from vsrbench.metrics import aggregate
from vsrbench.outputs import atomic_write_text

__all__ = [
    "SCHEMA", "DEFAULT_SETTINGS", "NOT_IDENTITY", "results_dir", "record_path", "identity", "make_settings",
    "settings_label", "settings_key", "read_record", "load_results", "read_journal", "rewrite_journal",
    "open_journal", "append_journal", "write_record", "record_problem", "journal_entry_problem", "warn",
    "json_number", "suite_summary", "record_lock", "lock_path",
]

def results_dir(results: str | os.PathLike | None = None) -> Path:
    if results:
        return Path(results)
    from vsrbench.home import vsrbench_home

    return vsrbench_home() / "results"


def identity(model: str, weights: str, suite: Suite, settings: dict, code: dict | None = None,
             spec: dict | None = None) -> str:
    """The hash naming a record file: model, weights, suite, the settings that change numbers, and
    the code that made it (vsrbench's version and the hash of the scoring code, see ``harness.code_identity``);
    ``spec``: the resolved interface of a ``package.module:factory`` model (its flags change numbers)."""
    key = {"model": model, "weights": weights, "suite": suite.as_dict(),
           "settings": {k: v for k, v in settings.items() if k not in NOT_IDENTITY}, "code": code or {}}
    if spec is not None:
        key["spec"] = spec
    key = json.dumps(key, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------- settings
#: The one settings schema (derived from ``options.EvaluateOptions``): every evaluation setting a record
#: holds, with its default. The harness writes them (:func:`make_settings`), the boards label them (:func:`settings_label`),
#: the regression guard keys on them (:func:`settings_key`).
DEFAULT_SETTINGS = settings_of({})
#: settings that do not change a record's numbers (kept in the record, left out of its identity and key)
NOT_IDENTITY = ("save_outputs",)


def make_settings(**values) -> dict:
    """A record's ``settings`` from evaluate's option values (:func:`~vsrbench.benchmark.options.settings_of`:
    the fields of ``EvaluateOptions`` marked as settings; ``metrics`` only when not the default set:
    default records keep their identity)."""
    return settings_of(values)


def settings_label(settings: dict | None) -> str:
    """A short, human label of the evaluation settings: ``full`` for the suite's protocol as is,
    else what differs (``crop 16x16, 1 clip``, ``bf16``, ``tile 64``, ...)."""
    s = {**DEFAULT_SETTINGS, **(settings or {})}
    parts = []
    if s.get("crop"):
        parts.append("crop {}x{}".format(*s["crop"]))
    if s.get("limit_clips"):
        n = int(s["limit_clips"])
        parts.append(f"{n} clip" + ("s" if n != 1 else ""))
    if s.get("dtype") != "fp32":
        parts.append(str(s["dtype"]))
    if s.get("tile"):
        parts.append(f"tile {s['tile']}")
    if s.get("batch") not in (None, 1):
        parts.append(f"batch {s['batch']}")
    if s.get("padding") != "reflection_circle":
        parts.append(f"padding {s['padding']}")
    if s.get("model_kwargs"):
        parts.append("kwargs " + json.dumps(s["model_kwargs"], sort_keys=True, separators=(",", ":")))
    return ", ".join(parts) or "full"


def settings_key(settings: dict | None) -> str:
    """A stable, complete text key of a record's settings: every setting that differs from the
    default as ``key=value`` (sorted, ``;``-joined; crop as HxW, other values compact JSON), or
    ``default``."""
    parts = []
    for k, v in sorted((settings or {}).items()):
        if k in NOT_IDENTITY or (k in DEFAULT_SETTINGS and v == DEFAULT_SETTINGS[k]):
            continue
        if k == "crop" and v:
            v = "x".join(str(int(x)) for x in v)
        elif not isinstance(v, str):
            v = json.dumps(v, sort_keys=True, separators=(",", ":"))
        parts.append(f"{k}={v}")
    return ";".join(parts) or "default"


# --------------------------------------------------------------------------------------------- reading and writing
def record_path(root: Path, suite: str, model: str, ident: str) -> Path:
    from vsrbench.outputs import safe_child

    # ':' (package.module:factory): not in file names
    return safe_child(root, suite, f"{model.replace(':', '__')}-{ident}.json", what="suite or model")


def read_record(path: Path) -> tuple[dict | None, str | None]:
    """``(record, None)`` for a sound result record file, else ``(None, reason)``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8 text (a truncated or foreign file)"
    except OSError as e:
        return None, f"cannot read it ({e.strerror or e})"
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno}; truncated?)"
    except (ValueError, RecursionError) as e:
        return None, f"not valid JSON ({type(e).__name__})"
    why = record_problem(rec)
    return (None, why) if why else (rec, None)


def load_results(results: str | os.PathLike | None = None) -> list[dict]:
    """Every complete result record under the results store.

    A file that is not one (truncated or invalid JSON, a foreign JSON file, a record with a wrong
    field type) is skipped with one warning line on stderr naming it; the others are returned.
    """
    root = results_dir(results)
    out = []
    for p in sorted(root.glob("*/*.json")):
        rec, why = read_record(p)
        if why:
            warn(f"skipped {p}: {why}; delete or move it (`vsrbench evaluate` re-scores its own records)")
            continue
        rec, n_cut = bound_strings(rec)
        if n_cut:
            warn(f"{p}: {n_cut} text field(s) too long (names over {NAME_MAX} characters, other text over "
                 f"{TEXT_MAX}) were cut for the boards; the file is not a record vsrbench wrote, check or delete it")
        out.append(rec)
    return out


NAME_MAX = 200  # a model, suite, weights, clip, device or settings name read from a record
TEXT_MAX = 2000  # any other string of a record (notes, definitions, provenance)
_NAME_FIELDS = {"model", "suite", "weights", "device", "dtype", "lr_size", "recipe", "padding", "checkpoint"}


def _cut(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def bound_strings(rec: dict) -> tuple[dict, int]:
    """``rec`` with every string bounded (names and clip names to :data:`NAME_MAX` characters, other text to
    :data:`TEXT_MAX`) and how many were cut: a record is untrusted input, and a 10 MB model name would
    make every board and plot that shows it crawl."""
    n = 0

    def walk(o, key=None, in_settings=False):
        nonlocal n
        if isinstance(o, str):
            lim = NAME_MAX if key in _NAME_FIELDS or in_settings else TEXT_MAX
            if len(o) > lim:
                n += 1
                return _cut(o, lim)
            return o
        if isinstance(o, list):
            return [walk(v, key, in_settings) for v in o]
        if isinstance(o, dict):
            out = {}
            for k, v in o.items():
                k2 = _cut(k, NAME_MAX) if isinstance(k, str) else k
                n += k2 != k
                out[k2] = walk(v, k, in_settings or k == "settings")
            return out
        return o

    return walk(rec), n


def read_journal(path: Path) -> list[dict]:
    """The scored clips of a journal. A damaged line (cut by a kill, or garbage) is skipped, with
    one warning line: those clips are scored again."""
    if not path.exists():
        return []
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as e:
        warn(f"cannot read the journal {path} ({e.strerror or e}); scoring every clip again")
        return []
    out, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # a line cut by a kill, or not UTF-8 / JSON
            bad += 1
            continue
        if journal_entry_problem(entry):
            bad += 1
            continue
        out.append(entry)
    if bad:
        warn(f"{path}: skipped {bad} damaged line(s) (an interrupted run?); those clips are scored again")
    return out


def rewrite_journal(path: Path, entries: list[dict]) -> None:
    """Replace the journal with ``entries`` (its sound lines), atomically, under the record's lock."""
    with record_lock(_record_of_journal(path)):
        atomic_write_text(path, "".join(json.dumps(e) + "\n" for e in entries))


def _record_of_journal(journal: Path) -> Path:
    """``<model>-<id>.json`` of ``<model>-<id>.partial.jsonl``."""
    journal = Path(journal)
    name = journal.name
    return journal.with_name(name[: -len(".partial.jsonl")] + ".json" if name.endswith(".partial.jsonl") else name)


def open_journal(path: Path):
    """The journal, open for appending (one JSON line per scored clip, see :func:`append_journal`)."""
    return open(path, "a")


def append_journal(jf, entry: dict) -> None:
    """Append one clip's entry and make it durable before the next clip is scored. The line is
    written under an exclusive lock of the journal file, so two processes appending to the same
    journal never interleave their lines."""
    line = json.dumps(entry) + "\n"
    jf.flush()
    with _flock(jf.fileno(), jf.name):
        jf.write(line)
        jf.flush()
        os.fsync(jf.fileno())


def write_record(final: Path, record: dict, journal: Path | None = None, *, replace: bool = True) -> bool:
    """Store a complete record atomically (under :func:`record_lock`), then drop its journal.

    ``replace=False``: a sound record already at ``final`` (another process scored it first) is
    kept and nothing is written. Returns whether ``record`` was written."""
    with record_lock(final):
        if not replace and final.exists() and read_record(final)[1] is None:
            written = False
        else:
            atomic_write_text(final, json.dumps(record, indent=1))
            written = True
        if journal is not None:
            journal.unlink(missing_ok=True)
    return written


# --------------------------------------------------------------------------------------------- locking
# fcntl.flock (stdlib) rather than the ``filelock`` package: no extra dependency, the same mechanism
# as ``prepare``'s dataset lock, and the kernel drops the lock when its process dies (no stale lock
# to clean after a kill). Linux NFS clients map flock to byte-range locks, so it also holds across
# hosts; a file system without locks (ENOLCK / EOPNOTSUPP) falls back to the atomic rename alone,
# which still never leaves a torn record, with one warning.
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()
_NO_LOCKS_WARNED: list[bool] = []


def lock_path(final: Path) -> Path:
    """The lock file of record ``final``: hidden, beside it (``.<model>-<id>.lock``, empty; it stays,
    as removing a lock file another process may hold open would let a third one in)."""
    final = Path(final)
    return final.with_name(f".{final.stem}.lock")


@contextmanager
def _flock(fd: int, name: str):
    import fcntl

    locked = True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as e:
        if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise
        locked = False
        if not _NO_LOCKS_WARNED:
            _NO_LOCKS_WARNED.append(True)
            warn(f"{name}: the file system takes no file locks ({os.strerror(e.errno)}); concurrent writers of "
                 "the same record rely on atomic renames alone")
    try:
        yield
    finally:
        if locked:
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def record_lock(final: Path):
    """Hold the exclusive lock of one record (and its journal) for the block: across processes and
    hosts by ``flock`` on :func:`lock_path`, across threads of this process by a thread lock (an
    NFS flock is per process)."""
    lp = lock_path(final)
    key = os.path.abspath(lp)
    with _THREAD_LOCKS_GUARD:
        tlock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    with tlock:
        fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            with _flock(fd, str(lp)):
                yield
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------- validation
def journal_entry_problem(entry) -> str | None:
    """Why a parsed ``*.partial.jsonl`` line is not one scored clip, or None."""
    if not isinstance(entry, dict):
        return f"a JSON {type(entry).__name__}, not a scored clip"
    if not isinstance(entry.get("clip"), str):
        return "no clip name"
    frames = entry.get("frames")
    if not isinstance(frames, list) or not frames:
        return "no per-frame results"
    for f in frames:
        if not isinstance(f, dict) or not _num_or_null(f.get("psnr")) or not _is_num(f.get("ssim")):
            return "a frame without a numeric psnr / ssim"
    if not _is_int(entry.get("n_frames")) or not _is_int(entry.get("model_frames")):
        return "no frame counts"
    if not _is_num(entry.get("model_seconds")) or entry["model_seconds"] < 0:
        return "no model time"
    if not isinstance(entry.get("lr_size"), str):
        return "no LR size"
    for k in ("tof", "warping_error", "tpsnr"):
        if k in entry and not _float_or_null(entry[k]):
            return f"{k!r} is not a number"
    return None


def warn(message: str) -> None:
    """One warning line on stderr (the results store's readers go on after it), without control characters."""
    from vsrbench.text import strip_controls

    print(f"vsrbench: warning: {strip_controls(message)}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- summaries
def json_number(v: float | None):
    """A float for JSON: ``None`` for inf/nan (JSON has no infinity), the value otherwise."""
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def suite_summary(psnr_by_clip: dict, ssim_by_clip: dict) -> tuple[dict, dict, dict]:
    """The suite-level fields ``score`` and ``evaluate`` both report (JSON-ready), and the PSNR and
    SSIM :func:`~vsrbench.metrics.aggregate` results they come from (for the per-clip means)."""
    ps, ss = aggregate(psnr_by_clip), aggregate(ssim_by_clip)
    summary = {
        "psnr": json_number(ps["mean"]),
        "ssim": ss["mean"],
        "frame_mean": {"psnr": json_number(ps["frame_mean"]), "ssim": ss["frame_mean"]},
        "n_clips": len(psnr_by_clip),
        "n_frames": ps["n_frames"],
        "n_inf": ps["n_inf"],
    }
    return summary, ps, ss
