"""``train``: a registered model with its paper's recipe (or 'quick') on a prepared training set."""

from __future__ import annotations

from vsrbench.cli.common import backend_choices
from vsrbench.numeric import check_seed, check_workers, flag, positive_int


def add_train(sub) -> None:
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
    p.add_argument("--backend", choices=backend_choices(), help="store backend (default: the first found)")
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
    from vsrbench.report.results import trained_line
    from vsrbench.training import train

    r = train(args.model, args.data, out=args.out, recipe=args.recipe, set=args.set, variant=args.variant,
              iters=args.iters, batch=args.batch, patch=args.patch, device=args.device, seed=args.seed,
              resume=args.resume, workers=args.workers, checkpoint_every=args.checkpoint_every,
              backend=args.backend, progress=not args.quiet, val_suite=args.val_suite)
    if r.rank == 0:  # under torchrun: one line, from the rank that wrote the files
        print(trained_line(r))
    return 0
