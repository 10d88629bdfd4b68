"""The reporting side: results, records and listings as text for people (the last stage).

Data flows one way — datasets -> degradations -> stores -> suites -> harness -> results -> leaderboards
-> report — and only :mod:`vsrbench.cli` imports this package; the library returns data (dicts, result
objects) and never words its results for a terminal. ``results`` formats what the commands computed
(evaluate, score, sweep, upscale, degrade, train); ``listings`` formats what vsrbench knows (datasets,
suites, models, a prepared dataset).
"""
