"""The sliding-window reference models (EDVR-M/L, TOFlow, DUF-16L/28L/52L) against BasicSR 1.4.2's code.

For each model the official architecture is built from BasicSR's sdist (``tests/official_code.py``,
loaded once per session by the ``basicsr_archs`` fixture),
every parameter is perturbed with seeded noise (zero-initialised DCN offset convs included, so the
deformable sampling runs at fractional offsets; BN statistics too), the weights are saved in the
released layout (``{'params': state_dict}``), loaded strictly into vsrbench's model through
``load_checkpoint`` and both forwards are compared on the same input.

Speed: inputs are the smallest the networks take (EDVR: H, W multiples of 4; TOFlow: HR multiples
of 16), one intra-op thread, and the 128-channel EDVRs run 4 reconstruction blocks instead of 40
(the same block repeated; the released depths are checked name for name and shape for shape in
``test_released_configurations_have_the_official_layout``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsrbench.errors import VsrbenchError
from vsrbench.models import create_model, get_model_info
from vsrbench.models.checkpoint import load_checkpoint

TOL = 1e-4


@pytest.fixture(scope="module")
def archs(basicsr_archs):
    return basicsr_archs


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: these tensors are small and the CI machine's cores are shared."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def perturb(net: torch.nn.Module, seed: int) -> dict:
    """Every floating tensor of ``net``'s state dict changed by seeded noise (in place); returns it."""
    g = torch.Generator().manual_seed(seed)
    sd = net.state_dict()
    with torch.no_grad():
        for k, v in sd.items():
            if not v.is_floating_point():
                continue
            noise = torch.randn(v.shape, generator=g, dtype=v.dtype)
            if k.endswith("running_var"):
                v.copy_(0.5 + torch.rand(v.shape, generator=g, dtype=v.dtype))
            elif "conv_offset" in k:  # zero at init: offsets of about a pixel, masks away from 0.5
                v.copy_(noise * (0.02 if k.endswith("weight") else 1.0))
            elif k in ("mean", "std"):
                v.mul_(1 + 0.05 * noise)
            else:
                spread = float(v.std()) if v.numel() > 1 else 0.0
                v.add_(noise * 0.5 * max(spread, 0.02))
    return sd


def check_equal(official, name: str, x: torch.Tensor, tmp_path, scale: int = 4, seed: int = 0, **kwargs):
    official = official.eval()
    sd = perturb(official, seed)
    path = tmp_path / f"{name}.pth"
    torch.save({"params": sd}, path)
    ours = load_checkpoint(create_model(name, scale=scale, **kwargs), path).eval()  # strict
    assert set(ours.state_dict()) == set(sd)
    with torch.no_grad():
        want = official(x.clone())
        got = ours(x.clone())
    assert got.shape == want.shape
    assert float(want.std()) > 1e-3  # a real output, not a constant
    diff = float((got - want).abs().max())
    assert diff <= TOL, f"{name}: max |diff| {diff:.3g} (output range {float(want.min()):.3f}..{float(want.max()):.3f})"
    return ours, want


def frames(shape, seed=1):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(shape[:-2] + (1, 1), generator=g) * 0.4 + 0.3
    h, w = shape[-2:]
    ramp = torch.linspace(0, 0.2, w).view(1, w) + torch.linspace(0, 0.1, h).view(h, 1)
    return (base + ramp + 0.1 * torch.rand(shape, generator=g)).clamp(0, 1)


#: name -> BasicSR's network_g options (options/test/EDVR/*.yml)
EDVR_CONFIGS = {
    "edvr-m": dict(num_feat=64, num_frame=5, num_reconstruct_block=10),
    "edvr-l": dict(num_feat=128, num_frame=5, num_reconstruct_block=40),
    "edvr-l-vimeo90k": dict(num_feat=128, num_frame=7, num_reconstruct_block=40),
}
EDVR_CASES = {  # name -> reconstruction blocks run here (None: the released depth), input
    "edvr-m": (None, (2, 5, 3, 16, 12)),
    "edvr-l": (4, (1, 5, 3, 12, 16)),
    "edvr-l-vimeo90k": (4, (1, 7, 3, 12, 12)),
}


def official_edvr(archs, **cfg):
    return archs["edvr"].EDVR(num_in_ch=3, num_out_ch=3, deformable_groups=8, num_extract_block=5,
                              center_frame_idx=None, hr_in=False, with_predeblur=False, with_tsa=True, **cfg)


