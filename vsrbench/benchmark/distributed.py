"""One suite across processes and GPUs: ``torchrun --nproc-per-node N -m vsrbench evaluate ...``.

With ``executor="torchrun"`` (what ``vsrbench evaluate`` passes when torchrun started it: ``RANK`` /
``WORLD_SIZE`` / ``LOCAL_RANK`` in the environment, ``WORLD_SIZE > 1``, see :func:`executor_from_env`),
:func:`vsrbench.benchmark.harness.evaluate` runs as one rank of the job. The library never infers
that mode from the environment: a process of a torchrun job (a training rank that validates) calls
``evaluate`` with the default ``executor="local"`` and scores alone. As one rank of the job:

* the process group is initialised (``gloo`` on the CPU, ``nccl`` on CUDA), with ``--device auto``
  (or a bare ``cuda``) each rank on ``cuda:LOCAL_RANK``;
* the clips left to score are split over the ranks, balanced by frame count (:func:`split_clips`, a
  pure, deterministic function: every rank computes the same split);
* every rank appends the clips it scores to its own journal, ``<record>.rank<R>.partial.jsonl``
  (:func:`journal_path`), exactly as a single process appends to ``<record>.partial.jsonl``;
* at the end the ranks exchange their entries and rank 0 writes the one record, built from the
  same per-clip entries as a single-process run (per-frame values equal), with the same identity:
  the world size changes no number, so it is no setting; ``provenance`` says it, with each rank's
  device, clips and model seconds. ``runtime`` sums the model seconds of every rank (time per frame
  on one device, not the job's wall time). Other ranks print nothing but errors.

Resume: a rerun (any world size, or a single process) counts every clip in any journal of the
record as done (:func:`resumed_entries`) and splits only the rest. Coordination goes through the
process group's key-value store (small JSON messages, :meth:`Run.exchange`), not through the file
system, so the results folder need not be shared between nodes for the merge. An error on one rank
is posted there: the others stop waiting at their next meeting point and say which rank failed and
why; a rank that never arrives (hung, or on a lost node) is reported after ``VSRBENCH_DIST_TIMEOUT``
seconds (default 6 h: the ranks' shares differ by up to a clip, which can take long on a CPU).
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from vsrbench.errors import VsrbenchError

__all__ = [
    "TorchrunEnv", "torchrun_env", "split_clips", "journal_path", "journal_paths", "journal_rank", "resumed_entries",
    "Run", "torchrun_aware", "current_run", "is_main_process", "dist_timeout", "TIMEOUT_ENV",
    "EXECUTORS", "executor_from_env",
]

TIMEOUT_ENV = "VSRBENCH_DIST_TIMEOUT"
#: how an evaluation runs: ``local`` (this process alone) or ``torchrun`` (one rank of the job)
EXECUTORS = ("local", "torchrun")
DEFAULT_TIMEOUT_S = 6 * 3600.0


@dataclass(frozen=True)
class TorchrunEnv:
    rank: int
    world_size: int
    local_rank: int
    restart: int = 0
    run_id: str = "none"


def _env_int(env, name: str, default=None) -> int:
    v = env.get(name)
    if v is None or v == "":
        if default is None:
            raise VsrbenchError(f"torchrun environment: {name} is not set; start the job with torchrun")
        return default
    try:
        return int(v)
    except ValueError:
        raise VsrbenchError(f"torchrun environment: {name}={v!r} is not an integer; start the job with torchrun") from None


def torchrun_env(environ=None) -> TorchrunEnv | None:
    """The torchrun rank of this process, or ``None`` for a single process (no ``WORLD_SIZE`` /
    ``RANK`` in the environment, or ``WORLD_SIZE=1``)."""
    env = os.environ if environ is None else environ
    if not env.get("WORLD_SIZE") or not env.get("RANK"):
        return None
    world, rank = _env_int(env, "WORLD_SIZE"), _env_int(env, "RANK")
    if world < 1 or not 0 <= rank < world:
        raise VsrbenchError(f"torchrun environment: RANK={rank} is not in 0..WORLD_SIZE-1 (WORLD_SIZE={world})")
    if world == 1:
        return None
    local = _env_int(env, "LOCAL_RANK", rank)
    return TorchrunEnv(rank=rank, world_size=world, local_rank=local,
                       restart=_env_int(env, "TORCHELASTIC_RESTART_COUNT", 0),
                       run_id=str(env.get("TORCHELASTIC_RUN_ID") or "none"))


def dist_timeout(environ=None) -> float:
    """Seconds a rank waits for the others at a meeting point (``VSRBENCH_DIST_TIMEOUT``, default 6 h)."""
    env = os.environ if environ is None else environ
    v = env.get(TIMEOUT_ENV)
    if not v:
        return DEFAULT_TIMEOUT_S
    try:
        t = float(v)
    except ValueError:
        t = -1.0
    if not t > 0:
        raise VsrbenchError(f"{TIMEOUT_ENV}={v!r} is not a positive number of seconds")
    return t


# --------------------------------------------------------------------------------------------- the split
def split_clips(frames, world_size: int) -> list[list[str]]:
    """Clips over ``world_size`` ranks, balanced by frame count: ``frames`` is ``{clip: frames}`` (or
    ``(clip, frames)`` pairs) in suite order; returns each rank's clips, in suite order.

    Longest clip first to the least loaded rank (ties: the earlier clip, the lower rank): within one
    clip of the best balance, and the same on every rank and every run.
    """
    items = list(frames.items()) if hasattr(frames, "items") else [tuple(x) for x in frames]
    if int(world_size) < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    names = [c for c, _ in items]
    if len(set(names)) != len(names):
        raise ValueError("clip names must be unique")
    for c, n in items:
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"clip {c!r}: frame count {n!r} is not a count")
    loads = [0] * int(world_size)
    share: list[list[int]] = [[] for _ in range(int(world_size))]
    for i in sorted(range(len(items)), key=lambda i: (-items[i][1], i)):
        r = min(range(len(loads)), key=lambda r: (loads[r], r))
        share[r].append(i)
        loads[r] += items[i][1]
    return [[items[i][0] for i in sorted(s)] for s in share]


# --------------------------------------------------------------------------------------------- journals
def journal_path(final: Path, rank: int | None = None) -> Path:
    """A record's journal: ``<record>.partial.jsonl`` (one process) or ``<record>.rank<R>.partial.jsonl``."""
    final = Path(final)
    if rank is None:
        return final.with_suffix(".partial.jsonl")
    return final.with_name(f"{final.stem}.rank{int(rank)}.partial.jsonl")


