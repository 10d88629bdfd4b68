"""Training (``vsrbench train``): the seed papers' recipes on the stores ``prepare`` writes.

Stage order: training comes after benchmark (it may import datasets, degradations, models, metrics,
benchmark); nothing but ``cli.py`` imports it.

    train("fstrn", "vimeo90k", out="runs/fstrn", recipe="quick") -> TrainResult
    get_recipe("paper", "lcvsr") -> Recipe
"""

from vsrbench.training.recipes import PAPER_RECIPES, RECIPE_NAMES, Recipe, get_recipe, quick_recipe  # noqa: F401
from vsrbench.training.data import TrainData, TrainDataset, resolve_data  # noqa: F401
from vsrbench.training.loop import TrainResult, train  # noqa: F401

__all__ = ["PAPER_RECIPES", "RECIPE_NAMES", "Recipe", "get_recipe", "quick_recipe", "TrainData", "TrainDataset",
           "resolve_data", "TrainResult", "train"]
