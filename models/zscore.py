"""Rolling z-score: distance from the mean of the last ``window`` values, in standard deviations.

The mean and variance come from running sums over a ring buffer (shifted by a reference
value for numerical stability and recomputed from the buffer every ``window`` updates, so
rounding errors never accumulate): O(1) amortised per reading, memory bounded by the window.
"""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

from models.base import Detector, check


class ZScore(Detector):
    """Absolute z-score of each value against the last ``window`` values.

    Parameters
    ----------
    window
        Number of past values the mean and standard deviation are taken over.
    min_samples
        Warm-up: the score is 0 until this many values have been learnt.
    min_scale
        Floor on the standard deviation, absolute (a flat series does not divide by zero).
    rel_scale
        Floor on the standard deviation relative to ``|mean|``.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> d = ZScore(window=50, min_samples=10)
    >>> for i in range(50):
    ...     _ = d.update(10.0 + (i % 5) * 0.1)
    >>> round(d.expected(), 2)
    10.2
    >>> d.score_one(10.2) < 1, d.score_one(30.0) > 10
    (True, True)
    """

    __slots__ = ("window", "min_samples", "min_scale", "rel_scale", "_buf", "_k", "_s", "_ss", "_t")
    name: ClassVar[str] = "zscore"

    def __init__(
        self,
        window: int = 96,
        min_samples: int = 24,
        min_scale: float = 1e-6,
        rel_scale: float = 0.01,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("window", window, lo=2, integer=True)
        check("min_samples", min_samples, lo=2, hi=window, integer=True)
        check("min_scale", min_scale, lo=0.0)
        check("rel_scale", rel_scale, lo=0.0)
        self.window = int(window)
        self.min_samples = int(min_samples)
        self.min_scale = float(min_scale)
        self.rel_scale = float(rel_scale)
        self._buf: deque[float] = deque()
        self._k = 0.0  # shift: sums are of (x - k)
        self._s = 0.0
        self._ss = 0.0
        self._t = 0  # updates since the sums were last recomputed

    @property
    def ready(self) -> bool:
        return len(self._buf) >= self.min_samples

    def expected(self, ts: float = 0.0) -> float | None:
        n = len(self._buf)
        return self._k + self._s / n if n else None

    def score_one(self, x: float, ts: float = 0.0) -> float:
        n = len(self._buf)
        if n < self.min_samples:
            return 0.0
        m = self._s / n
        var = max(self._ss / n - m * m, 0.0)
        mean = self._k + m
        scale = max(math.sqrt(var), self.min_scale, self.rel_scale * abs(mean))
        return abs(x - mean) / scale

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        buf = self._buf
        if not buf:
            self._k = x
        d = x - self._k
        self._s += d
        self._ss += d * d
        buf.append(x)
        if len(buf) > self.window:
            o = buf.popleft() - self._k
            self._s -= o
            self._ss -= o * o
        self._t += 1
        if self._t >= self.window:  # re-anchor and recompute: no drift
            k = self._k = buf[-1]
            self._s = math.fsum(v - k for v in buf)
            self._ss = math.fsum((v - k) * (v - k) for v in buf)
            self._t = 0
