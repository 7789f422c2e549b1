"""Score calibration: any detector's raw score -> a comparable 0-1 anomaly likelihood.

Raw scores live on each detector's own scale (sigmas, HST masses, forest path lengths),
so one threshold cannot fit them all. :class:`Likelihood` wraps a detector and reports how
unusual its *recent* raw scores are, as Numenta's anomaly likelihood does for NAB: the
short-term average of the last ``short`` raw scores is compared with the long-run
distribution of such averages (exponentially weighted mean and variance, horizon about
``1 / alpha`` readings) through the Gaussian tail probability ``Q((avg - mean) / std)``.

Two 0-1 scales:

- ``log=True`` (default): ``x / (x + 5)`` with ``x = -log10 Q``. 0.5 is a 1e-5 tail, as on
  NAB's log-likelihood scale, 0.67 a 1e-10 tail, 0.86 a 1e-30 tail. Unlike NAB's
  ``log(1.0000000001 - L) / log(1e-10)`` it never saturates, which matters: raw scores
  are heavier-tailed than Gaussian, so useful thresholds sit far out (NAB corpus, the
  best one-threshold-per-corpus is around 0.65-0.75, tails of 1e-9 to 1e-15), and a
  scale that ties everything beyond 1e-10 at 1.0 cannot tell those apart.
- ``log=False``: the likelihood ``1 - Q`` itself (0.5 ordinary, 0.9999 a one-in-ten-
  thousand average); it reaches exactly 1.0 beyond z of about 8.3.

Measured over the NAB corpus (benchmarks.nab_score, standard profile, one threshold for
the corpus): robust_z wrapped with the defaults 34.9, with ``short=3`` 28.3 and with
NAB's saturating log scale 21.5; ewma 42.4; zscore 38.7.

Leading exact-zero raw scores (the wrapped detector's warm-up) are not learnt, and the
likelihood is 0 until ``min_samples`` raw scores have been: no alert during warm-up.
O(1) per reading: 4 floats and a deque of ``short - 1`` scores.
"""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

import numpy as np

from models.base import BIG, Detector, ParamError, check
from models.ew import ew_step

_LOG10_E = math.log10(math.e)


def neg_log10_tail(z: float) -> float:
    """``-log10 Q(z)`` of the Gaussian upper tail, finite and increasing for every z.

    Beyond z = 30 (where erfc nears underflow) the asymptotic expansion is used.

    Examples
    --------
    >>> round(neg_log10_tail(0.0), 3), round(neg_log10_tail(4.2649), 2)
    (0.301, 5.0)
    >>> neg_log10_tail(29.9) < neg_log10_tail(30.1) < neg_log10_tail(1e6) < math.inf
    True
    """
    if z < 30.0:
        return -math.log10(0.5 * math.erfc(z / math.sqrt(2.0)))
    return (z * z / 2.0 + math.log(z * math.sqrt(2.0 * math.pi))) * _LOG10_E


