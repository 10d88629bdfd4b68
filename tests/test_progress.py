"""`vsrbench upscale` and `vsrbench score` count frames (with a rate and time left) on stderr, the total
known before the first frame; --no-progress prints no bar."""

from __future__ import annotations

import functools
import re

import numpy as np

from vsrbench.cli import main
from vsrbench.datasets.frames import write_frame


def _clips(root, sizes, hw, seed):
    rng = np.random.default_rng(seed)
    for name, n in sizes.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            write_frame(root / name / f"{i:03d}.png", rng.integers(0, 256, (*hw, 3), dtype=np.uint8))


def _counts(err: str, desc: str) -> list[str]:
    """The ``n/total`` of every state tqdm drew of the bar named ``desc`` (states end in a carriage
    return), checking each is counted in frames."""
    states = [s for s in re.split(r"[\r\n]", err) if s.startswith(desc + ":")]
    assert states and all("frame/s" in s or "s/frame" in s for s in states), err
    return [re.search(r"\| (\d+/\d+) \[", s).group(1) for s in states]


def test_upscale_and_score_count_frames_with_a_known_total(tmp_path, capsys, monkeypatch):
    import tqdm

    monkeypatch.setattr(tqdm, "tqdm", functools.partial(tqdm.tqdm, mininterval=0))  # draw every update
    lr, gt, sr = tmp_path / "LR", tmp_path / "GT", tmp_path / "SR"
    _clips(lr, {"a": 3, "b": 4}, (8, 12), seed=0)
    _clips(gt, {"a": 3, "b": 4}, (32, 48), seed=1)
    assert main(["upscale", "--model", "bicubic", "--scale", "4", "--input", str(lr), "--output", str(sr),
                 "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert "wrote 7 frames of 2 clips" in out
    counts = _counts(err, "upscale bicubic x4")
    # the total (7 frames over both clips) is known from the first draw, and every frame advances it
    assert list(dict.fromkeys(counts)) == [f"{i}/7" for i in range(8)], counts

    assert main(["score", "--pred", str(sr), "--gt", str(gt)]) == 0
    out, err = capsys.readouterr()
    counts = _counts(err, "score")
    assert list(dict.fromkeys(counts)) == [f"{i}/7" for i in range(8)], counts
    assert "b" in out and "a" in out


def test_no_progress_prints_no_bar(tmp_path, capsys):
    lr, sr = tmp_path / "LR", tmp_path / "SR"
    _clips(lr, {"a": 3, "b": 4}, (8, 12), seed=0)
    assert main(["upscale", "--input", str(lr), "--output", str(sr), "--device", "cpu", "--no-progress"]) == 0
    assert main(["score", "--pred", str(sr), "--gt", str(sr), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "wrote 7 frames" in out
    assert err == ""
