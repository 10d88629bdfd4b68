"""Board commands: ``leaderboard``, ``plot`` and ``regress`` (they read the results store)."""

from __future__ import annotations

import json
import os
import sys

from vsrbench.cli.common import add_results_option
from vsrbench.errors import VsrbenchError
from vsrbench.numeric import check_float, flag


def _load_profiles(paths) -> list[dict]:
    rows = []
    for p in paths or []:
        try:
            data = json.loads(open(p).read())
        except (OSError, json.JSONDecodeError) as e:
            raise VsrbenchError(f"--profile {p}: not a JSON file from `vsrbench profile --format json` ({e})") from None
        rows.extend(data if isinstance(data, list) else [data])
    return rows


def add_leaderboard(sub) -> None:
    p = sub.add_parser(
        "leaderboard",
        help="quality, temporal and runtime leaderboards from the results store (md, html, csv, latex)",
        description=(
            "Build three boards from the results store: quality (PSNR/SSIM, one column pair per suite, "
            "best measured value per column marked), temporal consistency (tOF, warping error, tPSNR) and "
            "runtime (ms/frame, fps, params, FLOPs, peak memory, device, dtype, LR size). Rows reported by "
            "papers (reported.csv) appear beside measured rows, marked 'reported' with the paper named, "
            "never mixed into measured values."
        ),
    )
    add_results_option(p)
    p.add_argument("--suite", nargs="+", help="only these suites (default: every suite with results or reported rows)")
    p.add_argument("--format", choices=["md", "html", "csv", "latex"], default="md",
                   help="md (default), html (one self-contained page with sortable tables and plots), "
                        "csv (tidy: board, row keys, column, value, best), latex (booktabs tables)")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.add_argument("--reported", metavar="FILE", help="more papers' numbers (a CSV like vsrbench/leaderboard/data/"
                   "reported.csv), added to the published rows that ship with vsrbench")
    p.add_argument("--no-reported", action="store_true", help="leave out the reported rows")
    p.add_argument("--profile", nargs="+", metavar="JSON",
                   help="add `vsrbench profile --format json` output file(s) to the runtime board (FLOPs, memory)")
    p.add_argument("--no-plots", action="store_true", help="html: do not embed plots")
    p.set_defaults(func=_cmd_leaderboard)


def show_leaderboard(results=None, suites=None, *, fmt: str = "md", out=None, reported=None,
                     no_reported: bool = False, profiles=(), plots: bool = True) -> None:
    """Build, render and show the boards of the results store ``results`` (``sweep`` ends with this):
    the text on stdout or into ``out``, the notes on stderr."""
    from vsrbench.benchmark.results import load_results
    from vsrbench.leaderboard.boards import build_boards, load_reported
    from vsrbench.leaderboard.render import render
    from vsrbench.outputs import atomic_write_text, check_output_file

    if out:
        check_output_file(out, "choose another --out")
    records = load_results(results)
    rep_arg = False if no_reported else reported
    boards, notes = build_boards(records, reported=rep_arg, suites=suites, profiles=_load_profiles(profiles))
    images = None
    if fmt == "html" and plots and records:
        from vsrbench.leaderboard import plots as plotting

        rep = None if no_reported else load_reported(reported)[0]
        images = {k: plotting.png_bytes(f) for k, f in plotting.make_plots(records, suites, rep).items()}
    text = render(boards, fmt, notes, images)
    if not records:
        print("vsrbench leaderboard: no complete results in the store; only reported rows shown", file=sys.stderr)
    print(f"vsrbench leaderboard: {notes[0]}", file=sys.stderr)
    if out:
        atomic_write_text(out, text, "choose another --out")
        print(f"wrote {fmt} leaderboard ({len(records)} measured records) to {out}")
    else:
        sys.stdout.write(text)


def _cmd_leaderboard(args) -> int:
    show_leaderboard(args.results, args.suite, fmt=args.format, out=args.out, reported=args.reported,
                     no_reported=args.no_reported, profiles=args.profile, plots=not args.no_plots)
    return 0