class Likelihood(Detector):
    """NAB-style anomaly likelihood of a wrapped detector's raw scores.

    Parameters
    ----------
    detector
        The detector whose raw scores are calibrated (it is owned and updated by this one).
    short
        Number of most recent raw scores averaged (NAB uses 10; 1 keeps spikes sharp).
    alpha
        Adaptation rate of the distribution of averages (NAB: a window of 8640).
    min_samples
        Warm-up: likelihood 0 until this many raw scores have been learnt.
    min_std
        Floor on the standard deviation of averages, absolute.
    rel_std
        Floor on that standard deviation relative to ``|mean|``.
    two_sided
        Also report unusually *low* averages (NAB's original behaviour).
    log
        Report the non-saturating log scale (see the module) instead of ``1 - Q``.
    guard
        Values whose likelihood is at or above this are learnt neither by the wrapped
        detector nor by the score distribution.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> import random
    >>> from models.robust_z import RobustZ
    >>> rng = random.Random(0)
    >>> d = Likelihood(RobustZ())
    >>> normal = [d.update(rng.gauss(0.0, 1.0)) for _ in range(1000)]
    >>> max(normal[200:]) < 0.6 < 0.8 < d.score_one(8.0) < d.score_one(20.0) < 1
    True
    >>> p = Likelihood(RobustZ(), log=False)
    >>> _ = [p.update(rng.gauss(0.0, 1.0)) for _ in range(1000)]
    >>> p.score_one(0.0) < 0.5, p.score_one(8.0) > 0.9999
    (True, True)
    """

    __slots__ = (
        "detector", "short", "alpha", "min_samples", "min_std", "rel_std", "two_sided",
        "log", "_recent", "_sum", "_n", "_m", "_v",
    )  # fmt: skip
    name: ClassVar[str] = "likelihood"

    def __init__(
        self,
        detector: Detector,
        short: int = 1,
        alpha: float = 0.001,
        min_samples: int = 100,
        min_std: float = 1e-4,
        rel_std: float = 0.01,
        two_sided: bool = False,
        log: bool = True,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        if not isinstance(detector, Detector):
            raise ParamError(f"detector={detector!r} must be a Detector")
        check("short", short, lo=1, hi=10_000, integer=True)
        check("alpha", alpha, lo=1e-9, hi=0.999)
        check("min_samples", min_samples, lo=2, integer=True)
        check("min_std", min_std, lo=1e-12)
        check("rel_std", rel_std, lo=0.0)
        if guard is not None:
            check("guard", guard, lo=0.0, hi=1.0)
        self.detector = detector
        self.short = int(short)
        self.alpha = float(alpha)
        self.min_samples = int(min_samples)
        self.min_std = float(min_std)
        self.rel_std = float(rel_std)
        self.two_sided = bool(two_sided)
        self.log = bool(log)
        self._recent: deque[float] = deque(maxlen=self.short - 1)
        self._sum = 0.0  # sum of _recent
        self._n = 0
        self._m = 0.0
        self._v = 0.0

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def expected(self, ts: float = 0.0) -> float | None:
        return self.detector.expected(ts)

    def likelihood(self, raw: float) -> float:
        """The likelihood (or its log form) of a new raw score, without learning it."""
        if self._n < self.min_samples or raw != raw:
            return 0.0
        avg = (self._sum + raw) / (len(self._recent) + 1)
        sd = max(math.sqrt(self._v), self.min_std, self.rel_std * abs(self._m))
        z = (avg - self._m) / sd
        if self.two_sided:
            z = abs(z)
        if not self.log:
            return 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
        x = neg_log10_tail(z)
        return x / (x + 5.0)

    def _learn_raw(self, raw: float) -> None:
        if (self._n == 0 and raw == 0.0) or raw != raw or raw in (math.inf, -math.inf):
            return  # the wrapped detector's warm-up, or a broken score
        rec = self._recent
        avg = (self._sum + raw) / (len(rec) + 1)
        if self.short > 1:
            if len(rec) == rec.maxlen:
                self._sum -= rec[0]
            rec.append(raw)
            self._sum += raw
            if self._n % 1000 == 0:
                self._sum = math.fsum(rec)  # no drift
        n = self._n = self._n + 1
        self._m, self._v = ew_step(self._m, self._v, avg, n, self.alpha)

    def score_one(self, x: float, ts: float = 0.0) -> float:
        return self.likelihood(self.detector.score_one(x, ts))

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        raw = self.detector.score_one(x, ts)
        self._learn_inner(x, ts, raw)
        self._learn_raw(raw)

    def _learn_inner(self, x: float, ts: float, raw: float) -> None:
        if self.detector.admit(raw):
            self.detector.learn_one(x, ts)

    def update(self, x: float, ts: float = 0.0) -> float:
        if not -BIG < x < BIG:
            return 0.0
        if self.guard is None:
            raw = self.detector.update(x, ts)
            s = self.likelihood(raw)
        else:
            raw = self.detector.score_one(x, ts)
            s = self.likelihood(raw)
            if not self.admit(s):
                return s
            self._learn_inner(x, ts, raw)
        self._learn_raw(raw)
        return s

    def update_many(self, xs: np.ndarray, ts: np.ndarray | None = None) -> np.ndarray:
        if self.guard is not None:
            return super().update_many(xs, ts)
        xs = np.asarray(xs, dtype=float)
        raws = self.detector.update_many(xs, ts)  # the wrapped detector's fast path
        out = np.zeros(len(xs))
        lik, learn = self.likelihood, self._learn_raw
        for i, (x, raw) in enumerate(zip(xs.tolist(), raws.tolist(), strict=True)):
            if -BIG < x < BIG:
                out[i] = lik(raw)
                learn(raw)
        return out

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_recent"] = list(self._recent)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state["_recent"] = deque(state["_recent"], maxlen=state["short"] - 1)
        super().__setstate__(state)
