"""BasicVSR, IconVSR and BasicVSR++ compute what the official code computes, and the released
checkpoint layouts load strictly.

The official modules are BasicSR 1.4.2's ``archs/basicvsr_arch.py`` (with ``arch_util.py``,
``spynet_arch.py``, ``edvr_arch.py`` and the real ``ops/dcn/deform_conv.py``, whose DCNv2 runs on
``torchvision.ops.deform_conv2d`` there) and MMagic 1.2.0's ``basicvsr_plusplus_net.py`` (mmcv's
``ModulatedDeformConv2d`` replaced by the same torchvision op; mmengine's init helpers stubbed),
imported from the pinned PyPI archives by ``tests/official_code.py``. Each official network gets
seeded weights with every tensor perturbed (the zero-initialised offset convs included), saved in
the released layout; vsrbench's model loads that file through ``load_checkpoint`` (strict) and both
run on the same clip.
"""

from __future__ import annotations

import logging
import sys

import pytest
import torch
import torchvision
from torch import nn

from official_code import Registry, official_module, official_source
from vsrbench.errors import VsrbenchError
from vsrbench.models import create_model, get_model_info, load_checkpoint



@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread (the CI machine's cores are shared); oneDNN stays on: at these sizes
    (LR 34-68 px, HR 4x) it is about twice as fast as the native convolutions."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TOL = 1e-4


# ---------------------------------------------------------------------------------------- MMagic
class _MMCVModulatedDeformConv2d(nn.Module):
    """mmcv.ops.ModulatedDeformConv2d's parameters (``weight``, ``bias``) and attributes."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 deform_groups=1, bias=True):
        super().__init__()
        pair = torch.nn.modules.utils._pair
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = pair(kernel_size), pair(stride)
        self.padding, self.dilation = pair(padding), pair(dilation)
        self.groups, self.deform_groups = groups, deform_groups
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels // groups, *self.kernel_size) * 0.01)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None


def _mmcv_modulated_deform_conv2d(x, offset, mask, weight, bias, stride, padding, dilation, groups, deform_groups):
    assert groups == 1 and offset.shape[1] == 2 * deform_groups * weight.shape[2] * weight.shape[3]
    return torchvision.ops.deform_conv2d(x, offset, weight, bias, stride, padding, dilation, mask)


class _ConvModule(nn.Module):
    """mmcv.cnn.ConvModule as SPyNet uses it (no norm): ``conv`` then the activation."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, norm_cfg=None, act_cfg=None):
        super().__init__()
        assert norm_cfg is None
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.act = nn.ReLU() if act_cfg and act_cfg["type"] == "ReLU" else nn.Identity()

    def forward(self, x):
        return self.act(self.conv(x))


def _constant_init(module, val, bias=0):
    nn.init.constant_(module.weight, val)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


@pytest.fixture(scope="module")
def mmagic_net(official_code_cache):
    root = official_source("mmagic", official_code_cache)
    noop = lambda *a, **k: None  # noqa: E731
    mmengine = {
        "mmengine": {"MMLogger": logging.getLogger, "print_log": noop},
        "mmengine.model": {"BaseModule": nn.Module},
        "mmengine.model.weight_init": {"constant_init": _constant_init, "kaiming_init": noop, "normal_init": noop,
                                       "update_init_info": noop, "xavier_init": noop},
        "mmengine.registry": {"Registry": lambda *a, **k: Registry()},
        "mmengine.runner": {"load_checkpoint": noop},
        "mmengine.utils.dl_utils.parrots_wrapper": {"_BatchNorm": nn.modules.batchnorm._BatchNorm},
    }
    flow = official_module(root, "mmagic/models/utils/flow_warp.py")
    # model_utils.py imports half of MMagic (structures, diffusion helpers): its two functions used
    # here are restated (make_layer: nn.Sequential of n blocks; the initialisation is overwritten)
    utils = {"flow_warp": flow.flow_warp, "default_init_weights": noop,
             "make_layer": lambda block, num_blocks, **kw: nn.Sequential(*[block(**kw) for _ in range(num_blocks)])}
    sr = official_module(root, "mmagic/models/archs/sr_backbone.py", {"mmagic.models.utils": utils})
    up = official_module(root, "mmagic/models/archs/upsample.py", {"mmagic.models.utils": utils})
    stubs = {
        **mmengine,
        "mmcv.ops": {"ModulatedDeformConv2d": _MMCVModulatedDeformConv2d,
                     "modulated_deform_conv2d": _mmcv_modulated_deform_conv2d},
        "mmcv.cnn": {"ConvModule": _ConvModule},
        "mmagic.registry": {"MODELS": Registry()},
        "mmagic.models.archs": {"PixelShufflePack": up.PixelShufflePack, "ResidualBlockNoBN": sr.ResidualBlockNoBN},
        "mmagic.models.utils": utils,
    }
    return official_module(root, "mmagic/models/editors/basicvsr_plusplus_net/basicvsr_plusplus_net.py", stubs)


# ---------------------------------------------------------------------------------------- helpers
def _perturb_all(net: nn.Module, seed: int, gain: float = 1.0) -> dict[str, torch.Tensor]:
    """Every tensor of the state_dict moved by seeded noise: the zero-initialised offset convs
    predict real offsets, and the SPyNet mean / std buffers are checked to be read from the file.
    Weights move by ``gain / sqrt(fan_in)``: large enough that every frame and every branch changes
    the output (a wrong neighbour index moves it by ~0.1), small enough that the outputs stay
    near [0, 1] where float32 differences are ~1e-6 (BasicVSR++ explodes at gain 1: outputs of
    +-60 and float32 noise of 1e-3, while its float64 runs agree to 1e-12)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith(("mean", "std")):
                scale = 0.002
            elif t.dim() > 1:  # weights: about a variance-preserving init's size, so features stay informative
                scale = gain / (t[0].numel() ** 0.5)
            else:
                scale = 0.02
            t.add_(torch.randn(t.shape, generator=g) * scale)
    return {k: v.clone() for k, v in net.state_dict().items()}


def _clip(t: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Smooth moving content in [0, 1] (flows and warps have something to follow) plus noise."""
    g = torch.Generator().manual_seed(seed)
    ys = torch.linspace(0, 1, h).view(h, 1)
    xs = torch.linspace(0, 1, w).view(1, w)
    frames = []
    for i in range(t):
        base = torch.stack([torch.sin(6 * xs + 4 * ys + 0.4 * i + c) for c in range(3)])
        frames.append(0.5 + 0.35 * base + 0.05 * torch.rand(3, h, w, generator=g))
    return torch.stack(frames).unsqueeze(0).clamp(0, 1)


def _compare(ours: nn.Module, official: nn.Module, x: torch.Tensor) -> float:
    ours.eval(), official.eval()
    with torch.no_grad():
        want = official(x.clone())
        got = ours(x.clone())
    assert got.shape == want.shape == (x.shape[0], x.shape[1], 3, 4 * x.shape[3], 4 * x.shape[4])
    bilinear = torch.nn.functional.interpolate(x[0], scale_factor=4, mode="bilinear", align_corners=False)
    # the network's own part is far from zero (a test of the residual, not of the bilinear base),
    # and the outputs stay on the [0, 1] scale the tolerance is meant for
    assert float((want[0] - bilinear).abs().mean()) > 0.01
    assert float(want.abs().max()) < 4
    return float((got - want).abs().max())


# ---------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("shape", [(3, 40, 48), (2, 64, 64)])
def test_basicvsr_equals_basicsr(basicsr_archs, tmp_path, shape):
    torch.manual_seed(2)  # the initial weights: the result does not depend on the tests run before
    official = basicsr_archs["basicvsr"].BasicVSR(num_feat=64, num_block=2, spynet_path=None)
    sd = _perturb_all(official, seed=1)
    torch.save({"params": sd}, tmp_path / "BasicVSR.pth")  # BasicSR's released layout
    ours = load_checkpoint(create_model("basicvsr", num_block=2), tmp_path / "BasicVSR.pth")
    diff = _compare(ours, official, _clip(*shape))
    print(f"basicvsr {shape}: max |ours - official| = {diff:.2e}")
    assert diff <= TOL, f"max |ours - official| = {diff}"


@pytest.mark.parametrize("shape", [(7, 34, 37)])
def test_iconvsr_equals_basicsr(basicsr_archs, tmp_path, shape):
    torch.manual_seed(2)  # the initial weights: the result does not depend on the tests run before
    official = basicsr_archs["basicvsr"].IconVSR(num_feat=64, num_block=2, keyframe_stride=5, temporal_padding=2,
                                                 spynet_path=None, edvr_path=None)
    sd = _perturb_all(official, seed=2)
    torch.save({"params": sd}, tmp_path / "IconVSR.pth")
    ours = load_checkpoint(create_model("iconvsr", num_block=2), tmp_path / "IconVSR.pth")
    diff = _compare(ours, official, _clip(*shape, seed=3))
    print(f"iconvsr {shape}: max |ours - official| = {diff:.2e}")
    assert diff <= TOL, f"max |ours - official| = {diff}"


def _mmagic_file(path, generator_sd: dict) -> None:
    """MMagic's released layout: the model wrapper's state_dict (``generator.`` prefix plus its
    ``step_counter`` buffer) under ``state_dict``, beside ``meta``."""
    sd = {f"generator.{k}": v for k, v in generator_sd.items()}
    sd["step_counter"] = torch.tensor([600000.0])
    torch.save({"meta": {"mmedit_version": "0.7.0", "iter": 600000, "time": "Wed Feb 17 2021"}, "state_dict": sd},
               path)


def test_basicvsrpp_equals_mmagic(mmagic_net, tmp_path):
    torch.manual_seed(2)  # the initial weights: the result does not depend on the tests run before
    official = mmagic_net.BasicVSRPlusPlusNet(mid_channels=64, num_blocks=2, spynet_pretrained=None)
    _mmagic_file(tmp_path / "bvpp.pth", _perturb_all(official, seed=4, gain=0.7))
    ours = load_checkpoint(create_model("basicvsrpp", num_blocks=2), tmp_path / "bvpp.pth")
    diff = _compare(ours, official, _clip(3, 64, 68, seed=5))  # 3 frames: second-order steps too
    print(f"basicvsrpp: max |ours - official| = {diff:.2e}")
    assert diff <= TOL, f"max |ours - official| = {diff}"


def test_basicvsrpp_mirror_extended_clip_shortcut():
    """On a mirror-extended clip [a, b, b, a] MMagic takes the forward flows as the backward ones
    reversed; so do we, and they are the flows computed the long way."""
    from vsrbench.models.refblocks import pairwise_flows

    torch.manual_seed(0)
    net = create_model("basicvsrpp", num_blocks=1).eval()
    with torch.no_grad():
        for p in net.spynet.parameters():
            p.add_(torch.randn_like(p) * 0.02)
        x = _clip(2, 40, 36, seed=6)
        x = torch.cat((x, x.flip(1)), dim=1)
        short = net._flows(x)
        long = pairwise_flows(net.spynet, x)
    assert float(long[0].abs().max()) > 0.1  # real flows, not zeros
    for a, b in zip(short, long):
        assert float((a - b).abs().max()) < 1e-5


def _same_layout(ours: nn.Module, official: nn.Module) -> None:
    a = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in official.state_dict().items()}
    assert sorted(set(a) ^ set(b)) == [] and a == b


