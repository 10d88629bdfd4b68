"""Data-parallel training under ``torchrun``: the process group, the shard of each rank, small collectives.

``torchrun --nproc-per-node N -m vsrbench train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set; :func:`setup` joins the
group (NCCL on CUDA, each rank on ``cuda:LOCAL_RANK``; gloo on CPU). Without those variables (or
with ``WORLD_SIZE=1``) everything here is a no-op and training runs in one process.

The batch is the *global* batch: iteration ``i`` uses the global sample counters
``i * B .. i * B + B - 1`` (see :mod:`vsrbench.training.data`) and rank ``r`` of ``W`` reads the
consecutive slots ``r * B / W .. (r + 1) * B / W - 1`` of them (:class:`ShardSampler`). DDP averages
the ranks' gradients, each the mean over ``B / W`` samples, so a step is the step one process takes
on the whole global batch: the weights do not depend on the number of processes (up to float
rounding), and a run may be resumed with another number of processes.

torchrun's environment, the rank's device and backend, the process group and its timeout
(``VSRBENCH_DIST_TIMEOUT``, default 6 h: rank 0 validates on a whole suite while the others wait)
are :mod:`vsrbench.distributed`'s, as for evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Sampler

from vsrbench.errors import VsrbenchError

__all__ = ["Dist", "env_world", "setup", "teardown", "shard_slots", "ShardSampler", "mean_over_ranks",
           "gather_objects", "barrier", "rank_seed"]

@dataclass(frozen=True)
class Dist:
    """This process's place: ``rank`` of ``world`` (``local_rank`` on its node); ``owner``: :func:`setup`
    created the process group (and :func:`teardown` destroys it)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owner: bool = False

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def env_world() -> tuple[int, int, int]:
    """``(rank, world, local_rank)`` from torchrun's environment (parsed and checked by
    :func:`vsrbench.distributed.torchrun_env`); ``(0, 1, 0)`` outside torchrun."""
    from vsrbench.distributed import torchrun_env

    env = torchrun_env()
    return (0, 1, 0) if env is None else (env.rank, env.world_size, env.local_rank)


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join torchrun's process group (if any); returns this rank's :class:`Dist` and device.

    On CUDA each rank uses ``cuda:LOCAL_RANK`` (a bare ``cuda``; an index given is kept) and NCCL; on CPU,
    gloo (:func:`vsrbench.distributed.rank_device`, :func:`~vsrbench.distributed.join_group`).
    """
    from vsrbench.distributed import join_group, rank_device, torchrun_env

    env = torchrun_env()
    if env is None:
        return Dist(), device
    if device.type == "cuda" and env.local_rank >= torch.cuda.device_count():
        raise VsrbenchError(f"LOCAL_RANK {env.local_rank} but only {torch.cuda.device_count()} CUDA device(s) are "
                            f"visible; pass --nproc-per-node {torch.cuda.device_count()} or fewer")
    device = rank_device(device, env)
    owner = join_group(device, env)  # nccl on CUDA, gloo on CPU; the one timeout policy
    return Dist(env.rank, env.world_size, env.local_rank, owner), device


def teardown(dist: Dist) -> None:
    if dist.owner:
        from vsrbench.distributed import destroy_group

        destroy_group()


def shard_slots(batch: int, world: int, rank: int) -> range:
    """The slots ``[rank * b, (rank + 1) * b)`` (``b = batch / world``) of a global batch this rank reads."""
    if batch % world:
        raise VsrbenchError(f"--batch {batch} is the global batch, split evenly over the {world} processes; "
                            f"pass a multiple of {world} (e.g. --batch {max(world, batch // world * world)})")
    per = batch // world
    return range(rank * per, (rank + 1) * per)


class ShardSampler(Sampler):
    """Global sample counters of iterations ``start .. start + count - 1``, this rank's slots of each.

    With one process: ``start * batch, start * batch + 1, ...`` (the whole global batch, in order).
    """

    def __init__(self, start: int, count: int, batch: int, world: int = 1, rank: int = 0):
        self.start, self.count, self.batch = int(start), int(count), int(batch)
        self.slots = shard_slots(self.batch, int(world), int(rank))

    def __iter__(self):
        for it in range(self.start, self.start + self.count):
            base = it * self.batch
            yield from (base + j for j in self.slots)

    def __len__(self) -> int:
        return self.count * len(self.slots)


def mean_over_ranks(value: torch.Tensor, dist: Dist) -> torch.Tensor:
    """The mean of a scalar tensor over the ranks (the value itself in one process)."""
    if not dist.enabled:
        return value
    import torch.distributed as td

    v = value.detach().clone().float()
    td.all_reduce(v, op=td.ReduceOp.SUM)
    return v / dist.world


def gather_objects(obj, dist: Dist) -> list:
    """Every rank's ``obj`` (picklable, e.g. an RNG state), in rank order; ``[obj]`` in one process."""
    if not dist.enabled:
        return [obj]
    import torch.distributed as td

    out = [None] * dist.world
    td.all_gather_object(out, obj)
    return out


def barrier(dist: Dist) -> None:
    if dist.enabled:
        import torch.distributed as td

        td.barrier()


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s global torch RNG (dropout) in a multi-process run."""
    import numpy as np

    return int(np.random.SeedSequence([int(seed), int(rank), 0xDD9]).generate_state(1)[0])