@pytest.mark.parametrize("name", sorted(EDVR_CASES))
def test_edvr_equals_basicsr(archs, name, tmp_path, caplog):
    blocks, shape = EDVR_CASES[name]
    cfg = dict(EDVR_CONFIGS[name])
    depth = {} if blocks is None else {"num_reconstruct_block": blocks}
    cfg.update(depth)
    torch.manual_seed(0)
    official = official_edvr(archs, **cfg)
    x = frames(shape)
    ours, out = check_equal(official, name, x, tmp_path, **depth)
    assert out.shape == (shape[0], 3, 4 * shape[3], 4 * shape[4])
    # the alignment alone, where an offset-layout error is not diluted by fusion and reconstruction
    c = cfg["num_feat"]
    g = torch.Generator().manual_seed(5)
    feats = [[torch.rand(1, c, 12 // 2**i, 12 // 2**i, generator=g) for i in range(3)] for _ in range(2)]
    with torch.no_grad():
        want, got = official.pcd_align(*feats), ours.pcd_align(*feats)
    assert float(want.std()) > 1e-2
    assert float((want - got).abs().max()) <= TOL * max(1.0, float(want.abs().max()))
    # the offsets really are fractional and non-zero (the zero-initialised path would hide a layout error)
    seen = []
    hook = ours.pcd_align.dcn_pack["l1"].conv_offset.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        ours(x)
    hook.remove()
    off = torch.cat(torch.chunk(seen[0], 3, 1)[:2], 1)
    assert 0.3 < float(off.abs().mean()) < 50


def test_edvr_warns_on_diverging_offsets(caplog):
    from vsrbench.models.edvr_blocks import DeformAlignPack

    pack = DeformAlignPack(8, 8, deformable_groups=1)
    with torch.no_grad():
        pack.conv_offset.bias.fill_(80.0)
    with caplog.at_level("WARNING"):
        pack(torch.rand(1, 8, 6, 6), torch.rand(1, 8, 6, 6))
    assert "mean magnitude 80" in caplog.text


def test_tof_equals_basicsr(archs, tmp_path):
    torch.manual_seed(0)
    official = archs["tof"].TOFlow(adapt_official_weights=True)
    x = frames((2, 7, 3, 32, 16))  # already upsampled, as TOFlow takes it
    _, out = check_equal(official, "tof", x, tmp_path)
    assert out.shape == (2, 3, 32, 16)


@pytest.mark.parametrize("layers,scale", [(16, 4), (16, 3), (28, 4), (52, 4)])
def test_duf_equals_basicsr(archs, layers, scale, tmp_path):
    torch.manual_seed(0)
    official = archs["duf"].DUF(scale=scale, num_layer=layers, adapt_official_weights=True)
    x = frames((1, 7, 3, 8, 12))
    _, out = check_equal(official, f"duf-{layers}l", x, tmp_path, scale=scale)
    assert out.shape == (1, 3, 8 * scale, 12 * scale)


def test_released_configurations_have_the_official_layout(archs):
    """At the released depths (40 reconstruction blocks for EDVR-L, 9 / 21 dense layers for DUF-28L /
    52L) our state_dicts are BasicSR's name for name and shape for shape."""
    def layout(net):
        return {k: tuple(v.shape) for k, v in net.state_dict().items()}

    with torch.device("meta"):  # shapes only
        for name, cfg in EDVR_CONFIGS.items():
            assert layout(create_model(name)) == layout(official_edvr(archs, **cfg)), name
        for layers in (16, 28, 52):
            official = archs["duf"].DUF(scale=4, num_layer=layers, adapt_official_weights=True)
            assert layout(create_model(f"duf-{layers}l")) == layout(official), layers
        assert layout(create_model("tof")) == layout(archs["tof"].TOFlow(adapt_official_weights=True))


def test_released_layouts_load_strictly(archs, tmp_path):
    """A file of the wrong configuration is refused with the names of the misfit keys; a bare
    state_dict (no 'params') loads too."""
    official = archs["edvr"].EDVR(num_feat=64, num_frame=5, num_reconstruct_block=10)
    sd = official.state_dict()
    torch.save({"params": sd}, tmp_path / "m.pth")
    with pytest.raises(VsrbenchError, match="does not fit model 'edvr-l'.*mis-shaped keys"):
        load_checkpoint(create_model("edvr-l"), tmp_path / "m.pth")
    del sd["pcd_align.cas_dcnpack.conv_offset.bias"]
    torch.save(sd, tmp_path / "bare.pth")
    with pytest.raises(VsrbenchError, match=r"missing keys: pcd_align\.cas_dcnpack\.conv_offset\.bias"):
        load_checkpoint(create_model("edvr-m"), tmp_path / "bare.pth")
    duf = archs["duf"].DUF(scale=4, num_layer=16, adapt_official_weights=True)
    torch.save(duf.state_dict(), tmp_path / "duf.pth")
    load_checkpoint(create_model("duf-16l"), tmp_path / "duf.pth")


def test_specs_follow_the_official_test_options():
    """Window, colour, scale and input preparation as BasicSR's test_{EDVR,TOF,DUF}_*.yml."""
    want = {"edvr-m": 5, "edvr-l": 5, "edvr-l-vimeo90k": 7, "tof": 7, "duf-16l": 7, "duf-28l": 7, "duf-52l": 7}
    for name, t in want.items():
        spec = get_model_info(name).spec
        assert (spec.task, spec.frames_in, spec.frames_out, spec.colour, spec.input_range) == ("vsr", t, 1, "rgb",
                                                                                              (0.0, 1.0))
        assert 4 in spec.scales
        assert spec.input_upsample == ("bicubic" if name == "tof" else None)
    assert "input_upsample" not in get_model_info("edvr-m").spec.as_dict()


def _clip(shared_dir, n=9, size=16):
    import cv2

    paths = sorted((shared_dir / "data/vid4/BIx4-reference/calendar").glob("*.png"))[:n]
    return [cv2.imread(str(p))[40:40 + size, 60:60 + size, ::-1].copy() for p in paths]


def test_harness_feeds_tof_upsampled_windows(shared_dir, archs, tmp_path):
    """The harness gives TOFlow the MATLAB-bicubic x4 of each reflection_circle window, rounded to
    8 bits, and takes its 4-D centre-frame output: equal to BasicSR's module on those frames."""
    from vsrbench.benchmark.feed import ModelRunner, super_resolve_vsr
    from vsrbench.benchmark.windows import window_indices
    from vsrbench.degradations.imresize import imresize

    lr = _clip(shared_dir, n=5, size=8)  # windows 0 and 4 are both padded at a clip end
    official = archs["tof"].TOFlow(adapt_official_weights=True).eval()
    sd = perturb(official, 3)
    torch.save({"params": sd}, tmp_path / "tof.pth")
    model = load_checkpoint(create_model("tof"), tmp_path / "tof.pth").eval()
    out = super_resolve_vsr(ModelRunner(model, 4), lr, [0, 4])
    for t in (0, 4):
        up = [imresize(lr[i], 4) for i in window_indices(t, len(lr), 7, "reflection_circle")]
        x = torch.from_numpy(np.stack(up).transpose(0, 3, 1, 2).astype(np.float32) / 255.0)[None]
        with torch.no_grad():
            want = official(x)[0].numpy().transpose(1, 2, 0) * 255.0
        want = np.floor(np.clip(want, 0, 255) + 0.5).astype(np.uint8)
        assert out[t].shape == (32, 32, 3)
        assert int(np.abs(out[t].astype(int) - want.astype(int)).max()) <= 1
        assert float(np.mean(out[t] != want)) < 0.01


def test_harness_takes_edvr_centre_frame(shared_dir, tmp_path):
    """EDVR returns B x C x 4H x 4W (BasicSR's layout): the runner scores it as the window's frame."""
    from vsrbench.benchmark.feed import ModelRunner, super_resolve_vsr
    from vsrbench.benchmark.windows import window_indices

    lr = _clip(shared_dir, n=6, size=8)
    torch.manual_seed(0)
    model = create_model("edvr-m").eval()
    out = super_resolve_vsr(ModelRunner(model, 4), lr, [0, 5])
    idx = window_indices(0, len(lr), 5, "reflection_circle")
    assert idx == [4, 3, 0, 1, 2]  # BasicSR's generate_frame_indices
    x = torch.from_numpy(np.stack([lr[i] for i in idx]).transpose(0, 3, 1, 2).astype(np.float32) / 255)
    with torch.no_grad():
        want = model(x[None])[0].numpy().transpose(1, 2, 0) * 255
    want = np.floor(np.clip(want, 0, 255) + 0.5)
    assert out[0].shape == (32, 32, 3) and out[5].shape == (32, 32, 3)
    assert np.abs(out[0] - want).max() <= 1


def test_profile_gives_tof_its_upsampled_input_and_names_the_lr_size():
    from vsrbench.benchmark.runtime import profile_model

    torch.manual_seed(0)
    row = profile_model(create_model("tof"), lr_size=(8, 12), warmup=0, repeats=1, count_flops=False)
    assert (row["lr_size"], row["scale"], row["frames_in"]) == ("8x12", 4, 7)  # H x W, as for every model
