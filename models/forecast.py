"""Forecaster-residual detector: river's SNARIMAX predicts each value, the surprise is scored.

The series is standardised by a slow exponentially weighted mean and variance (so the SGD
regressor inside SNARIMAX sees values of order 1 whatever the unit), SNARIMAX forecasts
one step ahead, and the score is the absolute residual over the residuals' recent RMS:
``|x' - forecast| / rms``. A spike, a broken pattern or a sudden level shift all give a
large residual; a slow trend does not. The river model is kept as is (its state is a few
lag deques and the regressor's weights: about 2 KB pickled).

Measured with ``python -m models.checks`` (defaults: p=4, q=1; 20k readings): update
21-26 us; pickled state 1.8 KB; pickle 0.2 ms, deepcopy 0.2 ms.
"""

from __future__ import annotations

import math
from typing import ClassVar

from river import linear_model, optim, preprocessing, time_series

from models.base import Detector, check
from models.ew import ew_step


class Forecast(Detector):
    """Standardised one-step-ahead SNARIMAX residual.

    Parameters
    ----------
    p, d, q
        SNARIMAX autoregressive order, differencing order and moving-average order.
    m, sp, sq
        Season length and seasonal AR / MA orders (``m=1`` for none).
    lr
        SGD learning rate of the linear regressor.
    alpha
        Adaptation rate of the residual RMS.
    alpha_level
        Adaptation rate of the standardisation of the input (slow).
    min_samples
        Warm-up: the score is 0 until this many values have been learnt.
    min_scale
        Floor on the residual RMS, in standardised units.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> import math
    >>> d = Forecast()
    >>> for i in range(1000):
    ...     _ = d.update(10.0 + math.sin(i / 4.0))
    >>> d.score_one(10.0 + math.sin(1000 / 4.0)) < 3 < d.score_one(14.0)
    True
    """

    __slots__ = (
        "p", "d", "q", "m", "sp", "sq", "lr", "alpha", "alpha_level", "min_samples",
        "min_scale", "_n", "_lm", "_lv", "_ms", "_model",
    )  # fmt: skip
    name: ClassVar[str] = "forecast"

    def __init__(
        self,
        p: int = 4,
        d: int = 0,
        q: int = 1,
        m: int = 1,
        sp: int = 0,
        sq: int = 0,
        lr: float = 0.02,
        alpha: float = 0.02,
        alpha_level: float = 0.001,
        min_samples: int = 50,
        min_scale: float = 1e-3,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("p", p, lo=0, hi=64, integer=True)
        check("d", d, lo=0, hi=2, integer=True)
        check("q", q, lo=0, hi=64, integer=True)
        check("m", m, lo=1, hi=10_000, integer=True)
        check("sp", sp, lo=0, hi=8, integer=True)
        check("sq", sq, lo=0, hi=8, integer=True)
        check("lr", lr, lo=1e-9, hi=1.0)
        check("alpha", alpha, lo=1e-9, hi=0.999)
        check("alpha_level", alpha_level, lo=1e-9, hi=0.999)
        check("min_samples", min_samples, lo=2, integer=True)
        check("min_scale", min_scale, lo=1e-12)
        self.p, self.d, self.q = int(p), int(d), int(q)
        self.m, self.sp, self.sq = int(m), int(sp), int(sq)
        self.lr = float(lr)
        self.alpha = float(alpha)
        self.alpha_level = float(alpha_level)
        self.min_samples = int(min_samples)
        self.min_scale = float(min_scale)
        self._n = 0
        self._lm = 0.0  # level mean and variance: the standardisation
        self._lv = 0.0
        self._ms = 0.0  # mean squared residual
        reg = preprocessing.StandardScaler() | linear_model.LinearRegression(
            optimizer=optim.SGD(self.lr), intercept_lr=self.lr
        )
        self._model = time_series.SNARIMAX(
            p=self.p, d=self.d, q=self.q, m=self.m, sp=self.sp, sq=self.sq, regressor=reg
        )

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def _std(self, x: float) -> float:
        sd = math.sqrt(self._lv) or 1.0
        return max(-50.0, min(50.0, (x - self._lm) / sd))

    def _predict(self) -> float:
        y = self._model.forecast(horizon=1)[0]
        return y if y is not None and math.isfinite(y) else 0.0

    def expected(self, ts: float = 0.0) -> float | None:
        if not self._n:
            return None
        return self._lm + self._predict() * (math.sqrt(self._lv) or 1.0)

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        r = self._std(x) - self._predict()
        return abs(r) / max(math.sqrt(self._ms), self.min_scale)

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        y = self._std(x)
        r = y - self._predict()
        n = self._n = self._n + 1
        a = max(self.alpha, 1.0 / n)
        self._ms += a * (min(r * r, 1e6) - self._ms)
        self._model.learn_one(y)
        self._lm, self._lv = ew_step(self._lm, self._lv, x, n, self.alpha_level)
