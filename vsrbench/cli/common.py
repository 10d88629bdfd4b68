"""Argument helpers more than one command group shares (no formatting here: see :mod:`vsrbench.report`)."""

from __future__ import annotations

import argparse

from vsrbench.errors import VsrbenchError
from vsrbench.numeric import check_workers, flag

workers = flag(check_workers, "--workers")  # >= 1, capped at the usable cores with a warning

WEIGHTS_HELP = ("an official checkpoint by name (e.g. basicvsr: reds4, vimeo90k-bi, vimeo90k-bd; see `vsrbench "
                "models`): downloaded once into $VSRBENCH_HOME/weights, verified by its published hash")


def add_weights_option(p) -> None:
    p.add_argument("--weights", metavar="NAME", help=WEIGHTS_HELP)


def checkpoint_of(model: str, args) -> str | None:
    """--checkpoint, or the cached file of --weights NAME (downloaded first); not both."""
    name = getattr(args, "weights", None)
    if not name:
        return getattr(args, "checkpoint", None)
    if getattr(args, "checkpoint", None):
        raise VsrbenchError("--weights and --checkpoint name the weights twice; pass one of them")
    from vsrbench.benchmark.weights_fetch import fetch_weights

    return str(fetch_weights(model, name))


def add_results_option(p) -> None:
    """``--results DIR``: the results store the board commands read (None: the default store)."""
    p.add_argument("--results", help="results store (default $VSRBENCH_HOME/results)")


def add_metrics_option(p, default_help: str) -> None:
    from vsrbench.benchmark.options import METRICS_HELP

    p.add_argument("--metrics", default="default", metavar="SET[,SET]", help=METRICS_HELP.format(default_help))


def csv_names(flag: str):
    def parse(value: str) -> list[str]:
        names = [v.strip() for v in value.split(",") if v.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"{flag} needs comma-separated names, got {value!r}")
        return names

    parse.__name__ = flag.lstrip("-")
    return parse


def add_backend_flags(p) -> None:
    """One ``--<backend>`` flag per registered store backend (``vsrbench.datasets.stores.REGISTRY``), the
    registry's default when none is given: a new backend needs no edit here."""
    from vsrbench.datasets.stores.registry import REGISTRY

    g = p.add_mutually_exclusive_group()
    for b in REGISTRY.values():
        g.add_argument(b.layout.flag, dest="backend", action="store_const", const=b.name, help=b.layout.help)
    p.set_defaults(backend=next(b.name for b in REGISTRY.values() if b.layout.default))


def backend_choices() -> tuple[str, ...]:
    from vsrbench.datasets.stores.registry import BACKENDS

    return BACKENDS
