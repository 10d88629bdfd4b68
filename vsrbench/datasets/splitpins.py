"""The Vimeo-90K split lists' facts: the motion splits, their clip counts per form, and the pinned sha256
of each published list (read by the catalog, which names where to fetch them, and by
:mod:`vsrbench.datasets.splits`, which loads them)."""

from __future__ import annotations

__all__ = ["MOTION_SPLITS", "SPLIT_COUNTS", "PINNED_SHA256"]

MOTION_SPLITS = ("fast", "medium", "slow")
SPLIT_COUNTS = {
    "cleaned": {"fast": 1225, "medium": 4977, "slow": 1613},
    "original": {"fast": 1225, "medium": 4983, "slow": 1616},
}
#: sha256 of the published list files (as distributed; checked in load_split(verify=True))
PINNED_SHA256 = {
    ("cleaned", "fast"): "9cfd49bbe5ebcb28a976d309e3caefd9fe8a7ee8bdb5b5b5ce5ec29a007eed6a",
    ("cleaned", "medium"): "c89afd293f5112f4f94d779abf033b37459fcfe80941ef2413920e9d30c88a4f",
    ("cleaned", "slow"): "a170691a2c8bb967b82cca029abff372bf8523030e230748d2eff15cdcd959cb",
    ("original", "fast"): "e68dfb8fd090eb9eedda02573021d64a2680e7101a484522c70e638967f6cd80",
    ("original", "medium"): "0d43ac15911e095ba753ca65fad1a5fb8f4eab716455101ea80cde15110dbd8e",
    ("original", "slow"): "7a237dec21c218d9ac0b9555166fc0989ee862257097ee22e0770a595657ec19",
    ("cleaned", "test"): "5870e9167e0b8e3837a7b47521fe4e7f05d8b6f4f87350b58b4e2c31842baabd",
    ("original", "test"): "5870e9167e0b8e3837a7b47521fe4e7f05d8b6f4f87350b58b4e2c31842baabd",
    ("", "train"): "709c3e2ad825f46baa58744f3b10f8ba6f6e9256f0f70b89dbed6aba1a97f6d6",
}
