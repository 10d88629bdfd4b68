"""Registered models: interpolation baselines and the VSR / STVSR architectures, one per file."""

from vsrbench.models.registry import (  # noqa: F401
    ModelCard,
    ModelSpec,
    create_model,
    get_model_info,
    list_models,
    register_model,
)
from vsrbench.models import interpolation  # noqa: F401,E402  (registers the baselines)
from vsrbench.models.checkpoint import load_checkpoint  # noqa: F401,E402
from vsrbench.models import lcvsr, fstrn, dksan, zsm  # noqa: F401,E402  (registers the architectures)
