"""Training recipes: one :class:`Recipe` per seed paper (``paper``) and a CPU-sized ``quick`` one.

The facts are the seed papers' (see ``shared/reference/architectures.md``); every value a paper does
not state is listed in the recipe's ``chosen`` field with the reason, so a run's ``run.json`` says
what was taken from the paper and what was decided here.

Patches are given in LR pixels (``patch_h x patch_w``); the GT patch is ``scale`` times larger.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from vsrbench.errors import VsrbenchError

__all__ = ["Recipe", "PAPER_RECIPES", "QUICK_OVERRIDES", "RECIPE_NAMES", "get_recipe", "quick_recipe"]

RECIPE_NAMES = ("paper", "quick")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run except the data, the seed and the device.

    Attributes:
        name: ``'paper'`` or ``'quick'``. model: registered model name.
        scale: spatial scale. frames: GT frames per sample (the window read from a clip).
        input_frames: ``'all'`` (every frame of the window goes in) or ``'odd'`` (frames 1, 3, 5, 7:
            ZSM's space-time setting; all GT frames supervise). target: ``'centre'`` or ``'all'``.
        colour: ``'y'`` (BT.601 Y / 255, as the harness feeds Y models) or ``'rgb'``.
        lr_spec: ``None`` = LR from the stored ``--variant``; else a degradation spec applied to GT on
            the fly (LCVSR's Gaussian, DKSAN's x16).
        loss: ``'charbonnier'`` (``sqrt((x - y)^2 + eps^2)``, mean) or ``'l2'`` (MSE).
        scheduler: ``'cosine'`` (``lr`` -> ``eta_min`` over the run), ``'step'`` (x ``gamma`` after
            ``step_at`` of the run), ``'plateau'`` (/10 when the mean training loss of
            ``plateau_window`` iterations has not improved for ``plateau_patience`` windows) or ``'none'``.
        init: ``'default'`` (PyTorch's) or ``'xavier'`` (Xavier-uniform conv/linear weights, zero bias).
        checkpoint_every: iterations between ``latest.pth`` / ``model.pth`` writes.
        val_suite, val_crop: the suite (and GT centre crop) ``model.pth`` is scored on through the
            harness at every checkpoint (PSNR / SSIM into ``metrics.csv``); ``None``: no validation.
        cyclic: ZSM's journal training (eqs. 8-10): the LR synthesis module ``rho`` (``cyclic_blocks``
            residual blocks + a conv, training only) and the 1st / 2nd-order cyclic interpolation
            losses, weighted ``cyclic_weights`` = (lambda1 reconstruction, lambda2, lambda3).
        chosen: what the paper does not say and what was chosen, with the reason.
    """

    name: str
    model: str
    scale: int
    frames: int
    colour: str
    iters: int
    batch: int
    patch_h: int
    patch_w: int
    lr: float
    input_frames: str = "all"
    target: str = "centre"
    lr_spec: str | None = None
    loss: str = "charbonnier"
    charbonnier_eps: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    scheduler: str = "none"
    eta_min: float = 0.0
    step_at: float = 0.875
    gamma: float = 0.1
    plateau_window: int = 1000
    plateau_patience: int = 5
    grad_clip: float | None = None
    flips: bool = True
    rotations: bool = True
    init: str = "default"
    checkpoint_every: int = 1000
    log_every: int = 10
    val_suite: str | None = None
    val_crop: tuple[int, int] | None = (128, 128)
    cyclic: bool = False
    cyclic_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    cyclic_blocks: int = 5
    source: str = ""
    chosen: tuple[str, ...] = field(default_factory=tuple)

    def replace(self, **kw) -> "Recipe":
        return dataclasses.replace(self, **kw)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        d["cyclic_weights"] = list(self.cyclic_weights)
        d["chosen"] = list(self.chosen)
        d["val_crop"] = list(self.val_crop) if self.val_crop else None
        return d