def add_plot(sub) -> None:
    p = sub.add_parser(
        "plot",
        help="plots: PSNR vs runtime per suite, per-clip bars, temporal-profile comparisons (PNG, SVG)",
        description=(
            "Write plots from the results store to --out-dir: psnr_vs_runtime_<suite> (measured records, "
            "reported rows with a runtime as hollow markers), per_clip_psnr_<suite>, and, with --temporal-profile, "
            "a side-by-side comparison of temporal-profile images (the *_temporal_profile.png that "
            "`vsrbench evaluate --save-outputs DIR` writes)."
        ),
    )
    add_results_option(p)
    p.add_argument("--suite", nargs="+", help="only these suites (default: every suite with results)")
    p.add_argument("--out-dir", help="folder for the plot files (default: plots/ beside the results store, "
                                     "$VSRBENCH_HOME/plots for the default store)")
    p.add_argument("--kind", nargs="+", choices=["runtime", "clips"], default=["runtime", "clips"],
                   help="which results plots (default both)")
    p.add_argument("--image-format", nargs="+", choices=["png", "svg"], default=["png", "svg"],
                   help="file formats (default png svg)")
    p.add_argument("--reported", metavar="FILE", help="more papers' numbers for the runtime plot, added to the "
                   "published rows that ship with vsrbench")
    p.add_argument("--temporal-profile", nargs="+", metavar="LABEL=PNG",
                   help="temporal-profile images to compare side by side, e.g. bicubic=out/calendar_temporal_profile.png")
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(args) -> int:
    from vsrbench.benchmark.results import load_results
    from vsrbench.leaderboard import plots
    from vsrbench.leaderboard.boards import load_reported
    from vsrbench.outputs import ensure_dir

    if not args.out_dir:
        from vsrbench.benchmark.results import results_dir

        args.out_dir = str(results_dir(args.results).parent / "plots")
        print(f"vsrbench plot: no --out-dir given: writing the plots to {args.out_dir}", file=sys.stderr)
    ensure_dir(args.out_dir, "choose another --out-dir")
    records = load_results(args.results)
    figs = plots.make_plots(records, args.suite, load_reported(args.reported)[0], kinds=args.kind)
    if args.temporal_profile:
        from vsrbench.datasets.frames import read_frame

        imgs = {}
        for item in args.temporal_profile:
            if "=" not in item:
                raise VsrbenchError(f"--temporal-profile wants LABEL=PNG, got {item!r}")
            lab, path = item.split("=", 1)
            if not os.path.isfile(path):
                raise VsrbenchError(f"--temporal-profile {lab}: {path}: no such file")
            imgs[lab] = read_frame(path)
        figs["temporal_profiles"] = plots.temporal_profiles(imgs)
    if not figs:
        raise VsrbenchError("nothing to plot: no results for the selected suites (and no --temporal-profile)")
    from vsrbench.outputs import safe_child

    for name, fig in figs.items():  # names carry the records' suite names: input, so checked
        for path in plots.save(fig, safe_child(args.out_dir, name, what="plot (from a record's suite)"), args.image_format):
            print(path)
    return 0


def add_regress(sub) -> None:
    p = sub.add_parser(
        "regress",
        help="compare the results' metric table with a baseline CSV; fail naming every moved cell",
        description=(
            "Build the metric table of the results store (one row per model, weights, suite, settings and "
            "clip, '(mean)' for the mean over clips; PSNR and SSIM), compare it with --baseline and exit 1 "
            "naming every cell that moved beyond the tolerances and every row that appeared or disappeared. "
            "--update rewrites the baseline from the results instead."
        ),
    )
    p.add_argument("--baseline", required=True, help="baseline CSV (e.g. baselines/ci_regression.csv)")
    add_results_option(p)
    p.add_argument("--suite", nargs="+", help="only these suites")
    p.add_argument("--tolerance-db", type=flag(check_float, "--tolerance-db", 0.0), default=0.01, help="allowed PSNR change in dB (default 0.01)")
    p.add_argument("--tolerance-ssim", type=flag(check_float, "--tolerance-ssim", 0.0), default=0.0005, help="allowed SSIM change (default 0.0005)")
    p.add_argument("--update", action="store_true", help="rewrite the baseline from the current results")
    p.set_defaults(func=_cmd_regress)


def _cmd_regress(args) -> int:
    from vsrbench.benchmark.results import load_results
    from vsrbench.leaderboard.regress import compare, metric_table, read_baseline, write_baseline

    table = metric_table(load_results(args.results), args.suite)
    if args.update:
        if table.empty:
            raise VsrbenchError("no complete results to write a baseline from")
        from vsrbench.outputs import check_output_file

        check_output_file(args.baseline, "choose another --baseline")
        write_baseline(table, args.baseline)
        print(f"wrote {len(table)} rows to {args.baseline}")
        return 0
    base = read_baseline(args.baseline)
    if args.suite:
        base = base[base["suite"].isin(args.suite)]
    rep = compare(table, base, args.tolerance_db, args.tolerance_ssim)
    print(rep.format())
    return 0 if rep.ok else 1
