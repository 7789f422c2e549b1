"""Rate of change: how unusual the step from the previous value is.

The rate is ``x - prev`` (or ``(x - prev) / dt`` per second with ``per_second=True``); it is
scored against an exponentially weighted mean and variance of past rates, so a sensor that
jumps (a leak, a frozen-then-released counter, a tampered cabinet) stands out even when
the level itself is plausible. The scale floor is relative to the series' typical level.
O(1), 6 floats.
"""

from __future__ import annotations

import math
from typing import ClassVar

from models.base import Detector, check
from models.ew import ew_step


class Rate(Detector):
    """z-score of the rate of change against its own recent behaviour.

    Parameters
    ----------
    alpha
        Adaptation rate of the mean and variance of the rate, in (0, 1).
    min_samples
        Warm-up: the score is 0 until this many rates have been learnt.
    per_second
        Divide the step by the time since the previous reading (``ts`` in seconds).
    min_scale
        Floor on the rate's standard deviation, absolute.
    rel_scale
        Floor on the rate's standard deviation relative to the typical ``|value|``.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> d = Rate(min_samples=10)
    >>> for i in range(100):
    ...     _ = d.update(100.0 + 0.5 * (i % 2))
    >>> d.score_one(100.5) < 3, d.score_one(140.0) > 10
    (True, True)
    """

    __slots__ = (
        "alpha", "min_samples", "per_second", "min_scale", "rel_scale",
        "_n", "_prev", "_pts", "_m", "_v", "_lvl",
    )  # fmt: skip
    name: ClassVar[str] = "rate"

    def __init__(
        self,
        alpha: float = 0.02,
        min_samples: int = 30,
        per_second: bool = False,
        min_scale: float = 1e-6,
        rel_scale: float = 0.001,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("alpha", alpha, lo=1e-9, hi=0.999)
        check("min_samples", min_samples, lo=2, integer=True)
        check("min_scale", min_scale, lo=0.0)
        check("rel_scale", rel_scale, lo=0.0)
        self.alpha = float(alpha)
        self.min_samples = int(min_samples)
        self.per_second = bool(per_second)
        self.min_scale = float(min_scale)
        self.rel_scale = float(rel_scale)
        self._n = 0  # rates learnt
        self._prev: float | None = None
        self._pts = 0.0
        self._m = 0.0
        self._v = 0.0
        self._lvl = 0.0  # EW mean of |x|: the level the scale floor is relative to

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def _rate(self, x: float, ts: float) -> float | None:
        if self._prev is None:
            return None
        if not self.per_second:
            return x - self._prev
        dt = ts - self._pts
        return (x - self._prev) / dt if dt > 0 else None  # duplicate or out-of-order ts

    def expected(self, ts: float = 0.0) -> float | None:
        return None if self._prev is None else self._prev + (0.0 if self.per_second else self._m)

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        r = self._rate(x, ts)
        if r is None:
            return 0.0
        sd = max(math.sqrt(self._v), self.min_scale, self.rel_scale * self._lvl)
        return abs(r - self._m) / sd

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        r = self._rate(x, ts)
        if r is not None:
            n = self._n = self._n + 1
            self._m, self._v = ew_step(self._m, self._v, r, n, self.alpha)
            self._lvl += max(self.alpha, 1.0 / n) * (abs(x) - self._lvl)
        elif self._prev is None:
            self._lvl = abs(x)
        self._prev, self._pts = x, ts
