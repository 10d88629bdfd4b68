"""The engine's seams (issue 20): one options schema (EvaluateOptions) from which the CLI flags of
evaluate and sweep, sweep's pass-through and the settings key are derived; evaluate's plan stage
checks everything before any model work; one torchrun module with one timeout policy for
evaluation and training; the Record type checked in one place."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from vsrbench.benchmark import harness
from vsrbench.benchmark.options import PASS_THROUGH, SETTING_FIELDS, SWEEP_FLAGS, EvaluateOptions, options_from_args
from vsrbench.benchmark.results import NOT_IDENTITY, make_settings, settings_key
from vsrbench.cli import build_parser
from vsrbench.errors import VsrbenchError

FIELDS = {f.name: f for f in dataclasses.fields(EvaluateOptions)}
INTERFACE = {"frames_in", "task", "colour", "value_range", "scales"}  # models.custom's flags (-> model_spec)
PROCESS = {"max_pixels"}  # the decoding commands' process-wide limit (cli._add_max_pixels), no evaluate option


def _options_of(command: str) -> dict[str, str]:
    """``{dest: first flag}`` of a subcommand's options."""
    sub = next(a for a in build_parser()._subparsers._group_actions)
    return {a.dest: a.option_strings[0] for a in sub.choices[command]._actions if a.option_strings and a.dest != "help"}


def test_every_option_field_has_its_flag_on_evaluate_and_sweep_and_vice_versa():
    ev = _options_of("evaluate")
    flagged = {n: f.metadata["flag"] for n, f in FIELDS.items() if f.metadata["flag"]}
    assert {k: v for k, v in ev.items() if k not in {"model", "suite", "format"} | INTERFACE | PROCESS} == flagged
    sw = _options_of("sweep")
    # sweep's own: --weights MODEL=NAME (per model, fetched before the tasks) beside --checkpoints MODEL=PATH
    own = {"models", "suites", "checkpoints", "weights", "scheduler", "retries"} | INTERFACE | PROCESS
    assert {k: v for k, v in sw.items() if k not in own} == {n: flagged[n] for n in SWEEP_FLAGS}
    assert set(SWEEP_FLAGS) == {n for n in flagged if FIELDS[n].metadata["sweep"]}
    assert "checkpoint" not in SWEEP_FLAGS and "weights" not in SWEEP_FLAGS and "save_outputs" not in PASS_THROUGH  # per task / refused
    # the flags' defaults are the fields' defaults; each flag lands in its field
    args = build_parser().parse_args(["evaluate", "--model", "bicubic", "--suite", "demo"])
    assert options_from_args(args) == EvaluateOptions()
    args = build_parser().parse_args(["sweep", "--models", "bicubic", "--suites", "demo", "--no-temporal",
                                      "--crop", "32x64", "--seed", "7", "--no-cache-lr"])
    o = options_from_args(args)
    assert (o.temporal, o.crop, o.seed, o.cache_lr) == (False, (32, 64), 7, False)


def test_settings_key_covers_the_fields_marked_as_settings():
    assert set(make_settings()) == set(SETTING_FIELDS) - {"metrics"}  # the default metric set is left out
    samples = {"dtype": "bf16", "tile": 64, "batch": 4, "padding": "zeros", "save_outputs": "out", "limit_clips": 2,
               "crop": (32, 32), "temporal": False, "metrics": "default,tecogan", "model_kwargs": {"nf": 8}}
    assert set(samples) == set(SETTING_FIELDS)
    for name, value in samples.items():
        key = settings_key(make_settings(**{name: value}))
        assert (key == "default") == (name in NOT_IDENTITY), (name, key)
        assert name in NOT_IDENTITY or key.startswith(f"{name}="), key
    # options that change no number are no settings
    assert not {"device", "force", "results", "checkpoint", "cache_lr", "home", "progress", "executor"} & set(
        SETTING_FIELDS)


def test_api_options_are_checked_like_the_flags():
    with pytest.raises(VsrbenchError, match=r"^batch must be >= 1, got 0$"):
        harness.evaluate("bicubic", "demo", batch=0)
    with pytest.raises(TypeError):
        harness.evaluate("bicubic", "demo", no_such_option=1)
    with pytest.raises(VsrbenchError, match=r"^executor 'dask' is not one of local, torchrun$"):
        harness.evaluate("bicubic", "demo", executor="dask")