def journal_rank(path: Path, final: Path) -> int | None:
    """The rank a journal of ``final`` belongs to (``None``: the single-process journal); ValueError
    for a file that is no journal of ``final``."""
    name, stem = Path(path).name, Path(final).stem
    if name == f"{stem}.partial.jsonl":
        return None
    m = re.fullmatch(re.escape(stem) + r"\.rank(\d{1,6})\.partial\.jsonl", name)
    if not m:
        raise ValueError(f"{path} is not a journal of {final}")
    return int(m.group(1))


def journal_paths(final: Path) -> list[Path]:
    """Every journal of the record ``final`` on disk (single-process first, then by rank)."""
    final = Path(final)
    found = []
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return []
    for e in entries:
        try:
            r = journal_rank(Path(e.name), final)
        except ValueError:
            continue
        if e.is_file(follow_symlinks=False):
            found.append((-1 if r is None else r, final.parent / e.name))
    return [p for _, p in sorted(found)]


def resumed_entries(final: Path, journal: Path, clips: list[str], run: "Run | None" = None):
    """``(own, done)``: the sound entries of this process's own ``journal`` (which it rewrites
    without damaged lines) and ``{clip: entry}`` of every clip of ``clips`` in any journal of the
    record, of every rank (the first entry of a clip wins; journals of one record hold equal values).

    Without ``run`` the process reads every journal; under torchrun each rank reads its own, rank 0
    also those of no live rank (a single-process run, a larger earlier job), and the ranks exchange
    what they read, so the results folder need not be shared.
    """
    from vsrbench.benchmark.results import read_journal

    wanted = set(clips)
    own = [e for e in read_journal(journal) if e.get("clip") in wanted]
    seen = list(own)
    for j in journal_paths(final):
        if j == journal:
            continue
        r = journal_rank(j, final)
        if run is not None and (run.rank != 0 or (r is not None and r < run.world_size)):
            continue  # a live rank reads its own
        seen += [e for e in read_journal(j) if e.get("clip") in wanted]
    if run is not None:
        seen = [e for part in run.exchange("journals", seen) for e in part]
    done: dict[str, dict] = {}
    for e in seen:
        done.setdefault(e["clip"], e)
    return own, done


