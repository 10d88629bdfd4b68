"""`vsrbench train`: recipes end to end on the Vimeo-90K samples, exact resume, NaN stop, clear errors."""

import csv
import json

import numpy as np
import pytest
import torch

from vsrbench.cli import main
from vsrbench.datasets import prepare
from vsrbench.datasets import stores as stores_mod
from vsrbench.errors import VsrbenchError
from vsrbench.models import create_model, load_checkpoint
from vsrbench.training import PAPER_RECIPES, TrainDataset, get_recipe, resolve_data, train
from vsrbench.training import loop as loop_mod
from vsrbench.training.data import marker_hash


@pytest.fixture
def home(train_home):
    return train_home


def _cli(capsys, *args):
    rc = main(["train", *args, "--device", "cpu", "--quiet"])
    return rc, capsys.readouterr()


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.parametrize("model,patch", [("zsm", 8), ("fstrn", 8), ("lcvsr", 8), ("dksan", 4)])
def test_paper_recipe_two_iterations(home, tmp_path, capsys, model, patch):
    run = tmp_path / "run"
    rc, cap = _cli(capsys, "--model", model, "--recipe", "paper", "--out", str(run), "--iters", "2",
                   "--batch", "1", "--patch", str(patch), "--val-suite", "none")
    assert rc == 0, cap.err
    info = json.loads((run / "run.json").read_text())
    rec = PAPER_RECIPES[model]
    assert info["iterations"] == 2 and info["status"] == "done" and info["model"] == model
    assert info["recipe"]["lr"] == rec.lr and info["recipe"]["loss"] == rec.loss and info["recipe"]["iters"] == 2
    gt = home / "vimeo90k/lmdb/train/GT.lmdb"
    assert info["data"]["gt"] == {"path": str(gt), "marker_sha256": marker_hash(gt)}
    assert info["data"]["clips"] == 8  # the 00001/* clips of sep_trainlist.txt
    if rec.lr_spec:  # LCVSR's Gaussian and DKSAN's x16 are made from GT on the fly
        assert info["data"]["lr_on_the_fly"] == rec.lr_spec and "lr" not in info["data"]
    else:
        assert info["data"]["lr"]["path"].endswith("BIx4.lmdb")
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows][-1] == 2 and np.isfinite(float(rows[-1]["loss"]))
    ck = _weights(run / "latest.pth")
    assert ck["iteration"] == 2 and ck["sample"] == 2
    assert all(int(s["step"]) == 2 for s in ck["optimizer"]["state"].values())
    # model.pth is what `evaluate --checkpoint` loads strictly into the registered default model
    net = load_checkpoint(create_model(model), run / "model.pth", strict=True)
    torch.manual_seed(0)
    fresh = create_model(model)
    moved = max((p - q).abs().max().item() for p, q in zip(net.state_dict().values(), fresh.state_dict().values())
                if p.is_floating_point())
    assert moved > 0  # two Adam steps changed the weights
    if model == "zsm":  # the journal's training: rho and the cyclic losses, training-only
        assert info["recipe"]["cyclic"] is True and info["recipe"]["charbonnier_eps"] == 1e-3
        assert sum(p.numel() for p in net.parameters()) == 11_102_771 and "aux" not in net.state_dict()
        rho = ck["aux"]
        assert set(rho) >= {"conv_last.weight", "body.0.conv1.weight"} and len(rho) == 4 * 5 + 2
        n_net = len(list(net.parameters()))
        assert len(ck["optimizer"]["state"]) == n_net + len(rho)  # Adam stepped rho too


def _tiny_fstrn(iters):
    # FSTRN's paper recipe (dropout 0.3 draws from the global RNG; plateau scheduler with state), CPU-sized
    return get_recipe("paper", "fstrn").replace(iters=iters, batch=2, patch_h=4, patch_w=4, plateau_window=3,
                                                plateau_patience=0, checkpoint_every=7, log_every=1, val_suite=None)


