"""Synthetic series shared by the detector tests."""

from __future__ import annotations

import numpy as np

T0 = 1_799_020_800.0  # 2027-01-04 00:00 UTC, a Monday


def noise(n: int, seed: int = 0, mean: float = 20.0, sd: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, n)


def run(det, xs, ts=None) -> np.ndarray:
    return det.update_many(np.asarray(xs, dtype=float), None if ts is None else np.asarray(ts))