# --------------------------------------------------------------------------------------------- the job
class Run:
    """This process as one rank of a torchrun job: the process group, the device, and meeting points
    (:meth:`exchange`) through the group's key-value store, which carry errors as well as data."""

    _calls = 0  # evaluations started in this process (every rank makes the same sequence)

    def __init__(self, env: TorchrunEnv, timeout: float | None = None, store=None):
        self.env = env
        self.rank, self.world_size, self.local_rank = env.rank, env.world_size, env.local_rank
        self.timeout = float(timeout if timeout is not None else dist_timeout())
        self.store = store
        Run._calls += 1
        self.prefix = f"vsrbench/{env.run_id}/{env.restart}/{Run._calls}"
        self.failed = False

    # -- set-up ---------------------------------------------------------------------------------
    def device(self, device):
        """``--device`` for this rank: ``auto`` -> ``cuda:LOCAL_RANK`` when CUDA is there, else CPU; a
        bare ``cuda`` -> ``cuda:LOCAL_RANK``; anything else as given."""
        import torch

        from vsrbench.devices import resolve_device

        if device in (None, "auto"):
            device = f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"
        elif str(device) == "cuda":
            device = f"cuda:{self.local_rank}"
        dev = resolve_device(device)
        if dev.type == "cuda":
            if dev.index is not None and dev.index >= torch.cuda.device_count():
                raise VsrbenchError(f"rank {self.rank}: {dev} does not exist (this node has "
                                    f"{torch.cuda.device_count()} GPU(s)); use --nproc-per-node <= the GPUs per node")
            torch.cuda.set_device(dev)
        return dev

    def connect(self, device):
        """Resolve this rank's device and join the process group (``nccl`` on CUDA, else ``gloo``)."""
        import datetime

        import torch.distributed as dist

        dev = self.device(device)
        if self.store is None:
            if not dist.is_available():
                raise VsrbenchError("this torch has no torch.distributed; run a single process")
            if not dist.is_initialized():
                backend = "nccl" if dev.type == "cuda" and dist.is_nccl_available() else "gloo"
                try:
                    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=self.timeout))
                except Exception as e:  # rendezvous errors are RuntimeError / DistError with long texts
                    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    raise VsrbenchError(
                        f"rank {self.rank}: cannot join the torchrun job at {os.environ.get('MASTER_ADDR')}:"
                        f"{os.environ.get('MASTER_PORT')} ({first}); check --master-addr/--rdzv-endpoint and that the "
                        f"port is reachable") from None
                import atexit

                atexit.register(_destroy_group)  # kept for later evaluations of this process (a sweep)
            from torch.distributed import distributed_c10d

            self.store = distributed_c10d._get_default_store()
        return dev

    # -- meeting points -------------------------------------------------------------------------
    def _key(self, *parts) -> str:
        return "/".join([self.prefix, *map(str, parts)])

    def _errors(self) -> list[tuple[int, str]]:
        if self.store is None or int(self.store.add(self._key("n_errors"), 0)) == 0:
            return []
        out = []
        for r in range(self.world_size):
            k = self._key("error", r)
            if self.store.check([k]):
                out.append((r, self.store.get(k).decode("utf-8", "replace")))
        return out

    def _raise_errors(self, errors) -> None:
        r, msg = errors[0]
        self.failed = True
        raise VsrbenchError(f"rank {r} of {self.world_size} failed: {msg} (the clips every rank finished are in its "
                            "journal: fix the cause and rerun the same command, it resumes)")

    def exchange(self, name: str, payload=None) -> list:
        """Post ``payload`` (JSON) as this rank's part of meeting point ``name``; wait for every rank's
        part and return them by rank. Raises when another rank failed, or after the timeout."""
        if self.store is None:
            raise VsrbenchError("internal: exchange before connect")
        keys = [self._key("x", name, r) for r in range(self.world_size)]
        self.store.set(keys[self.rank], json.dumps(payload))
        start = time.monotonic()
        pause = 0.005
        while True:
            errors = self._errors()
            if errors:
                self._raise_errors(errors)
            if self.store.check(keys):
                break
            waited = time.monotonic() - start
            if waited > self.timeout:
                missing = [r for r, k in enumerate(keys) if not self.store.check([k])]
                self.failed = True
                raise VsrbenchError(
                    f"rank(s) {', '.join(map(str, missing))} of {self.world_size} did not reach {name!r} within "
                    f"{self.timeout:.0f} s ({TIMEOUT_ENV}); the clips every rank finished are in its journal: rerun "
                    "the same command to resume")
            time.sleep(pause)
            pause = min(pause * 1.5, 0.5)
        return [json.loads(self.store.get(k)) for k in keys]

    def from_rank0(self, name: str, value):
        """Rank 0's ``value`` on every rank (a decision all must share)."""
        return self.exchange(name, value if self.rank == 0 else None)[0]

    def fail(self, message: str) -> None:
        """Tell the other ranks this one failed (best effort: the store may be gone)."""
        if self.store is None or self.failed:
            return
        self.failed = True
        try:
            self.store.set(self._key("error", self.rank), message[:4000])
            self.store.add(self._key("n_errors"), 1)
        except Exception:
            pass

    def close(self) -> None:
        """Leave this evaluation: rank 0 waits (briefly) until the other ranks are done with the store
        it may host. The process group stays for the process's next evaluation (destroyed at exit)."""
        try:
            if self.store is not None:
                if self.rank:
                    self.store.set(self._key("bye", self.rank), "1")
                else:
                    keys = [self._key("bye", r) for r in range(1, self.world_size)]
                    end = time.monotonic() + (5.0 if self.failed else 60.0)
                    while time.monotonic() < end and not self.store.check(keys):
                        time.sleep(0.01)
        except Exception:
            pass


