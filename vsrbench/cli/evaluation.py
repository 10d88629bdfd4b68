"""Evaluation commands: ``upscale``, ``score``, ``suites``, ``models``, ``evaluate`` and ``profile``."""

from __future__ import annotations

import json

from vsrbench.cli.common import WEIGHTS_HELP as _WEIGHTS_HELP, add_metrics_option as _add_metrics_option
from vsrbench.cli.common import add_weights_option as _add_weights_option, checkpoint_of as _checkpoint_of
from vsrbench.cli.common import workers as _workers
from vsrbench.models.custom import add_model_interface_args, spec_overrides_from_args
from vsrbench.numeric import check_hw, flag, non_negative_int, positive_int


def add_upscale(sub) -> None:
    p = sub.add_parser(
        "upscale",
        help="run a registered model (bicubic, ..., zsm) over a folder of LR clips",
        description=(
            "Upscale every clip folder of --input with a registered model into --output. "
            "'bicubic' is MATLAB imresize (the literature's Bicubic row); see 'vsrbench models'."
        ),
    )
    p.add_argument("--model", default="bicubic", help="registered model name (default bicubic), or package.module:factory")
    p.add_argument("--scale", type=flag(positive_int, "--scale"), default=4, help="scale factor (default 4)")
    p.add_argument("--input", required=True, help="folder with one sub-folder of LR frames (or one video file) per clip")
    p.add_argument("--output", required=True, help="folder to create with the SR clips")
    p.add_argument("--checkpoint", help="weights (.pth/.pt) for the model, loaded strictly")
    _add_weights_option(p)
    p.add_argument("--random-weights", action="store_true",
                   help="run a model with parameters without --checkpoint (seeded random weights: a smoke run)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32", help="compute precision (autocast on CUDA)")
    p.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_interface_args(p)
    p.set_defaults(func=_cmd_upscale)


def _cmd_upscale(args) -> int:
    from vsrbench.benchmark.folders import upscale_folder
    from vsrbench.report.results import upscaled_line

    s = upscale_folder(
        args.input, args.output, args.model, args.scale, checkpoint=_checkpoint_of(args.model, args),
        device=args.device, dtype=args.dtype, overwrite=args.overwrite, random_weights=args.random_weights,
        model_spec=spec_overrides_from_args(args),
        progress=not args.no_progress,
    )
    print(upscaled_line(s))
    return 0


def add_score(sub) -> None:
    p = sub.add_parser(
        "score",
        help="score SR clips against GT: BT.601 Y PSNR/SSIM, per frame, per clip, over clips",
        description=(
            "Score --pred against --gt by the VSR protocol: Y channel (BT.601, MATLAB rgb2ycbcr, unrounded), "
            "PSNR and SSIM (Wang 2004, 11x11 Gaussian, valid) per frame, mean over each clip's frames, then "
            "mean over clips. Clips pair by folder name, frames by natural-sorted order."
        ),
    )
    p.add_argument("--pred", required=True, help="folder of SR clips (frame folders or video files), or one clip")
    p.add_argument("--gt", required=True, help="folder of GT clips (frame folders or video files), or one video file")
    p.add_argument("--crop-border", type=flag(non_negative_int, "--crop-border"), default=0, help="pixels removed on every side before scoring (default 0; DUF-style reports use 8)")
    p.add_argument("--channel", choices=["y", "rgb"], default="y", help="score the Y channel (default) or RGB")
    p.add_argument("--modcrop", type=flag(non_negative_int, "--modcrop"), default=0, help="crop GT to a multiple of this scale first (default: no crop)")
    p.add_argument("--workers", type=_workers, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table", help="table (people), json (one document), csv (per frame)")
    p.add_argument("--output", help="also write the JSON result to this file")
    _add_metrics_option(p, default_help="PSNR/SSIM only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_score)


def _cmd_score(args) -> int:
    from vsrbench.benchmark.folders import score_folders
    from vsrbench.outputs import atomic_write_text, check_output_file
    from vsrbench.report.results import format_score_csv, format_score_table, format_tecogan_table

    if args.output:
        check_output_file(args.output, "choose another --output")
    r = score_folders(
        args.pred, args.gt, crop_border=args.crop_border, channel=args.channel, modcrop=args.modcrop, workers=args.workers,
        metrics=args.metrics, progress=not args.no_progress,
    )
    if args.output:
        atomic_write_text(args.output, json.dumps(r, indent=1), "choose another --output")
    if args.format == "json":
        print(json.dumps(r, indent=1))
    elif args.format == "csv":
        print(format_score_csv(r))
    else:
        print(format_score_table(r) + format_tecogan_table(r))
    return 0


def add_suites(sub) -> None:
    p = sub.add_parser(
        "suites", help="list the evaluation suites and their protocol settings",
        description=("List every evaluation suite: the dataset and set it reads, the LR degradation, scale, "
                     "scored channel, border crop (pixels removed on every side), which frames are scored "
                     "and what the suite reproduces. Pass a suite name to `vsrbench evaluate --suite`."),
    )
    p.add_argument("--long", action="store_true", help="whole descriptions (default: cut to the terminal's width)")
    p.set_defaults(func=_cmd_suites)


def _cmd_suites(args) -> int:
    from vsrbench.benchmark.suites import SUITES
    from vsrbench.report.listings import format_suites, terminal_width

    print(format_suites(SUITES.values(), args.long, terminal_width()))
    return 0


def add_models(sub) -> None:
    p = sub.add_parser(
        "models", help="list registered models: task, interface, parameters, published checkpoint",
        description=("List the registered models (built-in and from installed plug-ins, entry-point group "
                     "'vsrbench.models'): task (vsr / stvsr), input frames per call, output frames, colour "
                     "(rgb or Y only), supported scales, parameter count and the published checkpoint's file "
                     "name. Fast: the built-in models are listed without importing torch."),
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=_cmd_models)


def _cmd_models(args) -> int:
    from vsrbench.report.listings import format_models, model_rows

    rows = model_rows(full=args.format == "json")  # the table needs no torch: built-in models from plain data
    print(json.dumps(rows, indent=1) if args.format == "json" else format_models(rows))
    return 0


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a registered model on a suite by the published protocol",
        description=(
            "Run --model on --suite and score it: BT.601 Y (or the suite's channel) PSNR/SSIM per frame, "
            "mean per clip, mean over clips; temporal consistency (tOF, warping error, temporal-difference "
            "PSNR); runtime. Results go to the results store and re-runs skip what is scored (--force "
            "re-scores); an interrupted run resumes at the clip it stopped in."
        ),
    )
    p.add_argument("--model", required=True, help="registered model (vsrbench models), or package.module:factory")
    p.add_argument("--suite", required=True, help="suite name (vsrbench suites)")
    from vsrbench.benchmark.options import add_flags

    add_flags(p)  # every option of EvaluateOptions with a flag
    p.add_argument("--format", choices=["table", "json"], default="table")
    add_model_interface_args(p)
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args) -> int:
    from vsrbench.benchmark.distributed import executor_from_env, is_main_process
    from vsrbench.benchmark.harness import evaluate
    from vsrbench.benchmark.options import options_from_args
    from vsrbench.report.results import format_result_table, format_tecogan_table

    # torchrun started this command: it is one rank of the job (executor_from_env)
    opts = options_from_args(args, model_spec=spec_overrides_from_args(args), executor=executor_from_env())
    r = evaluate(args.model, args.suite, opts)
    if is_main_process():  # torchrun: rank 0 prints the record, the other ranks nothing but errors
        print(json.dumps(r, indent=1) if args.format == "json" else format_result_table(r) + format_tecogan_table(r))
    return 0


