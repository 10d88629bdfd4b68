"""Degradations: GT frames -> LR frames, MATLAB-exact (NumPy reference and torch versions).

Pure functions, no I/O. See :mod:`vsrbench.degradations.spec` for the spec strings.
"""

from vsrbench.degradations.blur import (  # noqa: F401
    bd_downsample,
    bd_downsample_torch,
    blur_bicubic_downsample,
    duf_downsample,
    duf_downsample_torch,
    gaussian_kernel_1d,
    gaussian_subsample,
)
from vsrbench.degradations.imresize import imresize, imresize_torch, matlab_round_uint8  # noqa: F401
from vsrbench.degradations.noise import gaussian_impulse_noise, jpeg_roundtrip  # noqa: F401
from vsrbench.degradations.spec import (  # noqa: F401
    SCALES,
    VALID_OPS,
    Degradation,
    DegradationOp,
    frame_rng,
    modcrop,
    parse_spec,
)