PAPER_RECIPES: dict[str, Recipe] = {
    "zsm": Recipe(
        name="paper", model="zsm", scale=4, frames=7, input_frames="odd", target="all", colour="rgb",
        iters=600_000, batch=24, patch_h=32, patch_w=32, lr=4e-4, loss="charbonnier", scheduler="cosine",
        eta_min=1e-7, flips=True, rotations=True, checkpoint_every=5000, val_suite="vid4", cyclic=True,
        charbonnier_eps=1e-3,
        source="Xiang et al., Zooming Slow-Mo (journal version), section 3.5 and Implementation Details: 32x32 "
        "LR patches, 4 odd frames in, 7 GT frames (128x128) supervise, rotations 90/180/270 + horizontal "
        "flips, Charbonnier with eps 1e-3 (eq. 7), Adam, cosine annealing 4e-4 -> 1e-7, batch 24; training "
        "adds the LR synthesis module rho (k3 residual blocks + a conv) and the 1st / 2nd-order cyclic "
        "interpolation losses on the 7 LR frames, L = l1 lrec + l2 li1 + l3 li2 (eqs. 8-10)",
        chosen=(
            "lambda1 = lambda2 = lambda3 = 1: eq. 10 weights the three losses but the paper gives no values",
            "k3 = 5 residual blocks in rho: the paper leaves k3 open; 5 = its feature extractor's k1",
            "2nd-order interpolation (eq. 9) re-uses the network's pyramid convs, PCD alignment and fusion on "
            "the interpolated features (the paper: 'conduct feature interpolation' on them)",
            "Adam betas (0.9, 0.999): the paper names Adam only",
            "600k iterations: not given in architectures.md; override with --iters",
            "LR from the stored variant (bi:x4): ZSM trains on bicubic-downsampled Vimeo-90K",
        ),
    ),
    "fstrn": Recipe(
        name="paper", model="fstrn", scale=4, frames=5, colour="y", iters=300_000, batch=16, patch_h=32,
        patch_w=32, lr=1e-4, loss="charbonnier", charbonnier_eps=1e-3, scheduler="plateau",
        plateau_window=1000, plateau_patience=5, gamma=0.1, flips=True, rotations=True,
        checkpoint_every=5000, val_suite="vid4",
        source="Li et al., FSTRN, CVPR 2019: 5-frame volumes, Charbonnier (eps 1e-3) on the centre frame, "
        "Adam lr 1e-4 divided by 10 on plateau, dropout 0.3 (the model's default), Y channel",
        chosen=(
            "batch 16 and 32x32 LR patches: the paper states neither; the field's common setting",
            "plateau measured on the mean training loss of 1000-iteration windows, patience 5 windows "
            "(the paper names no validation set or patience)",
            "LR from the stored variant (--variant); the paper's own data is Gaussian sigma 2 + bicubic "
            "(prepare the variant blur-bicubic:sigma=2:x4 to train on it)",
            "300k iterations: not stated; override with --iters",
            "random 90-degree rotations and flips: common practice, the paper does not say",
        ),
    ),
    "lcvsr": Recipe(
        name="paper", model="lcvsr", scale=4, frames=7, colour="y", iters=800_000, batch=12, patch_h=63,
        patch_w=111, lr=1e-4, loss="l2", scheduler="step", step_at=0.875, gamma=0.1, init="xavier",
        lr_spec="gauss:sigma=1,size=3:x4", flips=True, rotations=False, checkpoint_every=5000,
        val_suite="vid4-lcvsr",
        source="LCVSR (seed 000): 7 Y frames, L2 loss, Adam (0.9, 0.999), lr 1e-4 -> 1e-5 after 0.7M of "
        "0.8M iterations, batch 12, Xavier init, 7-frame 252x444 GT clips, Gaussian 3x3 sigma 1 degradation",
        chosen=(
            "LR patch 63x111 = the paper's 252x444 GT clips at x4 (a Vimeo frame modcropped is 256x448)",
            "horizontal flips only: the paper names no augmentation; rotations would turn 63x111 patches",
        ),
    ),
    "dksan": Recipe(
        name="paper", model="dksan", scale=16, frames=7, colour="rgb", iters=115_000, batch=16, patch_h=32,
        patch_w=32, lr=4e-4, loss="charbonnier", charbonnier_eps=1e-3, scheduler="none",
        lr_spec="bi:x16", flips=True, rotations=True, checkpoint_every=5000,
        val_suite="vid3oc-x16", val_crop=(256, 256),
        source="DKSAN (seed 003): x16, 7 RGB frames, Charbonnier (1e-3), Adam lr 4e-4, 115k steps, batch 16, "
        "32x32 LR / 512x512 HR patches",
        chosen=(
            "constant learning rate: the paper names no schedule",
            "LR made on the fly by MATLAB bicubic x16 (bi:x16): the paper's data is bicubic x16",
            "validation on 256x256 centre crops of Vid3oC validation (vid3oc-x16), the paper's x16 test set",
            "note: Vimeo-90K frames are 16x28 at x16, smaller than the paper's 32x32 LR patch: train on "
            "larger frames or pass a smaller --patch",
        ),
    ),
}


