"""Issue 10, section 2, output side: every bad output location, damaged results-store file, `$` in a
name and unsafe checkpoint gives one clear line (or a warning and goes on), never a traceback.

Tests run as root, where chmod does not stop a write: a read-only location is a path under a
regular FILE (the OS refuses it for root too), or ``os.access`` / ``mkdir`` patched to refuse.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vsrbench.cli import main
from vsrbench.datasets.frames import write_frame


def _error_line(capsys, command: str) -> str:
    """The single line the CLI printed on stderr (no traceback, no second line)."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"vsrbench {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


def _clips(root: Path, n_clips=1, n=3, size=(32, 32)) -> Path:
    rng = np.random.default_rng(0)
    for c in range(n_clips):
        d = root / f"clip{c}"
        d.mkdir(parents=True)
        for i in range(n):
            write_frame(d / f"{i:03d}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return root


@pytest.fixture(scope="module")
def record_file(prepared_home, tmp_path_factory) -> Path:
    """One real result record: bicubic on a crop of the first demo clip, in a results store of its own."""
    res = tmp_path_factory.mktemp("io_results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(prepared_home))
        assert main(["evaluate", "--model", "bicubic", "--suite", "demo", "--crop", "32x32", "--limit-clips", "1",
                     "--device", "cpu", "--results", str(res), "--format", "json"]) == 0
    (p,) = sorted((res / "demo").glob("bicubic-*.json"))
    return p


@pytest.fixture
def home(prepared_home, monkeypatch, capsys):
    """The session's prepared data root (demo and Vid4); tests never write results into it."""
    monkeypatch.setenv("VSRBENCH_HOME", str(prepared_home))
    capsys.readouterr()
    return prepared_home


# ---------------------------------------------------------------------------------------------
# output locations


@pytest.fixture
def blocked(tmp_path):
    """A regular file: any path below it cannot be created, not even by root."""
    f = tmp_path / "afile.txt"
    f.write_text("not a folder")
    return f


def _cases(tmp: Path, f: Path):
    gt = str(tmp / "gt")
    ev = ["evaluate", "--model", "bicubic", "--suite", "demo", "--crop", "32x32", "--limit-clips", "1", "--device", "cpu"]
    return {
        "degrade": (["degrade", "--input", gt, "--output", str(f / "lr"), "--spec", "bi:x4"], f / "lr", "--output"),
        "upscale": (["upscale", "--input", gt, "--output", str(f / "sr"), "--device", "cpu"], f / "sr", "--output"),
        "score": (["score", "--pred", gt, "--gt", gt, "--output", str(f / "s.json")], f / "s.json", "--output"),
        "leaderboard": (["leaderboard", "--out", str(f / "sub" / "b.md")], f / "sub" / "b.md", "--out"),
        "plot": (["plot", "--out-dir", str(f / "plots")], f / "plots", "--out-dir"),
        "evaluate-save": (ev + ["--force", "--save-outputs", str(f / "sr")], f / "sr", "--save-outputs"),
        "evaluate-results": (ev + ["--force", "--results", str(f / "r")], f / "r" / "demo", "--results"),
    }


@pytest.mark.parametrize("case", ["degrade", "upscale", "score", "leaderboard", "plot", "evaluate-save",
                                  "evaluate-results"])
def test_output_under_a_file_is_one_clear_line(case, home, tmp_path, blocked, capsys):
    _clips(tmp_path / "gt")
    args, named, flag = _cases(tmp_path, blocked)[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(args) == 2
    line = _error_line(capsys, args[0])
    assert f"cannot write {named}: {blocked} is a file, not a folder; choose another {flag}" in line or (
        f"cannot write {named}: {blocked} is a file, not a folder; pass --results DIR" in line), line
    assert blocked.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written beside it


def test_regress_baseline_under_a_file_and_save_outputs_of_a_scored_record(home, record_file, blocked, capsys):
    res = str(record_file.parents[1])
    assert main(["regress", "--baseline", str(blocked / "b.csv"), "--update", "--results", res]) == 2
    assert _error_line(capsys, "regress").endswith(
        f"cannot write {blocked / 'b.csv'}: {blocked} is a file, not a folder; choose another --baseline")
    # the record exists (nothing would be scored), but the outputs asked for cannot be written: say so
    assert main(["evaluate", "--model", "bicubic", "--suite", "demo", "--crop", "32x32", "--limit-clips", "1",
                 "--device", "cpu", "--results", res, "--save-outputs", str(blocked)]) == 2
    assert _error_line(capsys, "evaluate").endswith(
        f"cannot write {blocked}: it is a file, not a folder; choose another --save-outputs folder")


def test_prepare_into_a_home_under_a_file(blocked, monkeypatch, capsys):
    monkeypatch.setenv("VSRBENCH_HOME", str(blocked / "home"))
    assert main(["prepare", "demo", "--no-progress"]) == 2
    line = _error_line(capsys, "prepare")
    assert line.endswith(f"cannot write {blocked / 'home'}: {blocked} is a file, not a folder; "
                         f"set VSRBENCH_HOME to a writable folder")


def test_home_that_is_a_broken_link(tmp_path, monkeypatch, capsys):
    (tmp_path / "home").symlink_to(tmp_path / "gone")
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    assert main(["demo", "--device", "cpu"]) == 2
    assert _error_line(capsys, "demo").endswith(
        f"cannot write {tmp_path / 'home'}: it is a broken link; set VSRBENCH_HOME to a writable folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_output_that_is_a_folder(home, tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    assert main(["leaderboard", "--out", str(tmp_path / "taken")]) == 2
    assert _error_line(capsys, "leaderboard").endswith(
        f"cannot write {tmp_path / 'taken'}: it is a folder, not a file; choose another --out")
    assert not any((tmp_path / "taken").iterdir())


def test_permission_denied_home_and_outputs(home, tmp_path, monkeypatch, capsys):
    """A read-only results store / home / output folder (root ignores modes, so the OS's answer
    is simulated: os.access says no, mkdir raises EACCES)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access, real_mkdir = os.access, Path.mkdir

    def access(p, mode, *a, **k):
        return False if (mode & os.W_OK) and Path(p).resolve() == ro.resolve() else real_access(p, mode, *a, **k)

    def mkdir(self, *a, **k):
        if ro.resolve() in self.resolve().parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert main(["leaderboard", "--out", str(ro / "b.md")]) == 2
    assert _error_line(capsys, "leaderboard").endswith(f"cannot write {ro / 'b.md'}: permission denied; choose another --out")
    assert main(["evaluate", "--model", "bicubic", "--suite", "demo", "--crop", "32x32", "--device", "cpu",
                 "--results", str(ro)]) == 2
    assert _error_line(capsys, "evaluate").endswith(
        f"cannot write {ro / 'demo'}: permission denied; pass --results DIR or set VSRBENCH_HOME to a writable folder")
    monkeypatch.setenv("VSRBENCH_HOME", str(ro / "home"))
    assert main(["prepare", "demo", "--no-progress"]) == 2
    assert _error_line(capsys, "prepare").endswith(
        f"cannot write {ro / 'home'}: permission denied; set VSRBENCH_HOME to a writable folder")
    assert list(ro.iterdir()) == []


def test_lr_cache_in_a_read_only_home(home, tmp_path, monkeypatch, capsys):
    """demo-x16 needs BIx16, which the demo home lacks: evaluate caches it beside GT; when that
    folder refuses the write the error names it and the two ways out."""
    import vsrbench.datasets
    from vsrbench.errors import VsrbenchError

    with pytest.raises(VsrbenchError):  # precondition: the session's home has no BIx16 store
        vsrbench.datasets.find_store("demo", "bi:x16", "all", home=home)

    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(home / "demo" / "lmdb" / "all" / ".x.partial"))

    monkeypatch.setattr(vsrbench.datasets, "add_variant", refuse)
    assert main(["evaluate", "--model", "bicubic", "--suite", "demo-x16", "--device", "cpu",
                 "--results", str(tmp_path / "r")]) == 2
    assert _error_line(capsys, "evaluate").endswith(
        f"cannot write {home / 'demo' / 'lmdb' / 'all'}: permission denied; pass --no-cache-lr to make bi:x16 on "
        f"the fly, or set VSRBENCH_HOME to a writable folder")
    assert not list((tmp_path / "r").rglob("*.json"))


def test_any_other_os_error_is_still_one_line(tmp_path, monkeypatch, capsys):
    import vsrbench.benchmark.folders as folders

    def broken(*a, **k):
        raise OSError(errno.EIO, "Input/output error", str(tmp_path / "x.png"))

    monkeypatch.setattr(folders, "score_folders", broken)
    assert main(["score", "--pred", str(tmp_path), "--gt", str(tmp_path)]) == 2
    line = _error_line(capsys, "score")
    assert f"{tmp_path / 'x.png'}: input/output error; check the path" in line


def test_installed_entry_point_prints_no_traceback(tmp_path, blocked):
    _clips(tmp_path / "gt")
    r = subprocess.run([sys.executable, "-m", "vsrbench.cli", "degrade", "--input", str(tmp_path / "gt"),
                        "--output", str(blocked / "lr"), "--spec", "bi:x4"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"vsrbench degrade: error: cannot write {blocked / 'lr'}: {blocked} is a file, "
                                f"not a folder; choose another --output")


# ---------------------------------------------------------------------------------------------
# results store


def test_leaderboard_warns_about_each_damaged_file_and_goes_on(home, record_file, tmp_path, capsys):
    good = record_file
    res = tmp_path / "results"
    (res / "demo").mkdir(parents=True)
    shutil.copy(good, res / "demo" / good.name)
    text = good.read_text()
    rec = json.loads(text)
    bad = {
        "truncated.json": text[: len(text) // 2],
        "list.json": "[1, 2]",
        "foreign.json": json.dumps({"name": "some-package", "version": "1.0"}),
        "string-psnr.json": json.dumps({**rec, "model": "other", "psnr": "28.1"}),
        "clip-ssim.json": json.dumps({**rec, "model": "other2",
                                      "clips": {k: {**v, "ssim": None} for k, v in rec["clips"].items()}}),
        "deep.json": "[" * 100000,
        "binary.json": b"\xff\xfe\x00garbage".decode("latin-1"),
    }
    for name, t in bad.items():
        (res / "demo" / name).write_text(t, encoding="latin-1" if name == "binary.json" else "utf-8")
    (res / "demo" / "folder.json").mkdir()
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(res), "--no-reported", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    warnings = [ln for ln in err.splitlines() if ln.startswith("vsrbench: warning: skipped")]
    assert len(warnings) == len(bad) + 1, err
    for name in [*bad, "folder.json"]:
        (w,) = [ln for ln in warnings if f"{res / 'demo' / name}:" in ln]
        assert "delete or move it" in w
    assert "not valid JSON" in next(w for w in warnings if "truncated.json" in w)
    assert "holds a JSON list" in next(w for w in warnings if "list.json" in w)
    assert "'psnr' is '28.1', not a finite number" in next(w for w in warnings if "string-psnr.json" in w)
    assert "Traceback" not in err
    rows = list(csv.reader(out.splitlines()))[1:]
    psnr = [r for r in rows if r[0] == "quality" and r[1] == "bicubic" and r[6] == "demo PSNR"]
    assert len(psnr) == 1 and abs(float(psnr[0][7]) - rec["psnr"]) < 1e-9
    assert not any(r[1] in ("other", "other2") for r in rows)


def test_evaluate_rescores_a_truncated_record(home, record_file, tmp_path, capsys):
    good = record_file
    res = tmp_path / "results"
    (res / "demo").mkdir(parents=True)
    rec = json.loads(good.read_text())
    (res / "demo" / good.name).write_text(good.read_text()[:400])
    args = ["evaluate", "--model", "bicubic", "--suite", "demo", "--crop", "32x32", "--limit-clips", "1",
            "--device", "cpu", "--results", str(res), "--format", "json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert f"warning: the stored result {res / 'demo' / good.name} is damaged (not valid JSON" in err
    assert "scoring again" in err
    new = json.loads(out)
    assert "skipped" not in new and new["psnr"] == rec["psnr"] and new["ssim"] == rec["ssim"]
    assert json.loads((res / "demo" / good.name).read_text())["psnr"] == rec["psnr"]
    assert main(args) == 0  # now sound: shown from the store
    assert json.loads(capsys.readouterr().out)["skipped"] is True


def test_damaged_journal_lines_are_skipped_and_rescored(home, tmp_path, monkeypatch, capsys):
    import vsrbench.benchmark.harness as harness

    kw = dict(device="cpu", crop=(32, 32), limit_clips=3, progress=False, temporal=False)
    full = harness.evaluate("bicubic", "demo", results=tmp_path / "full", **kw)
    res = tmp_path / "res"
    real = harness.score_clip
    calls = []

    def interrupted(ctx, clip):
        calls.append(clip)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(ctx, clip)

    monkeypatch.setattr(harness, "score_clip", interrupted)
    with pytest.raises(KeyboardInterrupt):
        harness.evaluate("bicubic", "demo", results=res, **kw)
    monkeypatch.setattr(harness, "score_clip", real)
    (journal,) = (res / "demo").glob("*.partial.jsonl")
    good_line = journal.read_bytes().splitlines()[0]
    with open(journal, "ab") as f:  # garbage a crash or a stranger could leave
        f.write(b"[1, 2]\n" + b'{"clip": "x", "frames": "no"}\n' + b"\xff\xfe not utf-8\n" + good_line[:40])
    capsys.readouterr()
    rec = harness.evaluate("bicubic", "demo", results=res, **kw)
    err = capsys.readouterr().err
    assert f"{journal}: skipped 4 damaged line(s)" in err and "scored again" in err
    assert rec["resumed_clips"] == 1
    assert rec["psnr"] == full["psnr"] and rec["ssim"] == full["ssim"]
    assert list(rec["clips"]) == list(full["clips"])
    assert not journal.exists()


# ---------------------------------------------------------------------------------------------
# `$` in names


def test_dollar_in_model_and_clip_names_plots_literally(home, record_file, tmp_path, capsys):
    from vsrbench.leaderboard import plots
    from vsrbench.leaderboard.render import render_md
    from vsrbench.leaderboard.boards import build_boards

    rec = json.loads(record_file.read_text())
    clip_name = r"c$\bad{$"
    odd = {**rec, "model": "m$x^$y", "clips": {clip_name: next(iter(rec["clips"].values()))}}
    res = tmp_path / "results"
    (res / "demo").mkdir(parents=True)
    (res / "demo" / "odd.json").write_text(json.dumps(odd))
    (res / "demo" / "plain.json").write_text(json.dumps(rec))
    assert main(["plot", "--results", str(res), "--out-dir", str(tmp_path / "plots"), "--image-format", "png"]) == 0
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["per_clip_psnr_demo.png", "psnr_vs_runtime_demo.png"]
    # what matplotlib draws is the literal name, not mathtext
    full = {**odd, "settings": {**odd["settings"], "crop": None, "limit_clips": None}}  # smoke checks are left out
    fig = plots.per_clip_bars([{**rec, "settings": full["settings"]}, full], "demo")
    ticks = [t for t in fig.axes[0].get_xticklabels()]
    drawn = [t._preprocess_math(t.get_text()) for t in ticks]
    assert (clip_name, False) in drawn
    legend = [t._preprocess_math(t.get_text()) for t in fig.axes[0].get_legend().get_texts()]
    assert ("m$x^$y", False) in legend
    assert plots.png_bytes(fig)[:4] == b"\x89PNG"
    fig = plots.psnr_vs_runtime([full], "demo")
    assert [t._preprocess_math(t.get_text()) for t in fig.axes[0].texts] == [("m$x^$y (CPU)", False)]
    plots.png_bytes(fig)
    boards, notes = build_boards([odd], reported=False)
    md = render_md(boards, notes)
    assert r"| m\$x^\$y |" in re.sub(r" {2,}", " ", md)  # cells are padded to the column width


# ---------------------------------------------------------------------------------------------
# checkpoints


class _Evil:
    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def _bad_checkpoints(tmp_path: Path) -> dict[str, Path]:
    sentinel = tmp_path / "SENTINEL"
    files = {
        "pickle": tmp_path / "evil.pkl",
        "torch-zip": tmp_path / "evil.pth",
        "random": tmp_path / "random.pth",
    }
    files["pickle"].write_bytes(pickle.dumps({"params": _Evil(sentinel)}))
    torch.save({"params": {"w": torch.zeros(1)}, "x": _Evil(sentinel)}, files["torch-zip"])
    files["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return files


@pytest.mark.parametrize("kind", ["pickle", "torch-zip", "random"])
def test_unsafe_or_foreign_checkpoint_is_refused_without_advising_weights_only_false(kind, tmp_path, capsys):
    ck = _bad_checkpoints(tmp_path)[kind]
    _clips(tmp_path / "lr", size=(8, 8))
    assert main(["upscale", "--model", "fstrn", "--input", str(tmp_path / "lr"), "--output", str(tmp_path / "sr"),
                 "--checkpoint", str(ck), "--device", "cpu"]) == 2
    line = _error_line(capsys, "upscale")
    assert f"{str(ck)!r} is not a weights-only checkpoint (it contains code or is not a torch file" in line
    assert "vsrbench never unpickles code" in line
    assert "weights_only" not in line and "Weights only" not in line
    assert not (tmp_path / "SENTINEL").exists()
    assert not (tmp_path / "sr").exists()


def test_unsafe_checkpoint_through_the_api_and_a_misfit_said_once(tmp_path, monkeypatch, capsys):
    from vsrbench.errors import VsrbenchError
    from vsrbench.models import create_model, load_checkpoint

    net = create_model("fstrn", scale=4)
    for ck in _bad_checkpoints(tmp_path).values():
        with pytest.raises(VsrbenchError) as ei:
            load_checkpoint(net, ck)
        assert "weights_only" not in str(ei.value) and "never unpickles code" in str(ei.value)
    assert not (tmp_path / "SENTINEL").exists()
    # a real state_dict of another shape: evaluate says 'does not fit' once, naming file and model
    bad = tmp_path / "other.pth"
    torch.save({"params": {k: torch.zeros(1) for k in list(net.state_dict())[:3]}}, bad)
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    assert main(["evaluate", "--model", "fstrn", "--suite", "demo", "--checkpoint", str(bad), "--device", "cpu"]) == 2
    line = _error_line(capsys, "evaluate")
    assert line.count("does not fit") == 1 and f"checkpoint {str(bad)!r} does not fit model 'fstrn'" in line
    assert "mis-shaped keys" in line and "missing keys" in line
