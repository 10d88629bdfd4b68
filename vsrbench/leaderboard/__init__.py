"""Leaderboards (quality, temporal, runtime), plots and the metric-table regression guard.

Only :mod:`vsrbench.cli` imports this package; it reads results through
:func:`vsrbench.benchmark.results.load_results` (the results store).
"""

from vsrbench.leaderboard.boards import (
           Board,
           build_boards,
           load_reported,
           records_frame,
)
from vsrbench.leaderboard.regress import (
           compare,
           metric_table,
           read_baseline,
           write_baseline,
)

__all__ = [
           "Board",
           "build_boards",
           "compare",
           "load_reported",
           "metric_table",
           "read_baseline",
           "records_frame",
           "write_baseline",
]
