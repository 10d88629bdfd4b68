"""Zooming Slow-Mo (ZSM): one-stage space-time video super-resolution (Xiang et al., CVPR 2020).

Written from the architecture facts (``architectures.md``) and the official checkpoint's layout;
no code of the GPL-3.0 original is used. ``ZoomingSlowMo().state_dict()`` has exactly the names,
order and shapes of the official ``xiang2020zooming.pth`` (416 tensors, 11,102,771 parameters), so
that checkpoint loads with ``strict=True`` through :func:`vsrbench.models.load_checkpoint`.

Data flow for ``N`` input frames (``B x N x 3 x H x W``, RGB in [0, 1], ``H``, ``W`` multiples of 4):

1. Features: ``L1 = feature_extraction(lrelu(conv_first(x)))`` (5 residual blocks), then a 3-level
   pyramid ``L2 = lrelu(fea_L2_conv2(lrelu(fea_L2_conv1(L1))))`` (first conv stride 2), ``L3`` alike.
2. Frame feature interpolation: for each neighbour pair (t, t+1) the PCD alignment without the
   cascading stage is run in both directions (``_1``: frame t aligned guided by [f_t, f_t+1];
   ``_2``: frame t+1 guided by [f_t+1, f_t]); ``fusion`` (1x1, 128->64) of the two gives the
   missing frame. Sequence F1, I12, F2, ..., FN (``2N - 1`` features).
3. Bidirectional deformable ConvLSTM: one ``forward_net`` run on the sequence and on its reverse;
   per step ``conv_1x1`` merges cat(forward, backward). Before each step ``pcd_h`` / ``pcd_c``
   (pyramid convs + PCD alignment + fusion) align the previous ``h`` / ``c`` with the current
   input; ``h``, ``c`` start at zero for every window. Cell gates i, f, o, g.
4. Reconstruction per frame: 40 residual blocks, two (conv 64->256, PixelShuffle(2), lrelu),
   ``HRconv`` + lrelu, ``conv_last`` (64->3). No global skip and no clamp.

Model card, against the journal version (``shared/reference/papers/zooming-slow-mo-journal.txt``;
``paper`` = what it says, and where; **reading** / **invented** = a choice here). The layer layout is
fixed by the official checkpoint's keys (``zsm_state_dict_keys.txt``, strict loading):

===================  ============================================  ===========================================
layer group          paper says                                    vsrbench does (why)
===================  ============================================  ===========================================
feature extraction   k1 = 5 residual blocks (Implementation        ``conv_first`` + 5 residual blocks + 3-level
                     Details)                                      pyramid (checkpoint keys)
feature temporal     section 3.2: bidirectional deformable         PCD alignment without the cascade, both
interpolation        sampling of F1, F3 blended by a conv          directions, ``fusion`` 1x1 128 -> 64
deformable ConvLSTM  eqs. 5-6, bidirectional, shared weights       ``forward_net`` on the sequence and its
                                                                   reverse, ``conv_1x1`` merges; gates i, f,
                                                                   o, g (checkpoint layout)
reconstruction       section 3.4: k2 = 40 residual blocks,         40 blocks, 2 x (conv, PixelShuffle(2),
                     PixelShuffle                                  lrelu), HRconv, conv_last; no skip
loss                 eq. 7 Charbonnier, eps = 1e-3                 the paper recipe: eps 1e-3
LR synthesis rho     eq. 8: k3 residual blocks + a conv            training only
                                                                   (:mod:`vsrbench.training.zsm_cyclic`);
                                                                   k3 = 5 **invented** (not given)
cyclic losses        eqs. 8-9 (1st / 2nd order), eq. 10 weights    the paper recipe; 2nd order re-uses the
                     lambda1..3                                    interpolation (**reading**); lambdas = 1
                                                                   **invented** (not given)
activations          --                                            LeakyReLU 0.1 (facts from the checkpoint's
                                                                   code description)
===================  ============================================  ===========================================

Implementation notes: the two LSTM directions share ``forward_net`` and run as one batch of 2B
sequences; the N-1 frame interpolations run as one batch (same results as separate passes).

Choices where the facts are silent: LeakyReLU slope 0.1 (facts); in ``pcd_h`` / ``pcd_c`` the
current input is the first frame of the pair and the state the second (``pcd_h(x_t, h)``);
initialisation: residual blocks Kaiming x 0.1, offset/mask convs zero, other convs PyTorch default
(irrelevant once the checkpoint is loaded). Inputs whose ``H`` or ``W`` is not a multiple of 4 are
padded (replicate, bottom / right) and the output cropped back.
"""

from __future__ import annotations

