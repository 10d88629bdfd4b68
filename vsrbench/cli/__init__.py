"""The ``vsrbench`` command: a thin shell over the Python API.

Each subcommand parses its options, calls one API function and hands the result to a formatter of
:mod:`vsrbench.report`; user errors (:class:`vsrbench.errors.VsrbenchError`) are printed on stderr and
exit with status 2. The package, by command group: ``data`` (degrade, datasets, prepare, demo),
``evaluation`` (upscale, score, suites, models, evaluate, profile), ``sweep``, ``boards`` (leaderboard,
plot, regress), ``train``; ``common`` holds the argument helpers they share and ``app`` the parser and
:func:`main`.
"""

from __future__ import annotations

from vsrbench.cli.app import build_parser, main

__all__ = ["build_parser", "main", "format_result_table", "format_score_table", "format_tecogan_table",
           "result_header", "prepared_line"]

#: formatters kept importable from here (they live in vsrbench.report; imported on first use)
_REPORTED = {"format_result_table": "results", "format_score_table": "results", "format_score_csv": "results",
             "format_tecogan_table": "results", "result_header": "results", "prepared_line": "listings",
             "prepared_counts": "listings"}


def __getattr__(name: str):
    if name in _REPORTED:
        import importlib

        return getattr(importlib.import_module(f"vsrbench.report.{_REPORTED[name]}"), name)
    raise AttributeError(f"module 'vsrbench.cli' has no attribute {name!r}")
