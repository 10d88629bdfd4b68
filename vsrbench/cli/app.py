"""The ``vsrbench`` parser and entry point: every command group registers its subcommands here, and
:func:`main` turns a user error (:class:`vsrbench.errors.VsrbenchError`) into one line on stderr and
exit status 2."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from vsrbench import __version__
from vsrbench.cli import boards, data, evaluation, sweep, train
from vsrbench.errors import VsrbenchError

EPILOG = "Run 'vsrbench COMMAND --help' for a command's options. Docs: README.md."


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


#: the subcommands in the order ``vsrbench --help`` lists them; further commands register here
COMMANDS = (data.add_demo, data.add_degrade, evaluation.add_upscale, evaluation.add_score, data.add_datasets,
            data.add_prepare, evaluation.add_suites, evaluation.add_models, evaluation.add_evaluate, sweep.add_sweep,
            evaluation.add_profile, boards.add_leaderboard, boards.add_plot, boards.add_regress, train.add_train)


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
    for add in COMMANDS:
        add(sub)
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

