"""The ``vsrbench`` command: a thin shell over the Python API.

Each subcommand parses its options and calls one API function; user errors
(:class:`vsrbench.errors.VsrbenchError`) are printed on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from vsrbench import __version__
from vsrbench.errors import VsrbenchError

EPILOG = "Run 'vsrbench COMMAND --help' for a command's options. Docs: README.md."


def _workers(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("--workers must be >= 1")
    return n


# ---------------------------------------------------------------------------------------------
# degrade


def _add_degrade(sub) -> None:
    from vsrbench.degradations.spec import VALID_OPS

    ops = "\n".join(f"  {name:<14} {VALID_OPS[name][3]}" for name in VALID_OPS)
    p = sub.add_parser(
        "degrade",
        help="make LR clips from GT clips (MATLAB-exact BI, BD, blur, noise, JPEG)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Degrade every clip folder of --input into --output (same clip and frame names, PNG).\n"
            "GT is modcropped to a multiple of the scale first. Random parts are seeded by\n"
            "(dataset, clip, frame index, spec): identical bytes on every rerun and worker count.\n\n"
            "Spec grammar: op[:key=value,...][:xS] joined by '+', e.g. bi:x4, bd:x4, bd-duf:x4,\n"
            "gauss:sigma=1,size=3:x4, blur-bicubic:sigma=2:x4, bi:x4+noise, bi:x4+jpeg:q=20,\n"
            "frames:odd+bi:x4. Operations:\n" + ops
        ),
    )
    p.add_argument("--input", required=True, help="folder with one sub-folder of GT frames per clip")
    p.add_argument("--output", required=True, help="folder to create with the LR clips")
    p.add_argument("--spec", required=True, help="degradation spec, e.g. bi:x4 (see above)")
    p.add_argument("--workers", type=_workers, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--dataset", default="", help="name mixed into random seeds (default: none)")
    p.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    p.add_argument("--allow-gaps", action="store_true", help="accept clips whose frame numbers have gaps")
    p.set_defaults(func=_cmd_degrade)


def _cmd_degrade(args) -> int:
    from vsrbench.datasets.lr import degrade_folder

    summary = degrade_folder(
        args.input,
        args.output,
        args.spec,
        workers=args.workers,
        dataset=args.dataset,
        overwrite=args.overwrite,
        allow_gaps=args.allow_gaps,
    )
    print(f"wrote {summary['frames']} frames of {summary['clips']} clips ({summary['spec']}) to {summary['output']}")
    return 0


# ---------------------------------------------------------------------------------------------
# upscale


def _add_upscale(sub) -> None:
    p = sub.add_parser(
        "upscale",
        help="run a registered model (bicubic, ..., zsm) over a folder of LR clips",
        description=(
            "Upscale every clip folder of --input with a registered model into --output. "
            "'bicubic' is MATLAB imresize (the literature's Bicubic row); see 'vsrbench models'."
        ),
    )
    p.add_argument("--model", default="bicubic", help="registered model name (default bicubic)")
    p.add_argument("--scale", type=int, default=4, help="scale factor (default 4)")
    p.add_argument("--input", required=True, help="folder with one sub-folder of LR frames per clip")
    p.add_argument("--output", required=True, help="folder to create with the SR clips")
    p.add_argument("--checkpoint", help="weights (.pth/.pt) for the model, loaded strictly")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32", help="compute precision (autocast on CUDA)")
    p.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    p.set_defaults(func=_cmd_upscale)


def _cmd_upscale(args) -> int:
    from vsrbench.benchmark.folders import upscale_folder

    s = upscale_folder(
        args.input,
        args.output,
        args.model,
        args.scale,
        checkpoint=args.checkpoint,
        device=args.device,
        dtype=args.dtype,
        overwrite=args.overwrite,
    )
    print(f"wrote {s['frames']} frames of {s['clips']} clips ({s['model']} x{s['scale']} on {s['device']}) to {s['output']}")
    return 0


# ---------------------------------------------------------------------------------------------
# score


def _fmt(v, digits=4) -> str:
    if v is None:
        return "inf"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return f"{v:.{digits}f}"


def format_score_table(r: dict) -> str:
    lines = [
        f"{'clip':<24} {'frames':>6} {'PSNR':>9} {'SSIM':>7}",
        "-" * 49,
    ]
    for name, c in r["clips"].items():
        inf = f"  ({c['n_inf']} identical frame(s), PSNR inf, excluded)" if c["n_inf"] else ""
        lines.append(f"{name:<24} {c['n_frames']:>6} {_fmt(c['psnr']):>9} {_fmt(c['ssim']):>7}{inf}")
    lines.append("-" * 49)
    lines.append(f"{'mean over clips':<24} {r['n_frames']:>6} {_fmt(r['psnr']):>9} {_fmt(r['ssim']):>7}")
    lines.append(
        f"{'(mean over frames)':<24} {'':>6} {_fmt(r['frame_mean']['psnr']):>9} {_fmt(r['frame_mean']['ssim']):>7}"
    )
    lines.append(f"channel {r['channel']}, crop_border {r['crop_border']}; {r['aggregation']}")
    if r["n_inf"]:
        lines.append(f"note: {r['n_inf']} frame(s) identical to GT (PSNR = inf) are left out of the means")
    return "\n".join(lines)


def format_score_csv(r: dict) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["clip", "index", "pred", "gt", "psnr", "ssim"])
    for name, c in r["clips"].items():
        for f in c["frames"]:
            w.writerow([name, f["index"], f["pred"], f["gt"], "inf" if f["psnr"] is None else repr(f["psnr"]), repr(f["ssim"])])
    return buf.getvalue().rstrip("\n")


def _add_score(sub) -> None:
    p = sub.add_parser(
        "score",
        help="score SR clips against GT: BT.601 Y PSNR/SSIM, per frame, per clip, over clips",
        description=(
            "Score --pred against --gt by the VSR protocol: Y channel (BT.601, MATLAB rgb2ycbcr, unrounded), "
            "PSNR and SSIM (Wang 2004, 11x11 Gaussian, valid) per frame, mean over each clip's frames, then "
            "mean over clips. Clips pair by folder name, frames by natural-sorted order."
        ),
    )
    p.add_argument("--pred", required=True, help="folder of SR clips")
    p.add_argument("--gt", required=True, help="folder of GT clips")
    p.add_argument("--crop-border", type=int, default=0, help="pixels removed on every side before scoring (default 0; DUF-style reports use 8)")
    p.add_argument("--channel", choices=["y", "rgb"], default="y", help="score the Y channel (default) or RGB")
    p.add_argument("--modcrop", type=int, default=0, help="crop GT to a multiple of this scale first (default: no crop)")
    p.add_argument("--workers", type=_workers, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table", help="table (people), json (one document), csv (per frame)")
    p.add_argument("--output", help="also write the JSON result to this file")
    p.set_defaults(func=_cmd_score)


def _cmd_score(args) -> int:
    from vsrbench.benchmark.folders import score_folders

    r = score_folders(
        args.pred, args.gt, crop_border=args.crop_border, channel=args.channel, modcrop=args.modcrop, workers=args.workers
    )
    if args.output:
        tmp = f"{args.output}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(r, f, indent=1)
        os.replace(tmp, args.output)
    if args.format == "json":
        print(json.dumps(r, indent=1))
    elif args.format == "csv":
        print(format_score_csv(r))
    else:
        print(format_score_table(r))
    return 0


# ---------------------------------------------------------------------------------------------
# demo


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="run degrade -> upscale -> score on the embedded demo clips (no download)",
        description=(
            "Render the embedded demo clips (synthetic camera motion over photographs shipped with "
            "scikit-image), degrade them with --spec, upscale with --model and score against the GT."
        ),
    )
    p.add_argument("--workdir", help="where to write GT/LR/SR (default: $VSRBENCH_HOME/demo-run)")
    p.add_argument("--spec", default="bi:x4", help="degradation spec (default bi:x4)")
    p.add_argument("--model", default="bicubic", help="registered model (default bicubic)")
    p.add_argument("--clips", type=int, default=0, help="use only the first N demo clips (default all)")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    from pathlib import Path

    from vsrbench.benchmark.folders import score_folders, upscale_folder
    from vsrbench.datasets.demo import DEMO_CLIPS, render_demo_clip
    from vsrbench.datasets.frames import atomic_output_dir, write_frame
    from vsrbench.datasets.lr import degrade_folder
    from vsrbench.degradations import parse_spec

    home = Path(os.environ.get("VSRBENCH_HOME", Path.home() / ".cache" / "vsrbench"))
    work = Path(args.workdir) if args.workdir else home / "demo-run"
    names = list(DEMO_CLIPS)[: args.clips or None]
    deg = parse_spec(args.spec)
    gt = work / "GT"
    with atomic_output_dir(gt, overwrite=True) as tmp:
        for name in names:
            (tmp / name).mkdir()
            for i, f in enumerate(render_demo_clip(name)):
                write_frame(tmp / name / f"{i:08d}.png", f)
    lr = work / f"LR-{deg.spec.replace(':', '_').replace('+', '_')}"
    degrade_folder(gt, lr, deg.spec, overwrite=True, dataset="demo")
    sr = work / f"SR-{args.model}"
    upscale_folder(lr, sr, args.model, deg.scale, overwrite=True)
    r = score_folders(sr, gt, modcrop=deg.scale)
    print(f"demo: {len(names)} clips, {deg.spec}, {args.model} x{deg.scale}; files in {work}")
    print(format_score_table(r))
    return 0


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsrbench",
        description=(
            "vsrbench: prepare video super-resolution datasets and evaluate VSR / space-time VSR models "
            "by the published protocol (BT.601 Y PSNR/SSIM, MATLAB-exact degradations)."
        ),
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"vsrbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(sub)
    _add_degrade(sub)
    _add_upscale(sub)
    _add_score(sub)
    # further commands register here
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except VsrbenchError as e:
        print(f"vsrbench {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vsrbench {args.command}: interrupted; nothing partial was left in place", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