def test_released_configurations_have_the_official_layout(basicsr_archs, mmagic_net, tmp_path):
    """At the released configurations (BasicSR's test options: 30 blocks; MMagic's c64n7) the
    state_dicts are the official ones, name for name and shape for shape, and the released file
    layouts load strictly; a missing or extra tensor is refused."""
    arch = basicsr_archs["basicvsr"]
    bv = arch.BasicVSR(num_feat=64, num_block=30)
    _same_layout(create_model("basicvsr"), bv)
    _same_layout(create_model("iconvsr"), arch.IconVSR(num_feat=64, num_block=30))
    pp = mmagic_net.BasicVSRPlusPlusNet(mid_channels=64, num_blocks=7)
    _same_layout(create_model("basicvsrpp"), pp)

    _mmagic_file(tmp_path / "pp.pth", pp.state_dict())
    load_checkpoint(create_model("basicvsrpp"), tmp_path / "pp.pth")
    sd = dict(bv.state_dict())
    sd.pop("spynet.mean")
    torch.save({"params": sd}, tmp_path / "short.pth")
    with pytest.raises(VsrbenchError, match=r"missing keys: spynet\.mean"):
        load_checkpoint(create_model("basicvsr"), tmp_path / "short.pth")
    sd = {**bv.state_dict(), "extra.weight": torch.zeros(1)}
    torch.save({"params": sd}, tmp_path / "long.pth")
    with pytest.raises(VsrbenchError, match=r"unexpected keys: extra\.weight"):
        load_checkpoint(create_model("basicvsr"), tmp_path / "long.pth")