def _destroy_group() -> None:
    try:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:
        pass


# --------------------------------------------------------------------------------------------- entry point
#: the torchrun job of the evaluation running in this thread (set by :func:`torchrun_aware` from the
#: call's explicit ``executor``; ``None`` for a local one, also inside a torchrun evaluation)
_CURRENT: contextvars.ContextVar = contextvars.ContextVar("vsrbench_run", default=None)


def current_run() -> Run | None:
    """The torchrun job the running evaluation belongs to, or None (``executor="local"``)."""
    return _CURRENT.get()


def executor_from_env(environ=None) -> str:
    """``torchrun`` when torchrun started this process with ``WORLD_SIZE > 1``, else ``local``: for
    the command line, which runs ``vsrbench evaluate`` as one rank of the job it was started in."""
    return "local" if torchrun_env(environ) is None else "torchrun"


def is_main_process() -> bool:
    """False on torchrun ranks other than 0 (which print nothing but errors)."""
    env = torchrun_env()
    return env is None or env.rank == 0


def _message(e: BaseException) -> str:
    if isinstance(e, VsrbenchError):
        return str(e)
    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    return f"{type(e).__name__}: {e}"


def _start_run(executor) -> Run | None:
    """The :class:`Run` of ``executor`` (``None``: local)."""
    if executor not in EXECUTORS:
        raise VsrbenchError(f"executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    if executor == "local":
        return None
    env = torchrun_env()
    if env is None:
        if os.environ.get("WORLD_SIZE") == "1":
            return None  # a job of one process: the plain path
        raise VsrbenchError("executor 'torchrun' needs torchrun's environment (RANK, WORLD_SIZE); start the job "
                            "with `torchrun --nproc-per-node N ...` or use executor 'local'")
    return Run(env)


def torchrun_aware(fn):
    """Run ``fn`` (``evaluate``, which takes ``executor``) as one rank of a torchrun job when its
    ``executor`` is ``torchrun``: sets :func:`current_run`, posts this rank's error for the others,
    leaves the job at the end. With ``executor="local"`` (the default) :func:`current_run` is None."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        run = _start_run(kwargs.get("executor", "local"))
        token = _CURRENT.set(run)
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            if run is not None:
                run.fail(_message(e))
            raise
        finally:
            _CURRENT.reset(token)
            if run is not None:
                run.close()

    return wrapper
