"""scikit-learn IsolationForest on a rolling history, refitted on a schedule, scored in batches.

Each row is a shingle of the last ``lags`` values. The forest is fitted on the last
``history`` learnt rows once ``min_samples`` have been seen, then refitted every
``refit_every`` learnt rows. The score is ``-score_samples`` (the paper's anomaly score,
about 0.5 for normal rows, towards 1 for isolated ones).

Like any isolation forest it isolates rows in *sparse regions of the training range*; a
value beyond the range lands with the extreme training rows and scores about like them
(splits are drawn between the training min and max), so for plain out-of-range spikes
the statistical detectors are sharper.

Scoring one row at a time costs sklearn's per-call overhead (~1 ms), so the intended entry
point is :meth:`IForest.update_many`: it scores a micro-batch with one vectorised call
per refit period and is equal, value for value, to calling ``update`` in a loop.

State: the fitted forest is *not* part of the pickled state (tens of trees would weigh
hundreds of KB per snapshot). The row buffer keeps ``history + refit_every`` rows, enough
to refit exactly the same forest (same rows, same seed) after a restore, lazily, on the
first score; ``copy.deepcopy`` shares the fitted forest (it is never mutated, a refit
makes a new one). :func:`save` / :func:`load` write the whole detector, forest included,
with skops (no pickle on load: only the listed types are trusted).

Measured with ``python -m models.checks`` (defaults: 40 trees, history 1024, refit every
1024; batches of 1000, 20k readings): 40 us per reading amortised through ``update_many``
(one ~80 ms refit per 1024 readings included), 3-4 ms through ``update`` (sklearn's
per-call overhead); pickled state 25 KB (float32 rows), pickle 0.1 ms, deepcopy 0.03 ms
(the forest is shared). A refit after restore takes one fit (~80 ms), once.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import ClassVar

import numpy as np
import skops.io as sio
from sklearn.ensemble import IsolationForest

from models.base import BIG, Detector, ParamError, check

#: Types a saved detector file may contain besides skops' defaults.
TRUSTED = [
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
    "builtins.int",
    "builtins.float",
]


class IForest(Detector):
    """Isolation-forest anomaly score of a shingle of recent values.

    Parameters
    ----------
    history
        Number of most recent learnt rows each fit uses.
    refit_every
        Refit after this many new learnt rows.
    min_samples
        Warm-up: first fit after this many rows (the score is 0 before).
    lags
        Number of values per row (the current one and ``lags - 1`` past ones).
    n_estimators, max_samples
        Forest size and rows per tree (as in scikit-learn).
    seed
        ``random_state`` of every fit.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.sin(np.arange(3000) / 5.0)
    >>> d = IForest(n_estimators=20)
    >>> s = d.update_many(xs)
    >>> float(s[0]), bool(d.score_one(float(np.sin(600.0))) < d.score_one(4.0))
    (0.0, True)
    """

    __slots__ = (
        "history", "refit_every", "min_samples", "lags", "n_estimators", "max_samples",
        "seed", "_buf", "_n", "_since", "_fitted", "_recent", "_model",
    )  # fmt: skip
    name: ClassVar[str] = "iforest"

    def __init__(
        self,
        history: int = 1024,
        refit_every: int = 1024,
        min_samples: int = 256,
        lags: int = 3,
        n_estimators: int = 40,
        max_samples: int = 256,
        seed: int = 42,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("history", history, lo=16, hi=1_000_000, integer=True)
        check("refit_every", refit_every, lo=1, integer=True)
        check("min_samples", min_samples, lo=16, integer=True)
        if min_samples > history:
            raise ParamError(f"min_samples={min_samples!r} must be <= history={history!r}")
        check("lags", lags, lo=1, hi=64, integer=True)
        check("n_estimators", n_estimators, lo=1, hi=10_000, integer=True)
        check("max_samples", max_samples, lo=2, integer=True)
        check("seed", seed, lo=0, integer=True)
        self.history = int(history)
        self.refit_every = int(refit_every)
        self.min_samples = int(min_samples)
        self.lags = int(lags)
        self.n_estimators = int(n_estimators)
        self.max_samples = int(max_samples)
        self.seed = int(seed)
        self._buf = np.zeros((self.history + self.refit_every, self.lags), dtype=np.float32)
        self._n = 0  # rows ever learnt
        self._since = 0  # rows learnt since the last fit
        self._fitted = False
        self._recent: list[float] = []  # last lags - 1 observed values, oldest first
        self._model: IsolationForest | None = None

    @property
    def ready(self) -> bool:
        return self._fitted

    # -- rows and fitting --------------------------------------------------------
    def _rows(self, vals: list[float]) -> np.ndarray:
        """Feature rows (newest value first) for consecutive new values ``vals``."""
        k = self.lags - 1
        seq = self._recent + vals
        if len(self._recent) < k:
            seq = [seq[0]] * (k - len(self._recent)) + seq
        win = np.lib.stride_tricks.sliding_window_view(np.asarray(seq, dtype=np.float32), k + 1)
        return win[:, ::-1]

    def _push(self, vals: list[float]) -> None:
        k = self.lags - 1
        self._recent = (self._recent + vals)[-k:] if k else []

    def _fit_rows(self) -> np.ndarray:
        """The rows of the last fit, oldest first (still in the buffer by construction)."""
        end = self._n - self._since
        start = max(0, end - self.history)
        return self._buf[np.arange(start, end) % len(self._buf)]

    def _fit(self) -> None:
        rows = self._fit_rows()
        self._model = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(rows)),
            random_state=self.seed,
        ).fit(rows)

    @property
    def model(self) -> IsolationForest | None:
        """The fitted forest (refitted from the buffer after a restore), or None."""
        if self._fitted and self._model is None:
            self._fit()
        return self._model

    def _learn_row(self, row: np.ndarray) -> bool:
        """Store a row; refit when due. True when a (re)fit happened."""
        self._buf[self._n % len(self._buf)] = row
        self._n += 1
        self._since += 1
        if self._since >= (self.refit_every if self._fitted else self.min_samples):
            self._since = 0
            self._fitted = True
            self._fit()
            return True
        return False

    # -- protocol ----------------------------------------------------------------
    def score_one(self, x: float, ts: float = 0.0) -> float:
        if not self._fitted:
            return 0.0
        return float(-self.model.score_samples(self._rows([x])[-1:])[0])

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        self._learn_row(self._rows([x])[-1])
        self._push([x])

    def update(self, x: float, ts: float = 0.0) -> float:
        return float(self.update_many(np.array([x]))[0])

    def update_many(self, xs: np.ndarray, ts: np.ndarray | None = None) -> np.ndarray:
        xs = np.asarray(xs, dtype=float)
        out = np.zeros(len(xs))
        pos = np.flatnonzero(np.abs(xs) < BIG)  # NaN compares false too
        if not len(pos):
            return out
        vals = xs[pos].tolist()
        rows = self._rows(vals)
        self._push(vals)
        i, m = 0, len(vals)
        while i < m:
            if self._fitted:  # no refit can happen before `left` more rows are learnt
                left = self.refit_every - self._since
                chunk = -self.model.score_samples(rows[i : i + left])
            else:
                left = self.min_samples - self._since
                chunk = np.zeros(min(left, m - i))
            for k, s in enumerate(chunk.tolist()):
                out[pos[i + k]] = s
                if self.admit(s) and self._learn_row(rows[i + k]):
                    break  # refitted: score the rest with the new forest
            i += k + 1
        return out

    # -- state -------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_model"] = None  # refitted lazily, exactly, from the buffer
        return state

    def __deepcopy__(self, memo: dict) -> IForest:
        new = type(self).__new__(type(self))
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        new._model = self._model  # immutable once fitted: share it
        return new


def save(det: IForest, path: str | Path) -> None:
    """Write ``det`` (parameters, row buffer, fitted forest) to ``path`` with skops."""
    sio.dump(
        {
            "version": det.version,
            "params": det.params(),
            "buf": det._buf,
            "n": det._n,
            "since": det._since,
            "fitted": det._fitted,
            "recent": list(det._recent),
            "model": det.model,
        },
        path,
    )


def load(path: str | Path) -> IForest:
    """Read a detector written by :func:`save`; only known types are trusted.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> d = IForest(n_estimators=10, min_samples=64, refit_every=64)
    >>> _ = d.update_many(np.sin(np.arange(500) / 3.0))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save(d, tmp + "/d.skops")
    ...     e = load(tmp + "/d.skops")
    >>> e.score_one(0.5) == d.score_one(0.5)
    True
    """
    untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED)
    if untrusted:
        raise ValueError(f"{path}: refusing untrusted types {sorted(untrusted)}")
    obj = sio.load(path, trusted=TRUSTED)
    if not isinstance(obj, dict) or not {"params", "buf", "model"} <= set(obj):
        raise ValueError(f"{path}: not a saved IForest")
    if obj["version"] != IForest.version:
        raise ValueError(f"{path}: state version {obj['version']} != {IForest.version}")
    det = IForest(**obj["params"])
    det._buf = np.asarray(obj["buf"], dtype=np.float32)
    det._n, det._since, det._fitted = int(obj["n"]), int(obj["since"]), bool(obj["fitted"])
    det._recent = [float(v) for v in obj["recent"]]
    det._model = obj["model"]
    return det
