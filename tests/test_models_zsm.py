"""ZSM's state_dict against the official checkpoint layout, and safe checkpoint loading."""

from __future__ import annotations

import pathlib

import pytest
import torch

from vsrbench.errors import VsrbenchError
from vsrbench.models import create_model, load_checkpoint

KEYS = "reference/zsm_state_dict_keys.txt"


pytestmark = pytest.mark.usefixtures("fast_cpu_for_tiny_tensors")


def _key_file(shared_dir: pathlib.Path) -> list[tuple[str, tuple[int, ...]]]:
    path = shared_dir / KEYS
    if not path.is_file():
        pytest.fail(f"missing {path}")
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, shape = line.split("\t")
        rows.append((name, tuple(int(v) for v in shape.strip("()").split(",") if v.strip())))
    return rows


@pytest.fixture(scope="module")
def zsm_default():
    torch.manual_seed(0)
    return create_model("zsm")


def test_zsm_state_dict_matches_official_layout(shared_dir, zsm_default):
    ref = _key_file(shared_dir)
    assert len(ref) == 416
    mine = [(k, tuple(v.shape)) for k, v in zsm_default.state_dict().items()]
    assert len(mine) == len(ref)
    for i, (a, b) in enumerate(zip(mine, ref)):
        assert a == b, f"line {i}: model has {a}, key file has {b}"
    assert sum(v.numel() for v in zsm_default.state_dict().values()) == 11_102_771
    assert sum(p.numel() for p in zsm_default.parameters()) == 11_102_771


def test_zsm_card_and_spec(zsm_default):
    card, spec = zsm_default.card, zsm_default.spec
    assert card.checkpoint_url == "https://github.com/Mukosame/Zooming-Slow-Mo-CVPR-2020"
    assert card.checkpoint_name == "xiang2020zooming.pth"
    assert card.reported_params_m == pytest.approx(11.10)
    assert (spec.task, spec.frames_in, spec.frames_out, spec.colour, spec.scales, spec.spatial_multiple) == (
        "stvsr", 4, 7, "rgb", (4,), 4)
    assert not hasattr(card, "reported")  # the papers' numbers live in reported.csv only


def test_zsm_forward_frames_and_padding():
    torch.manual_seed(0)
    m = create_model("zsm", nf=16, front_RBs=1, back_RBs=1).eval()
    with torch.no_grad():
        y = m(torch.rand(1, 3, 3, 8, 12))
        assert y.shape == (1, 5, 3, 32, 48)
        # H, W not multiples of 4: padded inside, cropped back
        x = torch.rand(2, 2, 3, 10, 7)
        assert m(x).shape == (2, 3, 3, 40, 28)
        # the batch does not mix samples
        torch.testing.assert_close(m(x[1:]), m(x)[1:], atol=1e-5, rtol=1e-4)


def test_zsm_default_forward_runs(zsm_default):
    with torch.no_grad():
        y = zsm_default.eval()(torch.rand(1, 2, 3, 8, 8))
    assert y.shape == (1, 3, 3, 32, 32) and torch.isfinite(y).all()


def test_bidirectional_lstm_batched_equals_two_passes():
    torch.manual_seed(0)
    m = create_model("zsm", nf=8, front_RBs=1, back_RBs=1).eval()
    blstm = m.ConvBLSTM
    x = torch.randn(1, 3, 8, 8, 8)
    with torch.no_grad():
        fwd = blstm.forward_net(x)
        rev = blstm.forward_net(x.flip(1)).flip(1)
        ref = blstm.conv_1x1(torch.cat((fwd, rev), 2).reshape(3, 16, 8, 8)).reshape(1, 3, 8, 8, 8)
        torch.testing.assert_close(blstm(x), ref, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- load_checkpoint


def _small():
    torch.manual_seed(1)
    return create_model("zsm", nf=8, front_RBs=1, back_RBs=1)


def _equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_load_strict_roundtrip(tmp_path, zsm_default):
    path = tmp_path / "zsm.pth"
    torch.save(zsm_default.state_dict(), path)
    torch.manual_seed(123)
    other = create_model("zsm")
    assert not _equal(other, zsm_default)
    assert load_checkpoint(other, path) is other
    assert _equal(other, zsm_default)


@pytest.mark.parametrize("form", ["state_dict", "params", "params_ema", "module", "params_module", "pt"])
def test_wrapped_forms_load(tmp_path, form):
    src = _small()
    sd = src.state_dict()
    obj = {
        "state_dict": {"state_dict": sd, "epoch": 3},
        "params": {"params": sd},
        "params_ema": {"params_ema": sd, "params": {k: torch.zeros_like(v) for k, v in sd.items()}},
        "module": {f"module.{k}": v for k, v in sd.items()},
        "params_module": {"params": {f"module.{k}": v for k, v in sd.items()}},
        "pt": sd,
    }[form]
    path = tmp_path / ("w.pt" if form == "pt" else "w.pth")
    torch.save(obj, path)
    torch.manual_seed(5)
    dst = create_model("zsm", nf=8, front_RBs=1, back_RBs=1)
    assert not _equal(dst, src)
    load_checkpoint(dst, path)
    assert _equal(dst, src)  # params_ema preferred over params


def test_misshaped_checkpoint_names_key_and_file(tmp_path):
    sd = _small().state_dict()
    sd["conv_last.weight"] = torch.zeros(3, 8, 5, 5)
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(VsrbenchError) as e:
        load_checkpoint(_small(), path)
    msg = str(e.value)
    assert "conv_last.weight" in msg and "bad.pth" in msg and "mis-shaped" in msg
    assert "(3, 8, 5, 5)" in msg and "(3, 8, 3, 3)" in msg
    with pytest.raises(VsrbenchError, match="conv_last.weight"):  # even when not strict
        load_checkpoint(_small(), path, strict=False)


def test_missing_and_unexpected_keys(tmp_path):
    sd = _small().state_dict()
    del sd["HRconv.bias"]
    sd["extra.weight"] = torch.zeros(1)
    path = tmp_path / "partial.pth"
    torch.save(sd, path)
    with pytest.raises(VsrbenchError) as e:
        load_checkpoint(_small(), path)
    msg = str(e.value)
    assert "missing keys: HRconv.bias" in msg and "unexpected keys: extra.weight" in msg and "partial.pth" in msg
    m = _small()
    load_checkpoint(m, path, strict=False)
    torch.testing.assert_close(m.state_dict()["HRconv.weight"], sd["HRconv.weight"])


def test_unsafe_or_missing_files_fail_cleanly(tmp_path):
    path = tmp_path / "pickle.pth"  # an arbitrary pickled object, refused by weights_only=True
    torch.save({"state_dict": _small().state_dict(), "obj": pathlib.PurePosixPath("x")}, path)
    with pytest.raises(VsrbenchError, match="is not a weights-only checkpoint"):
        load_checkpoint(_small(), path)
    with pytest.raises(VsrbenchError, match="does not exist"):
        load_checkpoint(_small(), tmp_path / "nope.pth")
    torch.save({"foo": 1}, tmp_path / "empty.pth")
    with pytest.raises(VsrbenchError, match="no state_dict"):
        load_checkpoint(_small(), tmp_path / "empty.pth")
