"""Pure metric functions with explicit arguments (crop_border, channel): NumPy reference + torch."""

from vsrbench.metrics.aggregate import aggregate, finite_mean  # noqa: F401
from vsrbench.metrics.quality import psnr, psnr_ssim, rgb_to_y, ssim, to_uint8  # noqa: F401
from vsrbench.metrics.torch_quality import psnr_torch, rgb_to_y_torch, ssim_torch, to_uint8_torch  # noqa: F401
from vsrbench.metrics.temporal import (  # noqa: F401,E402
    TEMPORAL_DEFINITIONS,
    farneback_flow,
    temporal_profile,
    temporal_profile_pair,
    temporal_psnr,
    tof,
    warping_error,
)
from vsrbench.metrics.lpips import LPIPS, image_to_tensor  # noqa: F401,E402
from vsrbench.metrics.tecogan import (  # noqa: F401,E402
    TECOGAN_DEFINITIONS,
    crop_8x8,
    score_clip as tecogan_score_clip,
)