def add_profile(sub) -> None:
    p = sub.add_parser(
        "profile", help="time a model alone at the field's LR size (ms/frame, fps, FLOPs, memory)",
        description=("Time MODEL's forward pass alone (no data loading, no scoring) on random input of the "
                     "field's LR size (--lr-size, default 180x320: 320 wide, 180 high) after warm-up: median "
                     "ms/frame and fps over --repeats synchronised runs, parameters, FLOPs per frame (counted "
                     "with torch's FlopCounterMode), peak memory, device and dtype. `--format json` output can "
                     "be added to the runtime leaderboard with `vsrbench leaderboard --profile FILE`."),
    )
    p.add_argument("--model", required=True, nargs="+", help="registered model name(s) or package.module:factory")
    p.add_argument("--lr-size", default="180x320", metavar="HxW", type=flag(check_hw, "--lr-size"),
                   help="LR frame size HEIGHTxWIDTH, height first (default 180x320, i.e. 320 wide and 180 high; "
                        "x16 papers use 45x80). Output sizes print WxH, labelled")
    p.add_argument("--scale", type=flag(positive_int, "--scale"), help="scale (default: the model's first supported scale; x4 for a factory of your own that takes scale)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--dtype", nargs="+", choices=["fp32", "fp16", "bf16"], default=["fp32"], help="one or more precisions")
    p.add_argument("--batch", type=flag(positive_int, "--batch"), default=1, help="frames per model call (default 1)")
    p.add_argument("--repeats", type=flag(positive_int, "--repeats"), default=5, help="timed repeats (median reported)")
    p.add_argument("--weights", metavar="NAME", help=_WEIGHTS_HELP + "; loaded strictly into each --model "
                   "(the timing does not depend on the weights)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    add_model_interface_args(p)
    p.set_defaults(func=_cmd_profile)


def _cmd_profile(args) -> int:
    from vsrbench.devices import resolve_device
    from vsrbench.benchmark.runtime import format_runtime_table, profile_model
    from vsrbench.models import create_model, get_model_info

    h, w = args.lr_size
    dev = resolve_device(args.device)
    rows = []
    flags = spec_overrides_from_args(args)
    if flags and not any(":" in n for n in args.model):
        get_model_info(args.model[0], flags)  # the flags' one-line error for registered models
    for name in args.model:
        # flags: for package.module:factory names; a factory taking scale is built at --scale (default x4)
        info = get_model_info(name, flags if ":" in name else None, scale=args.scale or 4)
        scale = args.scale or info.spec.scales[0]
        net = create_model(info, scale=scale)
        if args.weights:
            from vsrbench.models import load_checkpoint

            load_checkpoint(net, _checkpoint_of(name, args))
        net = net.to(dev).eval()
        for dt in args.dtype:
            rows.append(profile_model(net, (h, w), device=dev, dtype=dt, batch=args.batch, repeats=args.repeats))
    print(json.dumps(rows, indent=1) if args.format == "json" else format_runtime_table(rows))
    return 0
