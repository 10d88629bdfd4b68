"""Every registered model: declared interface, forward shape / range, one optimisation step;
model cards; parameter counts with the paper defaults; autocast."""

from __future__ import annotations

import math

import pytest
import torch

from vsrbench.errors import VsrbenchError
from vsrbench.models import create_model, get_model_info, list_models

ARCHS = ("lcvsr", "fstrn", "dksan", "zsm")
INTERP = ("bicubic", "bilinear", "nearest", "lanczos")

# reduced widths / depths for speed (the paper defaults are exercised in test_default_configs_run)
SMALL = {
    "lcvsr": dict(lfgn_stem=8, lfgn_widths=(8, 8, 16, 16), grn_widths=(4, 8, 8)),
    "fstrn": dict(nf=8, n_frb=2),
    "dksan": dict(nf=16, n_rcabs=(1, 1, 1, 1), n_resblocks=1, n_align_dk=1, dksa_layers=1, dksa_light_layers=1),
    "zsm": dict(nf=8, front_RBs=1, back_RBs=1),
}

EXPECTED_SPECS = {
    "lcvsr": ("vsr", 7, 1, "y", (3, 4)),
    "fstrn": ("vsr", 5, 1, "y", (4,)),
    "dksan": ("vsr", 7, 1, "rgb", (16,)),
    "zsm": ("stvsr", 4, 7, "rgb", (4,)),
}


pytestmark = pytest.mark.usefixtures("fast_cpu_for_tiny_tensors")