def test_parameter_counts_and_why_basicsrs_basicvsrpp_is_smaller(basicsr_archs, mmagic_net, monkeypatch):
    """BasicVSR 6.3 M, IconVSR 8.7 M, BasicVSR++ 7.3 M as the papers state. BasicSR's port of
    BasicVSR++ has 5.28 M on a machine without CUDA because it builds the deformable alignment
    only when ``torch.cuda.is_available()``; with it, it has exactly MMagic's (and our) count."""
    def count(net):
        return sum(p.numel() for p in net.parameters())

    with torch.device("meta"):
        ours = {n: count(create_model(n)) for n in ("basicvsr", "iconvsr", "basicvsrpp")}
    assert ours == {"basicvsr": 6_291_311, "iconvsr": 8_694_991, "basicvsrpp": 7_322_927}
    for name, n in ours.items():
        assert round(n / 1e6, 1) == get_model_info(name).card.reported_params_m
    assert count(mmagic_net.BasicVSRPlusPlusNet(mid_channels=64, num_blocks=7)) == ours["basicvsrpp"]
    port = basicsr_archs["basicvsrpp"].BasicVSRPlusPlus
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert count(port(mid_channels=64, num_blocks=7)) == 5_283_439
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert count(port(mid_channels=64, num_blocks=7)) == ours["basicvsrpp"]