def test_resume_gives_exactly_the_uninterrupted_weights(home, tmp_path):
    full = train("fstrn", out=tmp_path / "full", recipe=_tiny_fstrn(40), device="cpu", seed=3, progress=False)
    assert full.iterations == 40
    part = train("fstrn", out=tmp_path / "part", recipe=_tiny_fstrn(40), device="cpu", seed=3, progress=False,
                 stop_after=20)
    assert part.iterations == 20
    assert json.loads((tmp_path / "part/run.json").read_text())["status"] == "stopped"
    mid = _weights(tmp_path / "part/model.pth")
    res = train("fstrn", out=tmp_path / "part", recipe=_tiny_fstrn(40), device="cpu", seed=3, progress=False,
                resume=True)
    assert res.iterations == 40
    a, b = _weights(tmp_path / "full/model.pth"), _weights(tmp_path / "part/model.pth")
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) == 0.0
    assert max((a[k] - mid[k]).abs().max().item() for k in a) > 0  # the second half did train
    ca, cb = _weights(tmp_path / "full/latest.pth"), _weights(tmp_path / "part/latest.pth")
    assert ca["optimizer"]["param_groups"][0]["lr"] == cb["optimizer"]["param_groups"][0]["lr"]
    assert ca["optimizer"]["param_groups"][0]["lr"] < 1e-4  # the plateau scheduler did reduce the lr
    assert (tmp_path / "full/metrics.csv").read_text().count("\n") == 41
    fa = [r["loss"] for r in csv.DictReader(open(tmp_path / "full/metrics.csv"))]
    fb = [r["loss"] for r in csv.DictReader(open(tmp_path / "part/metrics.csv"))]
    assert fa == fb


def test_nan_loss_stops_naming_the_iteration_and_keeps_the_checkpoint(home, tmp_path, monkeypatch):
    calls = []

    def l2_then_nan(pred, target, eps=0.0):
        calls.append(1)
        loss = torch.nn.functional.mse_loss(pred, target)
        return loss * float("nan") if len(calls) == 4 else loss

    monkeypatch.setitem(loop_mod.LOSSES, "l2", l2_then_nan)
    run = tmp_path / "run"
    with pytest.raises(VsrbenchError, match=r"loss is nan at iteration 4; training stopped.*iteration 2") as e:
        train("lcvsr", out=run, recipe="paper", iters=6, batch=1, patch=4, checkpoint_every=2, device="cpu",
              progress=False, val_suite=None)
    assert "latest.pth" in str(e.value)
    ck = _weights(run / "latest.pth")
    assert ck["iteration"] == 2
    assert json.loads((run / "run.json").read_text())["iterations"] == 2
    assert all(torch.isfinite(v).all() for v in _weights(run / "model.pth").values() if v.is_floating_point())


def test_dataset_is_lazy_deterministic_and_on_the_fly_lr_equals_the_stored_variant(home):
    # LCVSR makes its Gaussian LR on the fly; prepare the same variant as a store and compare
    prepare("vimeo90k", backend="lmdb", variants="gauss:sigma=1,size=3:x4", home=home, progress=False, quiet=True)
    rec = get_recipe("paper", "lcvsr")
    fly = resolve_data("vimeo90k", "train", "bi:x4", rec.lr_spec, home=home)
    stored = resolve_data("vimeo90k", "train", "gauss:sigma=1,size=3:x4", None, home=home)
    assert fly.lr is None and stored.lr is not None
    for key in [k for k in stores_mod._LMDB_ENVS if k[1] == str(fly.gt)]:  # prepare read it in this process
        stores_mod._LMDB_ENVS.pop(key).close()
    ds_fly = TrainDataset(fly, rec, 16, 24, seed=5)
    assert not any(str(fly.gt) == k[1] for k in stores_mod._LMDB_ENVS)  # nothing opened in __init__
    ds_fly[0]
    assert any(str(fly.gt) == k[1] for k in stores_mod._LMDB_ENVS)  # opened by the first read
    ds_st = TrainDataset(stored, rec, 16, 24, seed=5)
    for k in (0, 3, 9, 17):  # 17: the third epoch of 8 clips
        lr1, gt1 = ds_fly[k]
        lr2, gt2 = ds_st[k]
        assert lr1.shape == (7, 1, 16, 24) and gt1.shape == (1, 1, 64, 96)
        assert torch.equal(lr1, lr2) and torch.equal(gt1, gt2)
        assert torch.equal(ds_fly[k][0], lr1)  # same sample again: same bytes
    # two DataLoader worker processes (each opens the LMDB itself) give the batches one process gives
    from torch.utils.data import DataLoader

    from vsrbench.training.data import SequentialSampler

    one = list(DataLoader(ds_st, batch_size=2, sampler=SequentialSampler(5, 6)))
    two = list(DataLoader(ds_st, batch_size=2, sampler=SequentialSampler(5, 6), num_workers=2))
    assert len(one) == len(two) == 3
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(one, two))
    assert torch.equal(one[0][0][0], ds_st[5][0])
    plans = [ds_fly.sample_plan(k) for k in range(16)]
    assert sorted(p["clip"] for p in plans[:8]) == sorted(fly.clips)  # an epoch visits every clip once
    assert [p["clip"] for p in plans[:8]] != [p["clip"] for p in plans[8:]]  # reshuffled per epoch
    assert TrainDataset(fly, rec, 16, 24, seed=6).sample_plan(0) != plans[0] or \
        TrainDataset(fly, rec, 16, 24, seed=6).sample_plan(1) != plans[1]


