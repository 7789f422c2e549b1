"""One-class SVM (river, SGD) on random Fourier features of recent values.

river's ``anomaly.OneClassSVM`` is linear; following its documentation the values are
standardised and mapped through random Fourier features (an RBF kernel approximation, as
``feature_extraction.RBFSampler`` does) before it. The random projection is drawn once
per (lags, n_components, gamma, seed) and shared, immutable, by every detector, so a
detector's state is only the standardisation (3 floats), the last ``lags - 1`` values and
the river model's ``n_components`` weights.

The score is ``intercept - w . z``: the signed distance outside the learnt support, higher
is more anomalous (it can be negative inside the support).

Measured with ``python -m models.checks`` (defaults: lags=3, n_components=32; 20k
readings): update 27 us; pickled state 1.1 KB; pickle 0.12 ms, deepcopy 0.1 ms.
"""

from __future__ import annotations

import math
from collections import deque
from functools import lru_cache
from typing import ClassVar

import numpy as np
from river import anomaly

from models.base import Detector, check
from models.ew import ew_step


@lru_cache(maxsize=64)
def projection(lags: int, n_components: int, gamma: float, seed: int) -> tuple[np.ndarray, ...]:
    """Random Fourier weights ``W`` (n_components x lags) and phases ``b`` for an RBF kernel."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, math.sqrt(2.0 * gamma), size=(n_components, lags))
    b = rng.uniform(0.0, 2.0 * math.pi, size=n_components)
    w.flags.writeable = False
    b.flags.writeable = False
    return w, b


class OCSVM(Detector):
    """Online one-class SVM score of a shingle of recent values.

    Parameters
    ----------
    nu
        Expected fraction of anomalies (river's ``nu``), in (0, 1).
    lags
        Number of values in the feature vector (the current one and ``lags - 1`` past ones).
    n_components
        Number of random Fourier features.
    gamma
        RBF kernel width, on standardised values.
    lr
        SGD learning rate of the SVM weights.
    alpha
        Adaptation rate of the standardisation (EW mean and variance).
    min_samples
        Warm-up: the score is 0 until this many values have been learnt.
    seed
        Seed of the random projection.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> import math
    >>> d = OCSVM(seed=1)
    >>> for i in range(2000):
    ...     _ = d.update(math.sin(i / 5.0))
    >>> d.score_one(math.sin(2000 / 5.0)) < d.score_one(6.0)
    True
    """

    __slots__ = (
        "nu", "lags", "n_components", "gamma", "lr", "alpha", "min_samples", "seed",
        "_n", "_m", "_v", "_hist", "_svm",
    )  # fmt: skip
    name: ClassVar[str] = "ocsvm"

    def __init__(
        self,
        nu: float = 0.1,
        lags: int = 3,
        n_components: int = 32,
        gamma: float = 0.5,
        lr: float = 0.05,
        alpha: float = 0.005,
        min_samples: int = 100,
        seed: int = 42,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("nu", nu, lo=1e-6, hi=0.999)
        check("lags", lags, lo=1, hi=64, integer=True)
        check("n_components", n_components, lo=1, hi=4096, integer=True)
        check("gamma", gamma, lo=1e-9)
        check("lr", lr, lo=1e-9, hi=10.0)
        check("alpha", alpha, lo=1e-9, hi=0.999)
        check("min_samples", min_samples, lo=2, integer=True)
        check("seed", seed, integer=True)
        self.nu = float(nu)
        self.lags = int(lags)
        self.n_components = int(n_components)
        self.gamma = float(gamma)
        self.lr = float(lr)
        self.alpha = float(alpha)
        self.min_samples = int(min_samples)
        self.seed = int(seed)
        self._n = 0
        self._m = 0.0
        self._v = 0.0
        self._hist: deque[float] = deque(maxlen=self.lags - 1)
        from river import optim

        self._svm = anomaly.OneClassSVM(nu=self.nu, optimizer=optim.SGD(self.lr))

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def _features(self, x: float) -> dict[int, float]:
        sd = math.sqrt(self._v) or 1.0
        vals = [x, *self._hist]
        if len(vals) < self.lags:
            vals += [vals[-1]] * (self.lags - len(vals))
        f = np.clip((np.array(vals) - self._m) / sd, -10.0, 10.0)
        w, b = projection(self.lags, self.n_components, self.gamma, self.seed)
        z = np.cos(w @ f + b) * math.sqrt(2.0 / self.n_components)
        return dict(enumerate(z.tolist()))

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        return -self._svm.score_one(self._features(x))

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        self._svm.learn_one(self._features(x))
        n = self._n = self._n + 1
        self._m, self._v = ew_step(self._m, self._v, x, n, self.alpha)
        if self.lags > 1:
            self._hist.appendleft(x)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_hist"] = list(self._hist)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state["_hist"] = deque(state["_hist"], maxlen=state["lags"] - 1)
        super().__setstate__(state)
