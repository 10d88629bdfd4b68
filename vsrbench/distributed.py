"""The one torchrun module: reading torchrun's environment, choosing a rank's device and backend, and
joining / leaving the process group, for evaluation (:mod:`vsrbench.benchmark.distributed`) and
training (:mod:`vsrbench.training.ddp`) alike.

``torchrun --nproc-per-node N ...`` starts N processes with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` set (:func:`torchrun_env`; ``WORLD_SIZE=1`` is a single process).
Each rank runs on ``cuda:LOCAL_RANK`` with NCCL when its device is CUDA, else on the CPU with gloo
(:func:`rank_device`, :func:`join_group`).

Timeout policy (one for both): a rank waits ``VSRBENCH_DIST_TIMEOUT`` seconds (default 6 h) for the
others, at a collective of training or a meeting point of evaluation, before it gives up with one
line naming the variable. The default is long because the ranks legitimately wait for each other for
long: an evaluation's shares differ by up to a clip (minutes on a CPU), and in training rank 0
validates on a whole suite while the others wait at the next collective.

Imports nothing from vsrbench but its errors and devices; torch is imported lazily.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vsrbench.errors import VsrbenchError

__all__ = ["TorchrunEnv", "torchrun_env", "dist_timeout", "TIMEOUT_ENV", "DEFAULT_TIMEOUT_S", "rank_device",
           "backend_for", "join_group", "destroy_group"]

TIMEOUT_ENV = "VSRBENCH_DIST_TIMEOUT"
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
    """Seconds a rank waits for the others (``VSRBENCH_DIST_TIMEOUT``, default 6 h; see the module)."""
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


def rank_device(device, env: TorchrunEnv):
    """``--device`` for a rank: ``auto`` -> ``cuda:LOCAL_RANK`` when CUDA is there, else CPU; a bare
    ``cuda`` (``torch.device('cuda')``, no index) -> ``cuda:LOCAL_RANK``; anything else (``cuda:1``,
    ``cpu``) as given. Selects the CUDA device (``torch.cuda.set_device``)."""
    import torch

    from vsrbench.devices import resolve_device

    if device in (None, "auto"):
        device = f"cuda:{env.local_rank}" if torch.cuda.is_available() else "cpu"
    elif str(device) == "cuda":
        device = f"cuda:{env.local_rank}"
    dev = resolve_device(device)
    if dev.type == "cuda":
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise VsrbenchError(f"rank {env.rank}: {dev} does not exist (this node has {torch.cuda.device_count()} "
                                f"GPU(s)); use --nproc-per-node <= the GPUs per node")
        torch.cuda.set_device(dev)
    return dev


def backend_for(dev) -> str:
    """``nccl`` on CUDA (when this torch has it), ``gloo`` on the CPU; other devices are refused."""
    import torch.distributed as dist

    if dev.type == "cuda":
        return "nccl" if dist.is_nccl_available() else "gloo"
    if dev.type == "cpu":
        return "gloo"
    raise VsrbenchError(f"--device {dev}: torchrun jobs run on cuda (NCCL) or cpu (gloo)")


def join_group(dev, env: TorchrunEnv, timeout: float | None = None) -> bool:
    """Join torchrun's process group for a rank on ``dev`` (:func:`backend_for`), waiting up to
    ``timeout`` seconds (default :func:`dist_timeout`) at each collective. Returns True when this
    call created the group (its caller may :func:`destroy_group`), False when it already existed
    (of this job's size: another size is an error)."""
    import datetime

    import torch.distributed as dist

    if not dist.is_available():
        raise VsrbenchError("this torch has no torch.distributed; run a single process")
    if dist.is_initialized():
        if dist.get_world_size() != env.world_size or dist.get_rank() != env.rank:
            raise VsrbenchError("a process group of another size is already initialised; run in a fresh process")
        return False
    seconds = float(timeout if timeout is not None else dist_timeout())
    try:
        dist.init_process_group(backend_for(dev), timeout=datetime.timedelta(seconds=seconds))
    except VsrbenchError:
        raise
    except Exception as e:  # rendezvous errors are RuntimeError / DistError with long texts
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VsrbenchError(
            f"rank {env.rank}: cannot join the torchrun job at {os.environ.get('MASTER_ADDR')}:"
            f"{os.environ.get('MASTER_PORT')} ({first}); check --master-addr/--rdzv-endpoint and that the "
            f"port is reachable") from None
    return True


def destroy_group() -> None:
    """Leave the process group (best effort: a no-op when there is none)."""
    try:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:
        pass
