"""``sweep``: evaluate a grid of models x suites (x checkpoints) on a Dask cluster, then show the board."""

from __future__ import annotations

import argparse
import sys

from vsrbench.cli.common import csv_names as _csv_names
from vsrbench.errors import VsrbenchError
from vsrbench.models.custom import add_model_interface_args, spec_overrides_from_args
from vsrbench.numeric import flag, non_negative_int


def add_sweep(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="evaluate every model x suite (x checkpoint) as tasks on a Dask cluster, then print the leaderboard",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run `vsrbench evaluate` for each (model, weights, suite) of the grid as one task on a Dask cluster\n"
            "(pip install 'vsrbench[cluster]'): --scheduler local:N starts N worker processes here; tcp://HOST:PORT\n"
            "uses a running `dask scheduler` and its `dask worker`s (Slurm / PBS: dask-jobqueue, see README).\n"
            "Workers that declare a GPU resource (`dask worker ADDRESS --resources GPU=1`) run one task at a\n"
            "time. Records land in the one results store: written by the workers when they see it at the same\n"
            "path (checked with a probe file), else returned and written here. Scored tasks are skipped; a\n"
            "task that raised, or whose worker died, is retried; a failed task is one error line (the others\n"
            "still run). Data and checkpoints must be at the same paths on the workers. At the end the\n"
            "leaderboard of the swept suites is printed (as `vsrbench leaderboard --suite ...`).\n"
            "Evaluate's options below apply to every task."
        ),
    )
    p.add_argument("--models", required=True, type=_csv_names("--models"), metavar="A,B",
                   help="registered models (vsrbench models) or models of your own (package.module:factory), "
                        "comma-separated")
    p.add_argument("--suites", required=True, type=_csv_names("--suites"), metavar="X,Y",
                   help="suites (vsrbench suites), comma-separated")
    p.add_argument("--checkpoints", nargs="+", default=[], metavar="MODEL=PATH",
                   help="weights per model (repeat a model for several checkpoints: one task each); models with "
                        "parameters and no checkpoint need --random-weights")
    p.add_argument("--weights", nargs="+", default=[], metavar="MODEL=NAME",
                   help="official checkpoints per model (e.g. basicvsr=reds4; repeat a model for several: one task "
                        "each), downloaded here first into $VSRBENCH_HOME/weights")
    p.add_argument("--scheduler", default="local:1", metavar="local:N|tcp://HOST:PORT",
                   help="local:N (N one-thread worker processes on this machine; default local:1) or a Dask "
                        "scheduler address")
    p.add_argument("--retries", type=flag(non_negative_int, "--retries"), default=2,
                   help="extra attempts for a task that raised an unexpected error (default 2)")
    from vsrbench.benchmark.options import add_flags

    add_flags(p, sweep=True)  # evaluate's options a sweep takes (EvaluateOptions: one source of truth)
    add_model_interface_args(p)
    p.set_defaults(func=_cmd_sweep)


def _parse_checkpoints(items) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for it in items or []:
        model, sep, path = it.partition("=")
        if not sep or not model.strip() or not path.strip():
            raise VsrbenchError(f"--checkpoints {it!r}: use MODEL=PATH, e.g. zsm=xiang2020zooming.pth")
        out.setdefault(model.strip(), []).append(path.strip())
    return out


def _sweep_checkpoints(args) -> dict[str, list[str]]:
    """--checkpoints MODEL=PATH and --weights MODEL=NAME (fetched now) as one model -> paths map."""
    from vsrbench.benchmark.weights_fetch import fetch_weights

    out = _parse_checkpoints(args.checkpoints)
    for it in args.weights or []:
        model, sep, name = it.partition("=")
        if not sep or not model.strip() or not name.strip():
            raise VsrbenchError(f"--weights {it!r}: use MODEL=NAME, e.g. basicvsr=reds4")
        out.setdefault(model.strip(), []).append(str(fetch_weights(model.strip(), name.strip())))
    return out


def _cmd_sweep(args) -> int:
    from vsrbench.benchmark.options import PASS_THROUGH, options_from_args
    from vsrbench.benchmark.sweep import sweep
    from vsrbench.cli.boards import show_leaderboard
    from vsrbench.report.results import sweep_summary, sweep_task_line

    def report(task, outcome):
        if isinstance(outcome, str):
            print(f"vsrbench sweep: error: {outcome}", file=sys.stderr, flush=True)
        else:
            print(sweep_task_line(task.label, outcome), flush=True)

    opts = options_from_args(args, model_spec=spec_overrides_from_args(args))
    r = sweep(
        args.models, args.suites, _sweep_checkpoints(args), args.scheduler, results=args.results,
        retries=args.retries, report=report, **{k: getattr(opts, k) for k in PASS_THROUGH},
    )
    for task, why in r.unsupported:
        print(f"{task.label}: left out ({why})", file=sys.stderr)
    print(sweep_summary(r), flush=True)
    show_leaderboard(args.results, args.suites)  # the swept suites' board, as `vsrbench leaderboard --suite ...`
    if r.failures:
        print(f"vsrbench sweep: error: {len(r.failures)} task(s) failed (listed above); fix them and rerun the "
              f"sweep (scored tasks are skipped)", file=sys.stderr)
        return 2
    return 0
