"""vsrbench: dataset preparation and evaluation for video super-resolution (VSR / STVSR).

Subpackages, in the one direction data flows:
``datasets`` -> ``degradations`` -> ``benchmark`` (suites, harness) -> ``leaderboard``;
``metrics`` and ``models`` are pure building blocks used by the later stages.
"""

__version__ = "0.1.0"
