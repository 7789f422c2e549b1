"""Two-sided CUSUM change detection on standardised values.

Each value is standardised against an exponentially weighted baseline (mean, variance);
the upper and lower cumulative sums ``S+ = max(0, S+ + z - k)`` and
``S- = max(0, S- - z - k)`` grow while the series sits more than ``k`` sigmas away from
the baseline. The score is ``max(S+, S-)`` (in sigmas); when it reaches ``h`` the sums are
reset after learning, so a lasting shift fires again every few readings until the
baseline has absorbed it. O(1), 5 floats.
"""

from __future__ import annotations

import math
from typing import ClassVar

from models.base import Detector, check
from models.ew import ew_step


class CUSUM(Detector):
    """Two-sided tabular CUSUM with an adaptive baseline.

    Parameters
    ----------
    k
        Slack (allowance) in baseline sigmas: drifts smaller than ``k`` are ignored.
    h
        Decision interval in sigmas; the sums reset when the score reaches it.
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
    >>> rng = random.Random(2)
    >>> d = CUSUM(k=0.5, h=10.0)
    >>> before = [d.update(rng.gauss(0.0, 1.0)) for _ in range(300)]
    >>> after = [d.update(rng.gauss(2.0, 1.0)) for _ in range(30)]
    >>> max(before[30:]) < 10 <= max(after)
    True
    """

    __slots__ = (
        "k", "h", "alpha", "min_samples", "min_scale", "rel_scale",
        "_n", "_m", "_v", "_sp", "_sn",
    )  # fmt: skip
    name: ClassVar[str] = "cusum"

    def __init__(
        self,
        k: float = 0.5,
        h: float = 10.0,
        alpha: float = 0.01,
        min_samples: int = 30,
        min_scale: float = 1e-6,
        rel_scale: float = 0.001,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("k", k, lo=0.0)
        check("h", h, lo=1e-9)
        check("alpha", alpha, lo=1e-9, hi=0.999)
        check("min_samples", min_samples, lo=2, integer=True)
        check("min_scale", min_scale, lo=0.0)
        check("rel_scale", rel_scale, lo=0.0)
        self.k = float(k)
        self.h = float(h)
        self.alpha = float(alpha)
        self.min_samples = int(min_samples)
        self.min_scale = float(min_scale)
        self.rel_scale = float(rel_scale)
        self._n = 0
        self._m = 0.0
        self._v = 0.0
        self._sp = 0.0
        self._sn = 0.0

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def expected(self, ts: float = 0.0) -> float | None:
        return self._m if self._n else None

    def _sums(self, x: float) -> tuple[float, float]:
        sd = max(math.sqrt(self._v), self.min_scale, self.rel_scale * abs(self._m))
        z = (x - self._m) / sd
        return max(0.0, self._sp + z - self.k), max(0.0, self._sn - z - self.k)

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        sp, sn = self._sums(x)
        return max(sp, sn)

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        if self._n >= self.min_samples:
            sp, sn = self._sums(x)
            if max(sp, sn) >= self.h:
                sp = sn = 0.0
            self._sp, self._sn = sp, sn
        n = self._n = self._n + 1
        self._m, self._v = ew_step(self._m, self._v, x, n, self.alpha)