import torch
from torch import nn

from vsrbench.models.layers import DCNv2Pack, ResidualBlockNoBN, make_layer, pad_to_multiple
from vsrbench.models.layers import lrelu as _lrelu
from vsrbench.models.layers import up2 as _up2
from vsrbench.models.registry import ModelCard, ModelSpec, register_model

__all__ = ["ZoomingSlowMo", "PCDAlignNoCascade", "EasyPCD", "DeformableConvLSTM", "BiDeformableConvLSTM"]

class PCDAlignNoCascade(nn.Module):
    """EDVR's pyramid-cascading-deformable alignment without the cascade, in two directions.

    ``forward(fea1, fea2)`` with pyramids ``[L1, L2, L3]``; returns cat(fea1 aligned guided by
    [fea1, fea2], fea2 aligned guided by [fea2, fea1]) at L1: ``B x 2nf x H x W``.
    Submodules are created direction by direction, L3 -> L1, in the checkpoint's order.
    """

    def __init__(self, nf: int = 64, groups: int = 8):
        super().__init__()
        for d in ("1", "2"):
            self.add_module(f"L3_offset_conv1_{d}", nn.Conv2d(nf * 2, nf, 3, 1, 1))
            self.add_module(f"L3_offset_conv2_{d}", nn.Conv2d(nf, nf, 3, 1, 1))
            self.add_module(f"L3_dcnpack_{d}", DCNv2Pack(nf, nf, 3, 1, groups))
            for lvl in ("L2", "L1"):
                self.add_module(f"{lvl}_offset_conv1_{d}", nn.Conv2d(nf * 2, nf, 3, 1, 1))
                self.add_module(f"{lvl}_offset_conv2_{d}", nn.Conv2d(nf * 2, nf, 3, 1, 1))
                self.add_module(f"{lvl}_offset_conv3_{d}", nn.Conv2d(nf, nf, 3, 1, 1))
                self.add_module(f"{lvl}_dcnpack_{d}", DCNv2Pack(nf, nf, 3, 1, groups))
                self.add_module(f"{lvl}_fea_conv_{d}", nn.Conv2d(nf * 2, nf, 3, 1, 1))

    def _align(self, nbr: list[torch.Tensor], ref: list[torch.Tensor], d: str) -> torch.Tensor:
        m = lambda name: getattr(self, f"{name}_{d}")  # noqa: E731
        # L3
        off3 = _lrelu(m("L3_offset_conv1")(torch.cat((nbr[2], ref[2]), 1)))
        off3 = _lrelu(m("L3_offset_conv2")(off3))
        fea3 = _lrelu(m("L3_dcnpack")(nbr[2], off3))
        # L2
        off2 = _lrelu(m("L2_offset_conv1")(torch.cat((nbr[1], ref[1]), 1)))
        off2 = _lrelu(m("L2_offset_conv2")(torch.cat((off2, _up2(off3) * 2), 1)))
        off2 = _lrelu(m("L2_offset_conv3")(off2))
        fea2 = m("L2_dcnpack")(nbr[1], off2)
        fea2 = _lrelu(m("L2_fea_conv")(torch.cat((fea2, _up2(fea3)), 1)))
        # L1
        off1 = _lrelu(m("L1_offset_conv1")(torch.cat((nbr[0], ref[0]), 1)))
        off1 = _lrelu(m("L1_offset_conv2")(torch.cat((off1, _up2(off2) * 2), 1)))
        off1 = _lrelu(m("L1_offset_conv3")(off1))
        fea1 = m("L1_dcnpack")(nbr[0], off1)
        fea1 = m("L1_fea_conv")(torch.cat((fea1, _up2(fea2)), 1))
        return fea1

    def forward(self, fea1: list[torch.Tensor], fea2: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat((self._align(fea1, fea2, "1"), self._align(fea2, fea1, "2")), 1)


class _Pyramid(nn.Module):
    """The two stride-2 levels (``fea_L2_conv1/2``, ``fea_L3_conv1/2``), each conv + lrelu."""

    def __init__(self, nf: int):
        super().__init__()
        self.fea_L2_conv1 = nn.Conv2d(nf, nf, 3, 2, 1)
        self.fea_L2_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.fea_L3_conv1 = nn.Conv2d(nf, nf, 3, 2, 1)
        self.fea_L3_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)

    def pyramid(self, l1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        l2 = _lrelu(self.fea_L2_conv2(_lrelu(self.fea_L2_conv1(l1))))
        l3 = _lrelu(self.fea_L3_conv2(_lrelu(self.fea_L3_conv1(l2))))
        return l1, l2, l3


class EasyPCD(_Pyramid):
    """Pyramid convs + two-way PCD alignment + 1x1 fusion of two L1 features (``pcd_h``/``pcd_c``)."""

    def __init__(self, nf: int = 64, groups: int = 8):
        super().__init__(nf)
        self.pcd_align = PCDAlignNoCascade(nf, groups)
        self.fusion = nn.Conv2d(nf * 2, nf, 1, 1)

    def forward(self, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
        b = f1.shape[0]
        l1, l2, l3 = self.pyramid(torch.cat((f1, f2), 0))  # both frames in one batch
        p1 = [l1[:b], l2[:b], l3[:b]]
        p2 = [l1[b:], l2[b:], l3[b:]]
        return self.fusion(self.pcd_align(p1, p2))


class ConvLSTMCell(nn.Module):
    """``conv(cat(x, h))`` (3x3, ``nf + hidden -> 4 hidden``) split into gates i, f, o, g."""

    def __init__(self, input_dim: int = 64, hidden_dim: int = 64, kernel_size: int = 3):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.conv = nn.Conv2d(input_dim + hidden_dim, 4 * hidden_dim, kernel_size, 1, kernel_size // 2)

    def forward(self, x, h, c):
        i, f, o, g = torch.split(self.conv(torch.cat((x, h), 1)), self.hidden_dim, dim=1)
        i, f, o, g = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(g)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, c


class DeformableConvLSTM(nn.Module):
    """One-layer ConvLSTM whose previous ``h`` and ``c`` are aligned to the input by ``pcd_h/pcd_c``."""

    def __init__(self, nf: int = 64, groups: int = 8):
        super().__init__()
        self.nf = nf
        self.cell_list = nn.ModuleList([ConvLSTMCell(nf, nf, 3)])
        self.pcd_h = EasyPCD(nf, groups)
        self.pcd_c = EasyPCD(nf, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``B x T x nf x H x W`` -> hidden states ``B x T x nf x H x W``."""
        b, t, _, h_, w_ = x.shape
        h = x.new_zeros(b, self.nf, h_, w_)
        c = x.new_zeros(b, self.nf, h_, w_)
        outs = []
        for i in range(t):
            xt = x[:, i]
            h_al = self.pcd_h(xt, h)
            c_al = self.pcd_c(xt, c)
            h, c = self.cell_list[0](xt, h_al, c_al)
            outs.append(h)
        return torch.stack(outs, 1)


class BiDeformableConvLSTM(nn.Module):
    """``forward_net`` on the sequence and (same weights) on its reverse; ``conv_1x1`` merges."""

    def __init__(self, nf: int = 64, groups: int = 8):
        super().__init__()
        self.forward_net = DeformableConvLSTM(nf, groups)
        self.conv_1x1 = nn.Conv2d(nf * 2, nf, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Both directions share the weights: run them as one batch of 2B sequences (same result as
        # two passes, half the kernel launches).
        b = x.shape[0]
        both = self.forward_net(torch.cat((x, torch.flip(x, dims=[1])), 0))
        fwd, rev = both[:b], both[b:].flip(dims=[1])
        b, t, c, h, w = fwd.shape
        y = self.conv_1x1(torch.cat((fwd, rev), 2).reshape(b * t, 2 * c, h, w))
        return y.reshape(b, t, -1, h, w)


class ZoomingSlowMo(nn.Module):
    """Zooming Slow-Mo: ``B x N x 3 x H x W`` -> ``B x (2N-1) x 3 x 4H x 4W``.

    Args:
        scale: spatial factor; only 4 (two PixelShuffle(2) stages) is supported.
        nf: feature width (64 in the paper / checkpoint).
        groups: deformable groups (8).
        front_RBs: residual blocks in the feature extractor (5).
        back_RBs: residual blocks in the reconstruction trunk (40).
    """

    def __init__(self, scale: int = 4, nf: int = 64, groups: int = 8, front_RBs: int = 5, back_RBs: int = 40):
        super().__init__()
        if scale != 4:
            raise ValueError(f"ZoomingSlowMo supports scale 4 only, got {scale}")
        self.scale = scale
        self.nf = nf
        # Definition order == the official checkpoint's key order.
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.feature_extraction = make_layer(ResidualBlockNoBN, front_RBs, nf=nf)
        self.fea_L2_conv1 = nn.Conv2d(nf, nf, 3, 2, 1)
        self.fea_L2_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.fea_L3_conv1 = nn.Conv2d(nf, nf, 3, 2, 1)
        self.fea_L3_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.pcd_align = PCDAlignNoCascade(nf, groups)
        self.fusion = nn.Conv2d(nf * 2, nf, 1, 1)
        self.ConvBLSTM = BiDeformableConvLSTM(nf, groups)
        self.recon_trunk = make_layer(ResidualBlockNoBN, back_RBs, nf=nf)
        self.upconv1 = nn.Conv2d(nf, nf * 4, 3, 1, 1)
        self.upconv2 = nn.Conv2d(nf, nf * 4, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(2)
        self.HRconv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)

    def pyramid(self, l1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The L2, L3 levels of ``(B*N) x nf x H x W`` L1 features (strided convs + LeakyReLU)."""
        l2 = _lrelu(self.fea_L2_conv2(_lrelu(self.fea_L2_conv1(l1))))
        return l2, _lrelu(self.fea_L3_conv2(_lrelu(self.fea_L3_conv1(l2))))

    def interpolate(self, levels: list[torch.Tensor]) -> torch.Tensor:
        """Frame feature interpolation between each neighbour pair: ``levels`` = [L1, L2, L3], each
        ``B x N x nf x h x w``; returns the ``B x (N-1) x nf x H x W`` missing features (one batch)."""
        b, n = levels[0].shape[:2]
        p1 = [t[:, :-1].reshape(b * (n - 1), *t.shape[2:]) for t in levels]
        p2 = [t[:, 1:].reshape(b * (n - 1), *t.shape[2:]) for t in levels]
        return self.fusion(self.pcd_align(p1, p2)).reshape(b, n - 1, *levels[0].shape[2:])

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(output, L1 features B x N x nf x H x W, interpolated features B x (N-1) x nf x H x W or
        None)``; ``H``, ``W`` are the padded sizes (training reads the features; inference the output)."""
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f"ZoomingSlowMo expects B x N x 3 x H x W, got {tuple(x.shape)}")
        b, n, _, h0, w0 = x.shape
        x, _, _ = pad_to_multiple(x, 4)
        h, w = x.shape[-2:]
        l1 = self.feature_extraction(_lrelu(self.conv_first(x.reshape(b * n, 3, h, w))))
        l2, l3 = self.pyramid(l1)
        l1 = l1.reshape(b, n, self.nf, h, w)
        l2 = l2.reshape(b, n, self.nf, h // 2, w // 2)
        l3 = l3.reshape(b, n, self.nf, h // 4, w // 4)

        feats, inter = [l1[:, 0]], None
        if n > 1:
            inter = self.interpolate([l1, l2, l3])  # all N-1 pairs in one batch
            for i in range(n - 1):
                feats += [inter[:, i], l1[:, i + 1]]
        seq = torch.stack(feats, 1)  # B x (2N-1) x nf x H x W
        t = seq.shape[1]
        y = self.ConvBLSTM(seq).reshape(b * t, self.nf, h, w)
        y = self.recon_trunk(y)
        y = _lrelu(self.pixel_shuffle(self.upconv1(y)))
        y = _lrelu(self.pixel_shuffle(self.upconv2(y)))
        y = self.conv_last(_lrelu(self.HRconv(y)))
        y = y.reshape(b, t, 3, 4 * h, 4 * w)
        return y[..., : 4 * h0, : 4 * w0], l1, inter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]


ZSM_SPEC = ModelSpec(
    task="stvsr", frames_in=4, frames_out=7, colour="rgb", scales=(4,), input_range=(0.0, 1.0),
    spatial_multiple=4,
)

ZSM_CARD = ModelCard(
    paper=(
        "Xiang, Tian, Zhang, Fu, Allebach, Xu. Zooming Slow-Mo: Fast and Accurate One-Stage Space-Time "
        "Video Super-Resolution. CVPR 2020"
    ),
    reported_params_m=11.10,
    checkpoint_url="https://github.com/Mukosame/Zooming-Slow-Mo-CVPR-2020",
    checkpoint_name="xiang2020zooming.pth",
    notes=(
        "Official checkpoint xiang2020zooming.pth: linked (Google Drive) from the README of "
        "https://github.com/Mukosame/Zooming-Slow-Mo-CVPR-2020; a bare state_dict that loads strictly "
        "into this implementation (416 tensors, 11,102,771 parameters). Implementation written from "
        "the architecture facts; the original code is GPL-3.0 and was not copied."
    ),
)


@register_model("zsm", ZSM_SPEC, ZSM_CARD)
def zsm(scale: int = 4, nf: int = 64, groups: int = 8, front_RBs: int = 5, back_RBs: int = 40) -> ZoomingSlowMo:
    return ZoomingSlowMo(scale=scale, nf=nf, groups=groups, front_RBs=front_RBs, back_RBs=back_RBs)