def quick_recipe(model: str) -> Recipe:
    """A CPU-sized schedule for any registered model (tests, trying the loop end to end).

    The model's frames, colour and scale come from its spec; the architecture is the default one so
    ``model.pth`` loads into ``evaluate --checkpoint`` unchanged.
    """
    from vsrbench.models import get_model_info

    spec = get_model_info(model).spec
    if model in PAPER_RECIPES:
        base = PAPER_RECIPES[model]
        frames, input_frames, target, colour, scale, lr_spec = (
            base.frames, base.input_frames, base.target, base.colour, base.scale, base.lr_spec)
    else:
        if not isinstance(spec.frames_in, int) or spec.task != "vsr":
            raise VsrbenchError(
                f"no quick recipe for model {model!r} ({spec.task}, frames_in={spec.frames_in}); "
                f"trainable models: {', '.join(sorted(PAPER_RECIPES))}")
        frames, input_frames, target, colour, scale, lr_spec = (
            spec.frames_in, "all", "centre", spec.colour, 4 if 4 in spec.scales else spec.scales[0], None)
    rec = Recipe(
        name="quick", model=model, scale=scale, frames=frames, input_frames=input_frames, target=target,
        colour=colour, lr_spec=lr_spec, iters=300, batch=4, patch_h=16, patch_w=16, lr=5e-4,
        loss="charbonnier", charbonnier_eps=1e-3, scheduler="cosine", eta_min=5e-5, grad_clip=1.0,
        checkpoint_every=100, log_every=10, val_suite=None,
        source="vsrbench quick: not a paper recipe",
        chosen=("no validation by default (pass a suite to validate on)",
                "small patches and batch, a high cosine-annealed lr and gradient clipping so a few hundred "
                "CPU iterations improve on the initial network",),
    )
    over = QUICK_OVERRIDES.get(model)
    if over:
        rec = rec.replace(**over["set"], chosen=rec.chosen + (over["why"],))
    return rec


#: what the quick recipe changes for a model, and why (measured on the Vimeo-90K samples in ../shared)
QUICK_OVERRIDES: dict[str, dict] = {
    "fstrn": {
        "set": {"lr": 1e-3, "eta_min": 1e-4},
        "why": "FSTRN: lr 1e-3 cosine to 1e-4 (twice the generic quick lr): 300 iterations of batch 4 on 16x16 "
               "LR patches of the 8 Vimeo-90K sample clips then beat bicubic on Vid4 64x64 centre crops "
               "(25.395 vs 25.149 dB, seed 0, CPU); the architecture and its initialisation are the defaults",
    },
}


def get_recipe(recipe: str, model: str) -> Recipe:
    """The ``paper`` or ``quick`` recipe of ``model``; clear errors for unknown names."""
    from vsrbench.models import list_models

    if model not in list_models():
        raise VsrbenchError(f"unknown model {model!r}; registered models: {', '.join(list_models())}")
    if recipe == "quick":
        return quick_recipe(model)
    if recipe != "paper":
        raise VsrbenchError(f"unknown recipe {recipe!r}; use one of: {', '.join(RECIPE_NAMES)}")
    if model not in PAPER_RECIPES:
        raise VsrbenchError(
            f"model {model!r} has no paper recipe (paper recipes: {', '.join(sorted(PAPER_RECIPES))}); "
            "use --recipe quick")
    return PAPER_RECIPES[model]