@pytest.mark.parametrize("kw, message", [
    (dict(crop=(30, 30)), r"^--crop 30x30 must be a multiple of the suite's scale x4$"),
    (dict(checkpoint="/nonexistent/w.pth"), r"^/nonexistent/w.pth: no such checkpoint file$"),
    (dict(suite="vimeo90k-t", metrics="tecogan"), r"^--metrics tecogan needs whole clips scored"),
])
def test_every_request_check_runs_before_any_model_work(kw, message, monkeypatch, tmp_path):
    """Before the redesign the crop and TecoGAN checks ran after the model was built, loaded and moved."""
    import vsrbench.models as models

    def no_model_work(*a, **k):
        raise AssertionError("model work before the checks")

    monkeypatch.setattr(models, "create_model", no_model_work)
    kw = {"suite": "demo", **kw}
    with pytest.raises(VsrbenchError, match=message):
        harness.evaluate("fstrn", kw.pop("suite"), device="cpu", results=tmp_path / "r", progress=False, **kw)
    assert not (tmp_path / "r").exists()


def test_record_is_checked_where_it_is_built():
    from vsrbench.benchmark.record import Record, record_problem

    good = Record(id="0" * 16, model="m", model_spec={}, weights="none", checkpoint=None, training=None, suite="s",
                  suite_settings={}, settings={}, code={}, lr_source="x",
                  summary={"psnr": 30.0, "ssim": 0.9, "n_clips": 1, "n_frames": 1, "n_inf": 0}, missing_clips=[],
                  temporal={}, tecogan=None, runtime={}, provenance={}, resumed_clips=0,
                  clips={"a": {"psnr": 30.0, "ssim": 0.9, "n_frames": 1, "frames": []}})
    d = good.to_dict()
    assert record_problem(d) is None and "tecogan" not in d and list(d)[:3] == ["schema", "id", "complete"]
    with pytest.raises(ValueError, match="ssim"):
        dataclasses.replace(good, clips={"a": {"psnr": 30.0, "ssim": float("nan")}}).to_dict()


def test_training_and_evaluation_join_the_group_with_the_one_timeout(monkeypatch):
    """One timeout policy (VSRBENCH_DIST_TIMEOUT) for both; training had a fixed 60 min of its own."""
    import torch
    import torch.distributed as td

    from vsrbench.benchmark.distributed import Run
    from vsrbench.distributed import TorchrunEnv
    from vsrbench.training import ddp

    seen = []
    monkeypatch.setattr(td, "is_initialized", lambda: False)
    monkeypatch.setattr(td, "init_process_group", lambda backend, timeout: seen.append((backend, timeout)))
    monkeypatch.setenv("VSRBENCH_DIST_TIMEOUT", "123")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    dist, dev = ddp.setup(torch.device("cpu"))
    assert (dist.rank, dist.world, dist.owner, dev.type) == (1, 2, True, "cpu")
    run = Run(TorchrunEnv(rank=1, world_size=2, local_rank=1), store=object())  # store given: no group joined
    assert run.timeout == 123.0
    from vsrbench.distributed import join_group

    join_group(torch.device("cpu"), TorchrunEnv(rank=1, world_size=2, local_rank=1))
    assert seen == [("gloo", datetime.timedelta(seconds=123))] * 2


def test_backend_flags_come_from_the_store_registry(monkeypatch):
    """prepare's --<backend> flags and train's --backend choices are the registry's: a new backend
    (one module and one registry line) needs no CLI edit."""
    import dataclasses

    from vsrbench.datasets.stores import registry

    lmdb = registry.REGISTRY["lmdb"]
    zarr = registry.Backend(dataclasses.replace(lmdb.layout, name="zarr", default=False, help="pack into zarr"),
                            lmdb.reader, lmdb.writer)
    monkeypatch.setitem(registry.REGISTRY, "zarr", zarr)
    monkeypatch.setattr(registry, "BACKENDS", tuple(registry.REGISTRY))
    parser = build_parser()
    assert parser.parse_args(["prepare", "demo"]).backend == "lmdb"  # the registry's default
    for name in registry.REGISTRY:
        assert parser.parse_args(["prepare", "demo", f"--{name}"]).backend == name
        assert parser.parse_args(["train", "--model", "fstrn", "--out", "R", "--backend", name]).backend == name
    sub = next(a for a in parser._actions if a.dest == "command").choices
    assert "pack into zarr" in sub["prepare"].format_help()


def test_datasets_json_is_data(capsys):
    """`vsrbench datasets NAME --json` prints the catalog row as JSON (it raised UnboundLocalError when the
    listing's wrapping `print` shadowed the builtin inside the command)."""
    import json

    from vsrbench.cli import main

    assert main(["datasets", "vid4", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["vid4"] and rows[0]["clips"] == 4
