"""EWMA control chart: a smoothed statistic compared with the baseline's control limits.

The chart statistic ``z = lam * x + (1 - lam) * z`` reacts to small sustained shifts that a
per-point z-score misses. Its baseline (mean and variance of the series) is itself an
exponentially weighted estimate with a slower rate ``alpha``, so the chart adapts to slow
drift. The score is ``|z - mean| / sigma_z`` with ``sigma_z = sigma * sqrt(lam / (2 - lam))``,
the asymptotic standard deviation of ``z``: the classic limit is ``L = 3``. O(1), 4 floats.
"""

from __future__ import annotations

import math
from typing import ClassVar

from models.base import Detector, check
from models.ew import ew_step


class EWMA(Detector):
    """EWMA control chart with an adaptive baseline.

    Parameters
    ----------
    lam
        Smoothing of the chart statistic, in (0, 1]; small values catch small shifts.
    alpha
        Adaptation rate of the baseline mean and variance, in (0, 1).
    min_samples
        Warm-up: the score is 0 until this many values have been learnt.
    min_scale
        Floor on the baseline standard deviation, absolute.
    rel_scale
        Floor on the baseline standard deviation relative to ``|mean|``.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(1)
    >>> d = EWMA(lam=0.2, alpha=0.01, min_samples=30)
    >>> for _ in range(300):
    ...     _ = d.update(rng.gauss(10.0, 1.0))
    >>> after_shift = [d.update(rng.gauss(12.0, 1.0)) for _ in range(20)]
    >>> max(after_shift) > 3
    True
    """

    __slots__ = ("lam", "alpha", "min_samples", "min_scale", "rel_scale", "_n", "_m", "_v", "_z")
    name: ClassVar[str] = "ewma"

    def __init__(
        self,
        lam: float = 0.2,
        alpha: float = 0.01,
        min_samples: int = 30,
        min_scale: float = 1e-6,
        rel_scale: float = 0.001,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("lam", lam, lo=1e-6, hi=1.0)
        check("alpha", alpha, lo=1e-9, hi=0.999)
        check("min_samples", min_samples, lo=2, integer=True)
        check("min_scale", min_scale, lo=0.0)
        check("rel_scale", rel_scale, lo=0.0)
        self.lam = float(lam)
        self.alpha = float(alpha)
        self.min_samples = int(min_samples)
        self.min_scale = float(min_scale)
        self.rel_scale = float(rel_scale)
        self._n = 0
        self._m = 0.0
        self._v = 0.0
        self._z = 0.0

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def expected(self, ts: float = 0.0) -> float | None:
        return self._m if self._n else None

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        lam = self.lam
        z = lam * x + (1.0 - lam) * self._z
        sd = max(math.sqrt(self._v), self.min_scale, self.rel_scale * abs(self._m))
        return abs(z - self._m) / (sd * math.sqrt(lam / (2.0 - lam)))

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        n = self._n = self._n + 1
        self._m, self._v = ew_step(self._m, self._v, x, n, self.alpha)
        self._z = x if n == 1 else self.lam * x + (1.0 - self.lam) * self._z
