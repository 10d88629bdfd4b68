"""Your own model without a plugin package: ``--model package.module:factory`` with interface flags.

A factory module is written to a temp folder (on ``sys.path`` here, on ``PYTHONPATH`` for the
subprocess). Its models are scored on real Vid4 frames and compared with the equivalent registered
model (the bicubic module; a tiny conv net registered in-process, both with one checkpoint)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from vsrbench.benchmark.harness import evaluate
from vsrbench.cli import build_parser, main
from vsrbench.errors import VsrbenchError
from vsrbench.models import ModelSpec, create_model, get_model_info
from vsrbench.models import registry
from vsrbench.models.custom import spec_overrides_from_args

REPO = Path(__file__).resolve().parents[1]

MODULE = '''
import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models import ModelSpec, create_model


class TinyNet(nn.Module):
    """Mean of the window -> 1x1 conv -> bilinear x scale: any channel count (conv is depthwise)."""

    def __init__(self, scale=4, channels=3):
        super().__init__()
        self.scale = scale
        self.mix = nn.Conv2d(channels, channels, 1, groups=channels)

    def forward(self, x):
        b, t, c, h, w = x.shape
        m = x.mean(dim=1)
        if c != self.mix.in_channels:
            m = m.repeat(1, self.mix.in_channels // c, 1, 1) if c == 1 else m
        y = self.mix(m)[:, :c]
        return F.interpolate(y, scale_factor=self.scale, mode="bilinear", align_corners=False).unsqueeze(1)


def tiny(scale=4):
    return TinyNet(scale)


tiny.vsrbench_spec = {"frames_in": 3, "colour": "rgb", "scales": (4,)}


def bic(scale=4):
    return create_model("bicubic", scale=scale)


bic.vsrbench_spec = ModelSpec(task="vsr", frames_in=1, frames_out=1, colour="rgb", scales=(2, 3, 4),
                              input_range=(0.0, 255.0))


class TinySTVSR(TinyNet):
    """N frames -> 2N - 1: each frame upscaled, the in-between ones the mean of their neighbours."""

    def forward(self, x):
        up = torch.cat([super(TinySTVSR, self).forward(x[:, i : i + 1]) for i in range(x.shape[1])], dim=1)
        mid = (up[:, :-1] + up[:, 1:]) / 2
        out = torch.stack([up[:, :-1], mid], dim=2).flatten(1, 2)
        return torch.cat([out, up[:, -1:]], dim=1)


def stv(scale=4):
    return TinySTVSR(scale)


stv.vsrbench_spec = {"task": "stvsr", "frames_in": 2, "colour": "rgb", "scales": (4,)}


def nospec(scale=4):
    return TinyNet(scale)


def not_a_module(scale=4):
    return "a string"


def broken(scale=4):
    raise ValueError("no such width")


not_a_module.vsrbench_spec = broken.vsrbench_spec = tiny.vsrbench_spec


def follow(scale):
    return TinyNet(scale)


follow.vsrbench_spec = {"frames_in": 3, "colour": "rgb"}  # no scales: built at the one it is asked for


def fixed():
    return TinyNet(4)


fixed.vsrbench_spec = follow.vsrbench_spec
CONSTANT = 3
'''


@pytest.fixture
def mod(tmp_path, monkeypatch):
    """A fresh factory module (unique name) importable from here: its name."""
    name = f"vsrb_custom_{uuid.uuid4().hex[:8]}"
    d = tmp_path / "pymods"
    d.mkdir()
    (d / f"{name}.py").write_text(MODULE)
    (d / f"{name}_broken.py").write_text("import torch\nraise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(d))
    yield name
    for m in (name, f"{name}_broken"):
        sys.modules.pop(m, None)


def _checkpoint(path: Path, channels: int = 3) -> Path:
    g = torch.Generator().manual_seed(3)
    sd = {"mix.weight": 0.8 + 0.3 * torch.rand(channels, 1, 1, 1, generator=g),
          "mix.bias": 0.02 * torch.rand(channels, generator=g)}
    torch.save(sd, path)
    return path


FAST = dict(crop=(32, 48), limit_clips=1, temporal=False, device="cpu", progress=False)


def _frames(rec):
    return [(c, f["gt_index"], f["psnr"], f["ssim"]) for c, v in rec["clips"].items() for f in v["frames"]]


def test_spec_from_factory_and_flags(mod):
    assert get_model_info(f"{mod}:tiny").spec == ModelSpec("vsr", 3, 1, "rgb", (4,), (0.0, 1.0), 1)
    assert get_model_info(f"{mod}:bic").spec == ModelSpec("vsr", 1, 1, "rgb", (2, 3, 4), (0.0, 255.0), 1)
    assert get_model_info(f"{mod}:stv").spec.frames_out == 3  # 2N - 1
    args = build_parser().parse_args(["evaluate", "--model", f"{mod}:stv", "--suite", "vid4", "--frames-in", "4",
                                      "--colour", "y", "--range", "0,255", "--scales", "x4,2"])
    over = spec_overrides_from_args(args)
    assert over == {"frames_in": 4, "colour": "y", "input_range": (0.0, 255.0), "scales": (4, 2)}
    assert get_model_info(f"{mod}:stv", over).spec == ModelSpec("stvsr", 4, 7, "y", (4, 2), (0.0, 255.0), 1)
    rec = get_model_info(f"{mod}:tiny", {"frames_in": "recurrent"}).spec
    assert (rec.frames_in, rec.frames_out, rec.colour) == ("recurrent", 1, "rgb")
    # no flag given: no overrides; the factory gets scale only when it takes one
    assert spec_overrides_from_args(build_parser().parse_args(["evaluate", "--model", "m:f", "--suite", "v"])) is None
    net = create_model(f"{mod}:tiny", scale=4)
    assert net.model_name == f"{mod}:tiny" and net.spec.frames_in == 3 and net.scale == 4
    # nothing is registered by resolving a custom name
    assert not any(":" in n for n in registry._REGISTRY)


def test_evaluate_api_matches_registered_models(mod, home, tmp_path, monkeypatch):
    res = tmp_path / "res"
    mine = evaluate(f"{mod}:bic", "vid4", results=res, **FAST)
    ref = evaluate("bicubic", "vid4", results=res, **FAST)
    assert _frames(mine) == _frames(ref) and len(_frames(mine)) == 41
    assert mine["psnr"] == ref["psnr"] and 15 < mine["psnr"] < 40
    assert mine["model"] == f"{mod}:bic" and mine["model_spec"]["scales"] == (2, 3, 4)
    files = sorted(p.name for p in (res / "vid4").glob("*.json"))
    assert len(files) == 2 and all(":" not in f for f in files) and any(f.startswith(f"{mod}__bic-") for f in files)
    assert f"{mod}.py" in mine["code"]["scoring_files"]

    # a tiny conv net with a checkpoint == the same factory registered under a name
    ck = _checkpoint(tmp_path / "tiny.pth")
    m = sys.modules[mod]
    monkeypatch.setitem(registry._REGISTRY, "custom-test-tiny",
                        registry.ModelInfo("custom-test-tiny", m.tiny, ModelSpec("vsr", 3, 1, "rgb", (4,))))
    a = evaluate(f"{mod}:tiny", "vid4", checkpoint=str(ck), results=res, **FAST)
    b = evaluate("custom-test-tiny", "vid4", checkpoint=str(ck), results=res, **FAST)
    assert _frames(a) == _frames(b) and a["psnr"] != mine["psnr"] and 10 < a["psnr"] < 40
    # flags override the factory's spec, change the numbers and the record
    y = evaluate(f"{mod}:tiny", "vid4", checkpoint=str(ck), results=res, model_spec={"colour": "y"}, **FAST)
    assert y["model_spec"]["colour"] == "y" and y["id"] != a["id"] and y["psnr"] != a["psnr"]
    assert evaluate(f"{mod}:tiny", "vid4", checkpoint=str(ck), results=res, model_spec={"colour": "y"},
                    **FAST)["skipped"]


def test_edited_factory_gives_a_new_record(mod, home, tmp_path):
    from vsrbench.codeversion import _hash_paths

    res = tmp_path / "res"
    first = evaluate(f"{mod}:bic", "vid4", results=res, **FAST)
    path = Path(sys.modules[mod].__file__)
    path.write_text(path.read_text() + "\n# edited: bicubic stays bicubic\n")
    _hash_paths.cache_clear()  # a new process would hash the edited file
    second = evaluate(f"{mod}:bic", "vid4", results=res, **FAST)
    assert "skipped" not in second and second["id"] != first["id"]
    assert second["code"]["scoring_code"] != first["code"]["scoring_code"] and second["psnr"] == first["psnr"]
    assert len(list((res / "vid4").glob("*.json"))) == 2


def test_cli_evaluate_in_a_subprocess_same_numbers(mod, home, tmp_path):
    ck = _checkpoint(tmp_path / "tiny.pth")
    env = {**os.environ, "VSRBENCH_HOME": str(home), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path / "pymods")])}
    r = subprocess.run(
        [sys.executable, "-m", "vsrbench", "evaluate", "--model", f"{mod}:tiny", "--suite", "vid4", "--device", "cpu",
         "--crop", "32x48", "--limit-clips", "1", "--no-temporal", "--checkpoint", str(ck), "--colour", "y",
         "--results", str(tmp_path / "cli"), "--format", "json"],
        env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    cli = json.loads(r.stdout)
    api = evaluate(f"{mod}:tiny", "vid4", checkpoint=str(ck), results=tmp_path / "api", model_spec={"colour": "y"},
                   **FAST)
    assert _frames(cli) == [tuple(x) for x in _frames(api)] and cli["id"] == api["id"]
    assert cli["model"] == f"{mod}:tiny" and cli["model_spec"]["colour"] == "y"
    assert cli["weights"].startswith("sha256:")


def test_a_factory_taking_scale_is_built_at_the_suites_scale(mod, home, tmp_path, capsys):
    """No --scales for a factory with a scale parameter: the suite's scale is passed (x4 on vid4, x16 on
    demo-x16, where the x4-only `tiny` is refused); only frames in and colour had to be said."""
    ck = _checkpoint(tmp_path / "tiny.pth")
    res = tmp_path / "res"
    a = evaluate(f"{mod}:follow", "vid4", checkpoint=str(ck), results=res, **FAST)
    b = evaluate(f"{mod}:tiny", "vid4", checkpoint=str(ck), results=res, **FAST)
    assert a["model_spec"]["scales"] == (4,) and _frames(a) == _frames(b) and len(_frames(a)) == 41
    x16 = evaluate(f"{mod}:follow", "demo-x16", checkpoint=str(ck), results=res, **{**FAST, "crop": (64, 64)})
    assert x16["model_spec"]["scales"] == (16,) and x16["runtime"]["lr_size"] == "4x4" and 5 < x16["psnr"] < 40
    with pytest.raises(VsrbenchError, match="supports x4; suite 'demo-x16' is x16"):
        evaluate(f"{mod}:tiny", "demo-x16", checkpoint=str(ck), results=res, **{**FAST, "crop": (64, 64)})
    assert main(["profile", "--model", f"{mod}:follow", "--scale", "2", "--lr-size", "16x16", "--device", "cpu",
                 "--repeats", "1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["scale"] == 2
    assert main(["profile", "--model", f"{mod}:follow", "--lr-size", "16x16", "--device", "cpu", "--repeats", "1",
                 "--format", "json"]) == 0  # no --scale: x4, like upscale's default
    assert json.loads(capsys.readouterr().out)[0]["scale"] == 4


def test_upscale_and_profile(mod, shared_dir, tmp_path, capsys):
    from vsrbench.datasets.frames import list_frames, read_frame, write_frame

    src = sorted(list_frames(shared_dir / "data/vid4/BIx4-reference/calendar"))[:3]
    lr = tmp_path / "LR" / "calendar"
    lr.mkdir(parents=True)
    for p in src:
        write_frame(lr / p.name, read_frame(p)[40:72, 60:100])
    assert main(["upscale", "--model", f"{mod}:bic", "--input", str(tmp_path / "LR"), "--output",
                 str(tmp_path / "mine"), "--device", "cpu"]) == 0
    assert main(["upscale", "--model", "bicubic", "--input", str(tmp_path / "LR"), "--output",
                 str(tmp_path / "ref"), "--device", "cpu"]) == 0
    mine, ref = list_frames(tmp_path / "mine" / "calendar"), list_frames(tmp_path / "ref" / "calendar")
    assert [p.name for p in mine] == [p.name for p in ref] and len(mine) == 3
    for a, b in zip(mine, ref):
        fa = read_frame(a)
        assert fa.shape == (128, 160, 3) and np.array_equal(fa, read_frame(b))
    # STVSR custom: 2n - 1 frames from n, random weights allowed as a smoke run
    assert main(["upscale", "--model", f"{mod}:stv", "--input", str(tmp_path / "LR"), "--output",
                 str(tmp_path / "stv"), "--device", "cpu", "--random-weights"]) == 0
    assert len(list_frames(tmp_path / "stv" / "calendar")) == 5
    capsys.readouterr()

    assert main(["profile", "--model", f"{mod}:tiny", "bicubic", "--lr-size", "16x16", "--device", "cpu",
                 "--repeats", "1", "--frames-in", "5", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == [f"{mod}:tiny", "bicubic"]
    assert rows[0]["frames_in"] == 5 and rows[0]["params"] == 6 and rows[0]["scale"] == 4
    assert rows[1]["frames_in"] == 1  # the flags apply to package.module:factory names only


ERRORS = [
    # (argv after the model, model suffix or full name, words in the one line)
    (["profile"], "vsrb_no_such_module_xyz:build", ["cannot import module 'vsrb_no_such_module_xyz'", "PYTHONPATH",
                                                     "pip install -e"]),
    (["profile"], "{mod}_broken:build", ["importing module", "failed: RuntimeError: boom at import"]),
    (["profile"], "{mod}:nope", ["has no attribute 'nope'", "tiny"]),
    (["profile"], "{mod}:CONSTANT", ["is a int, not a callable"]),
    (["profile"], "{mod}:not_a_module", ["returned a builtins.str, not a torch.nn.Module"]),
    (["profile"], "{mod}:broken", ["raised ValueError: no such width"]),
    (["profile"], "{mod}:nospec", ["does not say how to feed it", "--frames-in N|recurrent", "--colour rgb|y",
                                   "vsrbench_spec"]),
    (["profile"], "{mod}:fixed", ["does not say how to feed it", "--scales S[,S...]"]),  # no scale parameter
    (["profile", "--colour", "y"], "fstrn", ["--colour", "registered model 'fstrn' declares its own interface"]),
    (["profile", "--range", "0,2"], "{mod}:tiny", ["--range must be 0,1 or 0,255"]),
    (["profile", "--frames-in", "0"], "{mod}:tiny", ["--frames-in must be a window size"]),
    (["profile", "--task", "sr"], "{mod}:tiny", ["--task must be vsr"]),
    (["profile", "--colour", "ycbcr"], "{mod}:tiny", ["--colour must be rgb or y"]),
    (["profile", "--scales", "four"], "{mod}:tiny", ["--scales must be"]),
    (["profile", "--task", "stvsr", "--frames-in", "recurrent"], "{mod}:tiny", ["STVSR model takes a window"]),
    (["profile"], "bad name:x", ["package.module:factory"]),
    (["evaluate", "--suite", "vid4"], "{mod}:tiny", ["has no weights", "--checkpoint", "--random-weights"]),
    (["evaluate", "--suite", "vid4", "--scales", "2"], "{mod}:bic", ["supports x2; suite 'vid4' is x4"]),
    (["upscale", "--input", "in", "--output", "out"], "{mod}:tiny", ["has no weights", "--random-weights"]),
]


@pytest.mark.parametrize("argv,model,words", ERRORS, ids=[f"{a[0]}-{m.split(':')[-1]}-{i}"
                                                          for i, (a, m, _) in enumerate(ERRORS)])
def test_errors_are_one_line(mod, tmp_path, monkeypatch, capsys, argv, model, words):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    rc = main([argv[0], "--model", model.format(mod=mod), "--device", "cpu", *argv[1:]])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"vsrbench {argv[0]}: error: "), err
    for w in words:
        assert w in err, (w, err)
    assert "Traceback" not in err


def test_api_errors_name_the_flags(mod):
    with pytest.raises(VsrbenchError, match="is built at the scale it is asked for.*pass --scale S"):
        get_model_info(f"{mod}:follow")  # no scale asked for, none declared
    with pytest.raises(VsrbenchError, match="drop the flag"):
        get_model_info("bicubic", {"frames_in": 3})
    import importlib

    importlib.import_module(mod).tiny.vsrbench_spec = {"width": 3}
    with pytest.raises(VsrbenchError, match="unknown field 'width'"):
        get_model_info(f"{mod}:tiny")
    importlib.import_module(mod).tiny.vsrbench_spec = [3]
    with pytest.raises(VsrbenchError, match="vsrbench_spec is a list; make it a dict"):
        get_model_info(f"{mod}:tiny")


def test_records_never_import_the_models_they_name(mod, home, tmp_path, monkeypatch, capsys):
    """A results store (or baseline) naming ``pkg.mod:factory`` is data: boards and the regression
    guard read it without importing the module."""
    evil = tmp_path / "evil"
    evil.mkdir()
    marker = tmp_path / "imported"
    name = f"vsrb_evil_{uuid.uuid4().hex[:8]}"
    (evil / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                     "def build(scale=4):\n    raise SystemExit('ran')\n")
    monkeypatch.syspath_prepend(str(evil))
    res = tmp_path / "res"
    rec = evaluate(f"{mod}:bic", "vid4", results=res, **FAST)
    p = next((res / "vid4").glob(f"{mod}__bic-*.json"))
    rec = json.loads(p.read_text())
    rec["model"] = f"{name}:build"
    (res / "vid4" / f"{name}__build-0000.json").write_text(json.dumps(rec))
    assert main(["leaderboard", "--results", str(res), "--no-reported", "--format", "csv"]) == 0
    assert f"{name}:build" in capsys.readouterr().out
    base = tmp_path / "base.csv"
    assert main(["regress", "--results", str(res), "--baseline", str(base), "--update"]) == 0
    assert main(["regress", "--results", str(res), "--baseline", str(base)]) == 0
    assert f"{name}:build" in base.read_text()
    assert not marker.exists() and name not in sys.modules


def test_sweep_plans_and_runs_models_of_your_own(mod, home, tmp_path):
    """sweep passes the interface flags to the models of your own only; a task (run here, in process,
    as a worker runs it) gives the record `evaluate` gives; flags with registered models only: refused."""
    from vsrbench.benchmark.sweep import SweepTask, plan_tasks, run_task

    tasks, left_out = plan_tasks([f"{mod}:tiny", "bicubic"], ["vid4"],
                                 model_spec={"colour": "y"})
    assert [t.model for t in tasks] == [f"{mod}:tiny", "bicubic"] and not left_out
    with pytest.raises(VsrbenchError, match="registered model 'bicubic' declares its own interface"):
        plan_tasks(["bicubic"], ["vid4"], model_spec={"colour": "y"})
    res = tmp_path / "res"
    opts = dict(crop=(32, 48), limit_clips=1, temporal=False, device="cpu", model_spec={"colour": "y"},
                random_weights=True)
    out = run_task(SweepTask(f"{mod}:tiny", "vid4"), str(res), True, {}, opts)
    ref = evaluate(f"{mod}:tiny", "vid4", results=tmp_path / "ref", progress=False, **opts)
    assert out["shared"] and out["record"]["id"] == ref["id"] and _frames(out["record"]) == _frames(ref)
    assert out["record"]["model_spec"]["colour"] == "y"
    b = run_task(SweepTask("bicubic", "vid4"), str(res), True, {}, opts)  # the flags are not given to bicubic
    assert "record" in b and b["record"]["model"] == "bicubic" and "model_spec" in b["record"]
