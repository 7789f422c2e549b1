"""Page-Hinkley change detection, two-sided, in units of the series' standard deviation.

Deviations from the running mean (since the last detected change) are standardised and
accumulated with a forgetting factor; the test statistic is the distance of the cumulative
sum from its historical minimum (increase) or maximum (decrease). When it exceeds
``threshold`` a change is declared and the detector restarts (a new warm-up) at the new
level, as river's ``drift.PageHinkley`` does. O(1), 7 floats.
"""

from __future__ import annotations

import math
from typing import ClassVar

from models.base import Detector, check


class PageHinkley(Detector):
    """Page-Hinkley test for a change in the mean, scored in sigmas.

    Parameters
    ----------
    delta
        Magnitude of changes to tolerate, in sigmas.
    threshold
        Detection threshold (lambda) in sigmas; reaching it resets the detector.
    alpha
        Forgetting factor of the cumulative sums, in (0, 1].
    min_samples
        Warm-up after each (re)start: the score is 0 until this many values were learnt.
    min_scale
        Floor on the standard deviation, absolute.
    rel_scale
        Floor on the standard deviation relative to ``|mean|``.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(3)
    >>> d = PageHinkley(delta=0.25, threshold=25.0)
    >>> before = [d.update(rng.gauss(5.0, 1.0)) for _ in range(300)]
    >>> after = [d.update(rng.gauss(7.0, 1.0)) for _ in range(50)]
    >>> max(before) < 25 <= max(after)
    True
    """

    __slots__ = (
        "delta", "threshold", "alpha", "min_samples", "min_scale", "rel_scale",
        "_n", "_m", "_m2", "_up", "_up_min", "_dn", "_dn_max",
    )  # fmt: skip
    name: ClassVar[str] = "page_hinkley"

    def __init__(
        self,
        delta: float = 0.25,
        threshold: float = 25.0,
        alpha: float = 0.9999,
        min_samples: int = 30,
        min_scale: float = 1e-6,
        rel_scale: float = 0.001,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("delta", delta, lo=0.0)
        check("threshold", threshold, lo=1e-9)
        check("alpha", alpha, lo=1e-9, hi=1.0)
        check("min_samples", min_samples, lo=2, integer=True)
        check("min_scale", min_scale, lo=0.0)
        check("rel_scale", rel_scale, lo=0.0)
        self.delta = float(delta)
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.min_samples = int(min_samples)
        self.min_scale = float(min_scale)
        self.rel_scale = float(rel_scale)
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._m = 0.0
        self._m2 = 0.0
        self._up = self._up_min = 0.0
        self._dn = self._dn_max = 0.0

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def expected(self, ts: float = 0.0) -> float | None:
        return self._m if self._n else None

    def _step(self, x: float) -> tuple[float, float, float, float, float, float]:
        """Welford and cumulative-sum update with ``x``: the new state and the statistic."""
        n = self._n + 1
        d = x - self._m
        m = self._m + d / n
        m2 = self._m2 + d * (x - m)
        sd = max(math.sqrt(m2 / n), self.min_scale, self.rel_scale * abs(m))
        dev = (x - m) / sd
        up = self.alpha * self._up + dev - self.delta
        dn = self.alpha * self._dn + dev + self.delta
        up_min = min(self._up_min, up)
        dn_max = max(self._dn_max, dn)
        return m, m2, up, up_min, dn, dn_max

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        _, _, up, up_min, dn, dn_max = self._step(x)
        return max(up - up_min, dn_max - dn)

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        m, m2, up, up_min, dn, dn_max = self._step(x)
        if self._n < self.min_samples:  # warm-up: learn the mean and scale only
            self._n += 1
            self._m, self._m2 = m, m2
            return
        if max(up - up_min, dn_max - dn) >= self.threshold:
            self._reset()
            return
        self._n += 1
        self._m, self._m2 = m, m2
        self._up, self._up_min, self._dn, self._dn_max = up, up_min, dn, dn_max