def _input(spec, h=8, w=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = spec.frames_in if isinstance(spec.frames_in, int) else 3
    c = 1 if spec.colour == "y" else 3
    lo, hi = spec.input_range
    m = spec.spatial_multiple
    h, w = math.ceil(h / m) * m, math.ceil(w / m) * m
    # smooth content (a ramp plus mild noise) inside the declared range
    ramp = torch.linspace(0.2, 0.8, w).view(1, 1, 1, 1, w).expand(1, t, c, h, w)
    x = (ramp + 0.05 * torch.rand(1, t, c, h, w, generator=g)).clamp(0, 1)
    return lo + (hi - lo) * x


def test_all_models_registered():
    names = list_models()
    for n in ARCHS + INTERP:
        assert n in names
    assert list_models(task="stvsr") == ["zsm"]
    with pytest.raises(VsrbenchError, match="unknown model"):
        create_model("no-such-model")


@pytest.mark.parametrize("name", ARCHS)
def test_declared_specs(name):
    spec = get_model_info(name).spec
    assert (spec.task, spec.frames_in, spec.frames_out, spec.colour, spec.scales) == EXPECTED_SPECS[name]
    assert spec.input_range == (0.0, 1.0)
    assert spec.spatial_multiple == (4 if name == "zsm" else 1)


@pytest.mark.parametrize("name", ARCHS + INTERP)
def test_forward_shape_range_and_one_step(name):
    torch.manual_seed(0)
    info = get_model_info(name)
    spec = info.spec
    for scale in spec.scales if name in ARCHS else (4,):
        model = create_model(name, scale=scale, **SMALL.get(name, {}))
        assert model.spec is spec and model.model_name == name
        x = _input(spec)
        lo, hi = spec.input_range
        model.eval()
        with torch.no_grad():
            y = model(x)
        t_out = spec.frames_out if spec.task == "stvsr" or isinstance(spec.frames_in, int) else x.shape[1]
        assert y.shape == (1, t_out, x.shape[2], scale * x.shape[-2], scale * x.shape[-1]), name
        assert y.dtype == x.dtype and torch.isfinite(y).all()
        if name in INTERP:
            # a smooth in-range input stays in range (up to cubic / lanczos ringing on the noise)
            assert float(y.min()) >= lo - 0.02 * (hi - lo) and float(y.max()) <= hi + 0.02 * (hi - lo)
            assert sum(p.numel() for p in model.parameters()) == 0
            continue
        # untrained networks are not clamped (no clamp inside the networks): values must be on the
        # declared scale (0..1, not 0..255)
        assert float(y.abs().max()) < 10 * (hi - lo), f"{name}: output {float(y.abs().max())} off the declared scale"

        # one optimisation step changes the output; gradients reach most parameter tensors
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        target = torch.rand_like(y)
        loss = torch.nn.functional.mse_loss(model(x), target)
        loss.backward()
        params = [p for p in model.parameters()]
        with_grad = [p for p in params if p.grad is not None and float(p.grad.abs().sum()) > 0]
        assert len(with_grad) >= 0.5 * len(params), f"{name}: {len(with_grad)}/{len(params)} tensors got gradients"
        opt.step()
        model.eval()
        with torch.no_grad():
            y2 = model(x)
        assert float((y2 - y).abs().max()) > 1e-5, f"{name}: output unchanged by an optimisation step"


@pytest.mark.parametrize(
    "name,kwargs,shape",
    [
        ("lcvsr", dict(scale=4), (1, 7, 1, 6, 5)),
        ("lcvsr", dict(scale=3), (1, 7, 1, 6, 5)),
        ("fstrn", dict(), (1, 5, 1, 6, 5)),
        ("fstrn", dict(channels=3), (1, 5, 3, 6, 5)),
        ("dksan", dict(), (1, 7, 3, 3, 3)),
    ],
)
def test_default_configs_run(name, kwargs, shape):
    torch.manual_seed(0)
    model = create_model(name, **kwargs).eval()
    s = model.scale
    with torch.no_grad():
        y = model(torch.rand(*shape))
    assert y.shape == (1, 1, shape[2], s * shape[-2], s * shape[-1])
    assert torch.isfinite(y).all()


def _n_params(name, **kw):
    return sum(p.numel() for p in create_model(name, **kw).parameters())


def test_parameter_counts_with_paper_defaults():
    # LCVSR (paper 5.81 M): within 10 %; DKSAN (paper 29.5 M): 29.45-29.55 M
    n = _n_params("lcvsr", scale=4)
    assert abs(n / 5.81e6 - 1) < 0.10, n
    assert abs(_n_params("lcvsr", scale=3) / 5.81e6 - 1) < 0.10
    n = _n_params("dksan")
    assert 29.45e6 <= n <= 29.55e6, n  # Table 3 to its rounding (per module: test_models_dksan.py)
    assert _n_params("zsm") == 11_102_771
    assert 0.4e6 <= _n_params("fstrn") <= 0.8e6


@pytest.mark.parametrize("name", ARCHS)
def test_model_cards(name, shared_dir):
    import pandas as pd

    card = get_model_info(name).card
    assert card.paper
    # the papers' numbers have one source, reported.csv; cards do not copy them
    assert not hasattr(card, "reported") and "reported" not in card.as_dict()
    rep = pd.read_csv(shared_dir / "reference" / "reported.csv")
    own = rep[rep["method"] == name.upper()]
    assert len(own) >= 1 and own["psnr"].notna().all(), name
    assert set(own["scale"]) <= set(get_model_info(name).spec.scales), name
    expected_params = {"lcvsr": 5.81, "fstrn": None, "dksan": 29.5, "zsm": 11.10}[name]
    assert card.reported_params_m == expected_params
    if name == "zsm":
        assert card.checkpoint_name == "xiang2020zooming.pth"
        assert "Mukosame/Zooming-Slow-Mo-CVPR-2020" in card.checkpoint_url
    else:
        assert card.checkpoint_url is None


@pytest.mark.parametrize("name", ARCHS)
def test_cpu_bf16_autocast(name):
    torch.manual_seed(0)
    spec = get_model_info(name).spec
    model = create_model(name, **SMALL[name]).eval()
    x = _input(spec)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x)
    assert torch.isfinite(y.float()).all()
    with torch.no_grad():
        ref = model(x)
    assert y.shape == ref.shape
    assert float((y.float() - ref).abs().mean()) < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ARCHS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_autocast(name, dtype):
    torch.manual_seed(0)
    spec = get_model_info(name).spec
    model = create_model(name, **SMALL[name]).cuda()
    x = _input(spec).cuda()
    with torch.autocast("cuda", dtype=dtype):
        y = model(x)
        loss = y.float().square().mean()
    loss.backward()
    assert torch.isfinite(y.float()).all()
    with torch.no_grad():
        ref = model.eval()(x)
    assert float((y.float() - ref).abs().mean()) < 0.05
