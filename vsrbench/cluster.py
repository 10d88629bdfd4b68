"""Dask clusters for ``sweep`` and ``prepare --scheduler``: parse ``--scheduler`` and connect a
``distributed`` client, with one clear :class:`~vsrbench.errors.VsrbenchError` for each way that
fails (package missing, bad value, scheduler unreachable, no workers).

``local:N`` starts a ``LocalCluster`` of N worker processes, one thread each, on 127.0.0.1 (no
dashboard); anything else is a scheduler address (``tcp://HOST:PORT``, ``tls://...``, or
``HOST:PORT`` for tcp). ``distributed`` is the optional extra ``vsrbench[cluster]``.

Security: a Dask client and its scheduler and workers exchange pickles, i.e. code. Connect only to
a scheduler you (or your cluster's job system) started; on a network others share, use ``tls://``
with Dask's security settings. The local cluster listens on 127.0.0.1 only.

Imports nothing from the pipeline stages.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

from vsrbench.errors import VsrbenchError

__all__ = ["parse_scheduler", "connect", "has_gpu_workers", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'vsrbench[cluster]' (the 'distributed' package)"
_LOCAL = re.compile(r"local(?::([0-9]+))?")
_ADDRESS = re.compile(r"(tcp|tls|ucx|ws|wss|inproc)://\S+")
_HOSTPORT = re.compile(r"[A-Za-z0-9.\-\[\]:]+:\d{1,5}")
FIX = ("pass --scheduler local:N (N worker processes on this machine) or the address a running `dask scheduler` "
       "prints (tcp://HOST:PORT)")


def parse_scheduler(text: str) -> tuple[str, int | str]:
    """``("local", N)`` for ``local`` / ``local:N``; ``("address", ADDRESS)`` for a scheduler address."""
    t = (text or "").strip()
    m = _LOCAL.fullmatch(t)
    if m:
        from vsrbench.numeric import positive_int

        return "local", positive_int(m.group(1) or "1", "--scheduler local:N")
    if _ADDRESS.fullmatch(t):
        return "address", t
    if _HOSTPORT.fullmatch(t):
        return "address", "tcp://" + t
    raise VsrbenchError(f"--scheduler {text!r} is neither local:N nor a scheduler address; {FIX}")


def _distributed():
    try:
        import distributed
    except ImportError:
        raise VsrbenchError(f"--scheduler needs the 'distributed' package, which is not installed: {INSTALL_HINT}") from None
    return distributed


@contextmanager
def connect(scheduler: str, *, timeout: float = 10.0, wait_workers: float = 120.0):
    """A ``distributed.Client`` on ``scheduler`` (see :func:`parse_scheduler`), closed (and a local
    cluster shut down) when the block ends. Waits up to ``wait_workers`` seconds for a first worker."""
    kind, value = parse_scheduler(scheduler)
    distributed = _distributed()
    import logging

    cluster = None
    if kind == "local":
        from vsrbench.numeric import check_workers

        value = check_workers(value, "--scheduler local:N")  # at most the usable cores, with a warning
        cluster = distributed.LocalCluster(n_workers=value, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=logging.ERROR,
                                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        address = cluster.scheduler_address
    else:
        address = value
    try:
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=True)
        except (OSError, TimeoutError) as e:
            raise VsrbenchError(
                f"cannot reach the Dask scheduler at {address} ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                f"start one with `dask scheduler` and workers with `dask worker {address}`, or {FIX}") from None
        try:
            try:
                client.wait_for_workers(1, timeout=wait_workers)
            except (TimeoutError, OSError):
                raise VsrbenchError(
                    f"the Dask scheduler at {address} has no workers after {wait_workers:g} s; start some with "
                    f"`dask worker {address} --nthreads 1` (add --resources GPU=1 on a GPU machine)") from None
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def has_gpu_workers(client) -> bool:
    """Whether any worker of ``client``'s scheduler declares a ``GPU`` resource (``dask worker --resources GPU=1``)."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return any((w.get("resources") or {}).get("GPU") for w in workers.values())