def test_errors_are_one_line_and_name_the_fix(home, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "r")
    rc, cap = _cli(capsys, "--model", "nosuch", "--out", out)
    assert rc == 2 and "unknown model 'nosuch'" in cap.err and "fstrn" in cap.err
    rc, cap = _cli(capsys, "--model", "fstrn", "--recipe", "slow", "--out", out)
    assert rc == 2 and "unknown recipe 'slow'; use one of: paper, quick" in cap.err
    rc, cap = _cli(capsys, "--model", "bicubic", "--recipe", "paper", "--out", out)
    assert rc == 2 and "no paper recipe" in cap.err and "--recipe quick" in cap.err
    rc, cap = _cli(capsys, "--model", "bicubic", "--recipe", "quick", "--out", out)
    assert rc == 2 and "model 'bicubic' has no trainable weights" in cap.err
    rc, cap = _cli(capsys, "--model", "fstrn", "--data", "vid4", "--out", out)
    assert rc == 2 and "vid4 has no 'train' set" in cap.err and "vsrbench prepare vimeo90k" in cap.err
    rc, cap = _cli(capsys, "--model", "dksan", "--out", out, "--iters", "1")  # the paper's 32x32 LR > 16x28
    assert rc == 2 and "patch 32x32 (LR pixels) is larger than the frames" in cap.err and "--patch 16" in cap.err
    assert not (tmp_path / "r").exists()
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "empty"))
    rc, cap = _cli(capsys, "--model", "fstrn", "--out", out)
    assert rc == 2 and "run `vsrbench prepare vimeo90k" in cap.err
    assert len(cap.err.strip().splitlines()) == 1 and "Traceback" not in cap.err


def test_resume_refuses_other_recipe_or_data(home, tmp_path, capsys):
    out = str(tmp_path / "r")
    base = ["--model", "lcvsr", "--out", out, "--val-suite", "none", "--batch", "1", "--patch", "4", "--iters", "3"]
    rc, cap = _cli(capsys, *base, "--checkpoint-every", "1")
    assert rc == 0, cap.err
    rc, cap = _cli(capsys, *base)  # same folder without --resume
    assert rc == 2 and "already holds a run" in cap.err and "--resume" in cap.err
    rc, cap = _cli(capsys, *base[:-1], "5", "--resume")
    assert rc == 2 and "recipe iters: 3 -> 5" in cap.err
    rc, cap = _cli(capsys, *base, "--seed", "1", "--resume")
    assert rc == 2 and "seed 0 -> 1" in cap.err
    run_json = tmp_path / "r/run.json"
    info = json.loads(run_json.read_text())
    info["data"]["gt"]["marker_sha256"] = "0" * 64  # the run was trained on another GT store
    run_json.write_text(json.dumps(info))
    rc, cap = _cli(capsys, *base, "--resume")
    assert rc == 2 and "data gt" in cap.err and "start a new run" in cap.err
    rc, cap = _cli(capsys, "--model", "lcvsr", "--out", str(tmp_path / "none"), "--resume")
    assert rc == 2 and "holds no run to resume" in cap.err


