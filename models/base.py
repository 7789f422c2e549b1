"""The detector protocol every streaming detector in :mod:`models` follows.

A detector watches one series. For each reading it first *scores* (pure: no state
change), then *learns*. ``update`` does both and is what flows call; ``update_many``
does the same over a numpy batch. Scores are raw (detector-specific scale, higher is
more anomalous); :mod:`models.calibrate` maps them to a comparable 0-1 likelihood.
Before ``ready`` (warm-up) a detector's score is 0.0 and it never alerts.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np


class ParamError(ValueError):
    """A detector parameter is out of range; the message names it."""


def check(name: str, value: float, lo: float | None = None, hi: float | None = None) -> None:
    """Raise :class:`ParamError` when ``value`` is outside ``[lo, hi]``."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamError(f"{name}={value!r} must be finite")
    if lo is not None and value < lo:
        raise ParamError(f"{name}={value!r} must be >= {lo}")
    if hi is not None and value > hi:
        raise ParamError(f"{name}={value!r} must be <= {hi}")


class Detector:
    """Base class: score, then learn, one value at a time.

    Subclasses implement ``score_one``, ``learn_one`` and ``ready``; they use
    ``__slots__`` so per-sensor state stays small and pickles fast.

    ``guard``: when set, a value whose score is at or above it is not learnt
    ("do not learn from anomalies"), so a long anomaly does not become the norm.
    """

    __slots__ = ("guard",)
    #: Bumped whenever the pickled state layout changes.
    version: ClassVar[int] = 1
    name: ClassVar[str] = "detector"

    def __init__(self, guard: float | None = None) -> None:
        if guard is not None:
            check("guard", guard, lo=0.0)
        self.guard = guard

    # -- protocol ---------------------------------------------------------------
    @property
    def ready(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_one(self, x: float, ts: float = 0.0) -> float:  # pragma: no cover
        raise NotImplementedError

    def learn_one(self, x: float, ts: float = 0.0) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------
    def update(self, x: float, ts: float = 0.0) -> float:
        """Score ``x`` then learn it (unless the guard holds it back); return the score."""
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        s = self.score_one(x, ts)
        if self.guard is None or s < self.guard:
            self.learn_one(x, ts)
        return s

    def update_many(self, xs: np.ndarray, ts: np.ndarray | None = None) -> np.ndarray:
        """``update`` over a batch; subclasses may override with a vectorised version."""
        out = np.zeros(len(xs))
        if ts is None:
            ts = np.zeros(len(xs))
        for i, (x, t) in enumerate(zip(xs.tolist(), ts.tolist(), strict=True)):
            out[i] = self.update(x, t)
        return out

    def __getstate__(self) -> dict:
        state = {"_v": self.version}
        for cls in type(self).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(self, slot):
                    state[slot] = getattr(self, slot)
        return state

    def __setstate__(self, state: dict) -> None:
        v = state.pop("_v", None)
        if v != self.version:
            raise ValueError(f"{type(self).__name__}: state version {v} != {self.version}")
        for k, val in state.items():
            object.__setattr__(self, k, val)