def test_inputs_the_official_code_cannot_take_are_refused_plainly():
    with torch.no_grad():
        with pytest.raises(ValueError, match="at least 64x64"):
            create_model("basicvsrpp", num_blocks=1)(torch.rand(1, 3, 3, 48, 64))
        with pytest.raises(ValueError, match="at least 5 frames"):
            create_model("iconvsr", num_block=1)(torch.rand(1, 4, 3, 32, 32))
    with pytest.raises(ValueError, match="x4 only"):
        create_model("basicvsr", scale=2)


def test_official_code_leaves_sys_modules_alone(basicsr_archs, mmagic_net):
    assert not any(k.split(".")[0] in ("basicsr", "mmagic", "mmcv", "mmengine") for k in sys.modules)


def test_mmagic_wrapper_prefixes(tmp_path):
    """The generator of an MMagic file is taken only for a model whose own names lack the prefix;
    ``generator_ema.`` (the EMA weights) wins over ``generator.``; the wrapper's other entries go."""
    net = nn.Sequential(nn.Conv2d(1, 1, 1))
    w = {"0.weight": torch.full((1, 1, 1, 1), 2.0), "0.bias": torch.full((1,), 3.0)}
    sd = {**{f"generator.{k}": v for k, v in w.items()}, **{f"generator_ema.{k}": v + 1 for k, v in w.items()},
          "discriminator.0.weight": torch.zeros(1), "step_counter": torch.zeros(1)}
    torch.save({"meta": {}, "state_dict": sd}, tmp_path / "gan.pth")
    load_checkpoint(net, tmp_path / "gan.pth")
    assert float(net[0].weight) == 3.0 and float(net[0].bias) == 4.0

    wrapper = nn.Module()
    wrapper.generator = nn.Conv2d(1, 1, 1)  # a model of one's own with a submodule named generator
    torch.save({"generator.weight": w["0.weight"], "generator.bias": w["0.bias"], "step_counter": torch.zeros(1)},
               tmp_path / "own.pth")
    with pytest.raises(VsrbenchError, match="unexpected keys: step_counter"):
        load_checkpoint(wrapper, tmp_path / "own.pth")


def test_official_archives_are_verified_and_a_failed_download_skips_or_fails_in_ci(tmp_path, monkeypatch):
    from official_code import PINNED, official_archive

    monkeypatch.delenv("VSRBENCH_OFFICIAL_CODE", raising=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / PINNED["basicsr"].filename).write_bytes(b"not the sdist")
    with pytest.raises(pytest.fail.Exception, match="is not the pinned b89b595a"):
        official_archive("basicsr", bad)

    empty = tmp_path / "links"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip finds nothing: the download fails at once
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="cannot download basicsr-1.4.2.tar.gz"):
        official_archive("basicsr", tmp_path / "cache")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="cannot download basicsr-1.4.2.tar.gz"):
        official_archive("basicsr", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-written left in the cache