def test_killed_run_resumes_to_the_uninterrupted_weights(home, tmp_path):
    """SIGKILL a real `vsrbench train` process mid-run, then --resume: the same weights as no kill."""
    import os
    import signal
    import subprocess
    import sys
    import time

    args = dict(recipe="quick", iters=24, batch=2, patch=4, checkpoint_every=3, device="cpu", seed=1)
    run = tmp_path / "killed"
    code = (
        "import sys, torch; torch.set_num_threads(1); torch.backends.mkldnn.enabled = False\n"
        "from vsrbench.cli import main\n"
        f"sys.exit(main(['train', '--model', 'fstrn', '--out', {str(run)!r}, '--recipe', 'quick', '--iters', '24', "
        "'--batch', '2', '--patch', '4', '--checkpoint-every', '3', '--device', 'cpu', '--seed', '1', '--quiet']))\n"
    )
    env = {**os.environ, "VSRBENCH_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                if json.loads((run / "run.json").read_text())["iterations"] >= 6:
                    break
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                pass
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = _weights(run / "latest.pth")["iteration"]
    assert 6 <= done < 24
    (run / ".latest.pth.tmp99999").write_bytes(b"torn")  # as a kill during a checkpoint write leaves
    res = train("fstrn", out=run, resume=True, progress=False, **args)
    assert sorted(p.name for p in run.iterdir()) == ["latest.pth", "metrics.csv", "model.pth", "run.json"]
    full = train("fstrn", out=tmp_path / "full", progress=False, **args)
    assert res.iterations == full.iterations == 24
    a, b = _weights(tmp_path / "full/model.pth"), _weights(run / "model.pth")
    assert max((a[k] - b[k]).abs().max().item() for k in a) == 0.0


def test_schedulers_follow_the_recipes():
    p = torch.nn.Parameter(torch.zeros(1))

    def lrs(recipe, n):
        opt = torch.optim.Adam([p], lr=recipe.lr)
        sched = loop_mod.make_scheduler(recipe, opt)
        out = []
        for _ in range(n):
            opt.step()
            sched.step()
            out.append(opt.param_groups[0]["lr"])
        return out

    lc = lrs(get_recipe("paper", "lcvsr").replace(iters=16), 16)  # 1e-4 -> 1e-5 after 7/8 of the run
    assert lc[12] == pytest.approx(1e-4) and lc[13] == pytest.approx(1e-5) and lc[-1] == pytest.approx(1e-5)
    z = lrs(get_recipe("paper", "zsm").replace(iters=10), 10)  # cosine 4e-4 -> 1e-7
    assert z[-1] == pytest.approx(1e-7) and z[4] == pytest.approx(1e-7 + (4e-4 - 1e-7) / 2)
    assert all(a > b for a, b in zip(z, z[1:]))
    assert loop_mod.make_scheduler(get_recipe("paper", "dksan"), torch.optim.Adam([p], lr=4e-4)) is None


@pytest.mark.parametrize("model", sorted(PAPER_RECIPES))
def test_paper_recipes_fit_the_registered_models(model):
    from vsrbench.models import get_model_info

    rec, spec = get_recipe("paper", model), get_model_info(model).spec
    n_in = len(range(rec.frames)[::2]) if rec.input_frames == "odd" else rec.frames
    assert n_in == spec.frames_in and rec.colour == spec.colour and rec.scale in spec.scales
    assert (rec.target == "all") == (spec.frames_out > 1)
    assert rec.chosen and rec.source  # every recipe says what the paper left open
    if rec.lr_spec:
        from vsrbench.degradations import parse_spec

        assert parse_spec(rec.lr_spec).scale == rec.scale


def test_hdf5_and_folder_stores_give_the_lmdb_samples(shared_dir, vimeo_home, tmp_path):
    """The same samples from every backend; the folder tree (all sets) is cut to sep_trainlist.txt."""
    h = tmp_path / "h"
    for backend in ("hdf5", "folders"):
        prepare("vimeo90k", backend=backend, variants="bi:x4", source=shared_dir / "data/vimeo90k", home=h,
                progress=False, quiet=True)
    rec = get_recipe("paper", "fstrn")
    ref = resolve_data("vimeo90k", "train", "bi:x4", None, home=vimeo_home, backend="lmdb")
    ds_ref = TrainDataset(ref, rec, 12, 12, seed=2)
    for backend in ("hdf5", "folders"):
        d = resolve_data("vimeo90k", "train", "bi:x4", None, home=h, backend=backend)
        assert d.clips == ref.clips and len(d.clips) == 8 and all(c.startswith("00001/") for c in d.clips)
        ds = TrainDataset(d, rec, 12, 12, seed=2)
        for k in (0, 7, 8):
            a, b = ds[k], ds_ref[k]
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    (h / "vimeo90k/sep_trainlist.txt").unlink()
    with pytest.raises(VsrbenchError, match="the train list.*is missing"):
        resolve_data("vimeo90k", "train", "bi:x4", None, home=h, backend="folders")


def test_validation_through_the_harness_leaves_the_weights_alone(home, tmp_path):
    """Validation at every checkpoint: the harness's own numbers in metrics.csv, and the same weights
    as a run without validation (the harness seeds the global RNG; FSTRN's dropout draws from it)."""
    from vsrbench.benchmark.harness import evaluate

    assert main(["prepare", "demo", "--no-progress"]) == 0
    rec = get_recipe("quick", "fstrn").replace(iters=4, batch=2, patch_h=4, patch_w=4, checkpoint_every=2,
                                               log_every=1, val_suite="demo", val_crop=(32, 32))
    train("fstrn", out=tmp_path / "val", recipe=rec, device="cpu", progress=False)
    train("fstrn", out=tmp_path / "noval", recipe=rec, device="cpu", progress=False, val_suite=None)
    a, b = _weights(tmp_path / "val/model.pth"), _weights(tmp_path / "noval/model.pth")
    assert max((a[k] - b[k]).abs().max().item() for k in a) == 0.0
    rows = {int(r["iteration"]): r for r in csv.DictReader(open(tmp_path / "val/metrics.csv"))}
    assert rows[1]["val_psnr"] == "" and rows[2]["val_psnr"] and rows[4]["val_psnr"]
    assert all(r["val_psnr"] == "" for r in csv.DictReader(open(tmp_path / "noval/metrics.csv")))
    ref = evaluate("fstrn", "demo", checkpoint=str(tmp_path / "val/model.pth"), device="cpu", crop=(32, 32),
                   results=tmp_path / "results", temporal=False, progress=False)
    assert float(rows[4]["val_psnr"]) == pytest.approx(ref["psnr"], abs=1e-4)
    info = json.loads((tmp_path / "val/run.json").read_text())
    assert info["validation"]["iteration"] == 4 and info["validation"]["psnr"] == pytest.approx(ref["psnr"])
    with pytest.raises(VsrbenchError, match="validation suite vid4 needs vid4.*--val-suite none"):
        train("fstrn", out=tmp_path / "v2", recipe=rec, device="cpu", progress=False, val_suite="vid4")
    with pytest.raises(VsrbenchError, match="validation suite demo-x16 is x16, the run trains x4"):
        train("fstrn", out=tmp_path / "v3", recipe=rec, device="cpu", progress=False, val_suite="demo-x16")


def test_zsm_cyclic_losses_follow_eqs_8_to_10():
    """rho turns the interpolated features into LR frames 2t (eq. 8); the interpolated features,
    interpolated again, into LR frames 2t+1 of the inner inputs (eq. 9); the HR output is the
    network's own (rho is not part of it)."""
    from vsrbench.training.loop import _batch_loss, charbonnier_loss
    from vsrbench.training.zsm_cyclic import ZSMCyclic

    torch.manual_seed(0)
    net = create_model("zsm", nf=8, groups=2, front_RBs=1, back_RBs=1)
    cyc = ZSMCyclic(net, blocks=1)
    lr_all = torch.rand(1, 7, 3, 6, 10)
    y, first, tgt1, second, tgt2 = cyc(lr_all)
    torch.testing.assert_close(y, net(lr_all[:, ::2]))
    assert first.shape == (1, 3, 3, 6, 10) and second.shape == (1, 2, 3, 6, 10)
    torch.testing.assert_close(tgt1, lr_all[:, [1, 3, 5]])
    torch.testing.assert_close(tgt2, lr_all[:, [2, 4]])
    _, l1, inter = net.forward_features(lr_all[:, ::2])
    by_hand = cyc.rho(inter[0])[..., :6, :10]  # the padded 8 x 12 features, cropped back
    torch.testing.assert_close(first[0], by_hand)
    rec = get_recipe("paper", "zsm").replace(cyclic_weights=(1.0, 0.5, 0.25))
    gt = torch.rand(1, 7, 3, 24, 40)
    loss = _batch_loss((y, first, tgt1, second, tgt2), gt, rec, charbonnier_loss)
    expected = (charbonnier_loss(y, gt) + 0.5 * charbonnier_loss(first, tgt1)
                + 0.25 * charbonnier_loss(second, tgt2))
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert cyc.rho.conv_last.weight.grad.abs().sum() > 0 and net.fusion.weight.grad.abs().sum() > 0
