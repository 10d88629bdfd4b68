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

import contextlib
import enum
import json
import os
import re
import time
from pathlib import Path

from vsrbench.distributed import (  # noqa: F401 (TorchrunEnv, dist_timeout: this module's API too)
    TIMEOUT_ENV, TorchrunEnv, destroy_group, dist_timeout, join_group, rank_device, torchrun_env,
)
from vsrbench.errors import VsrbenchError

__all__ = [
    "TorchrunEnv", "torchrun_env", "split_clips", "journal_path", "journal_paths", "journal_rank", "resumed_entries",
    "Run", "LocalRun", "start_run", "executing", "is_main_process", "dist_timeout", "TIMEOUT_ENV",
    "EXECUTORS", "Executor", "executor_from_env",
]

#: how an evaluation runs (see :class:`Executor`)
EXECUTORS = ("local", "torchrun")


class Executor(str, enum.Enum):
    """Who scores an evaluation's clips, passed to ``evaluate(executor=...)`` explicitly (never
    inferred from the environment by the library):

    * ``LOCAL``: this process scores every clip, also when it is one process of a torchrun job (a
      training rank that validates). A sweep runs local evaluations, one per task, on its Dask
      workers (:mod:`vsrbench.benchmark.sweep`): Dask is a way to run many local evaluations, not
      an executor of one.
    * ``TORCHRUN``: this process is one rank of the torchrun job that started it (``vsrbench
      evaluate`` passes it when torchrun started the command, :func:`executor_from_env`): it scores
      its share of the clips and rank 0 writes the one record.

    A str enum: ``Executor.LOCAL == "local"``. A new backend is a member here and a ``Run``-like
    class returned by :func:`start_run`.
    """

    LOCAL = "local"
    TORCHRUN = "torchrun"

    @classmethod
    def parse(cls, value) -> "Executor":
        try:
            return cls(value.value if isinstance(value, Executor) else value)
        except ValueError:
            raise VsrbenchError(f"executor {value!r} is not one of {', '.join(EXECUTORS)}") from None


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
        if run is not None and run.distributed and (run.rank != 0 or (r is not None and r < run.world_size)):
            continue  # a live rank reads its own
        seen += [e for e in read_journal(j) if e.get("clip") in wanted]
    if run is not None and run.distributed:
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
    @property
    def distributed(self) -> bool:
        return True

    def device(self, device):
        """``--device`` for this rank (:func:`vsrbench.distributed.rank_device`)."""
        return rank_device(device, self.env)

    def connect(self, device):
        """Resolve this rank's device and join the process group (:func:`vsrbench.distributed.join_group`)."""
        dev = self.device(device)
        if self.store is None:
            if join_group(dev, self.env, self.timeout):
                import atexit

                atexit.register(destroy_group)  # kept for later evaluations of this process (a sweep)
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


# --------------------------------------------------------------------------------------------- entry point
class LocalRun:
    """The local executor's side of :class:`Run`: one process, rank 0 of 1; every meeting point
    returns this process's own part, so the harness's stages read the same for both executors."""

    rank, world_size, local_rank = 0, 1, 0
    distributed = False
    failed = False

    def connect(self, device):
        from vsrbench.devices import resolve_device

        return resolve_device(device)

    def exchange(self, name: str, payload=None) -> list:
        return [payload]

    def from_rank0(self, name: str, value):
        return value

    def fail(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


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


def start_run(executor) -> "Run | LocalRun":
    """The job of ``executor`` (an :class:`Executor` or its name): a :class:`LocalRun`, or this
    process's :class:`Run` of the torchrun job that started it."""
    if Executor.parse(executor) is Executor.LOCAL:
        return LocalRun()
    env = torchrun_env()
    if env is None:
        if os.environ.get("WORLD_SIZE") == "1":
            return LocalRun()  # a job of one process: the plain path
        raise VsrbenchError("executor 'torchrun' needs torchrun's environment (RANK, WORLD_SIZE); start the job "
                            "with `torchrun --nproc-per-node N ...` or use executor 'local'")
    return Run(env)


@contextlib.contextmanager
def executing(executor):
    """``with executing(executor) as run:`` the evaluation's job (:func:`start_run`); an error is
    posted for the other ranks, and the job is left at the end."""
    run = start_run(executor)
    try:
        yield run
    except BaseException as e:
        run.fail(_message(e))
        raise
    finally:
        run.close()
