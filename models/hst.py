"""Half-Space Trees over a shingle of recent values, with compact, shared state.

river's ``anomaly.HalfSpaceTrees`` keeps one Python object per tree node and its masses
inside it: 10 trees of height 8 pickle to 166 KB and deepcopy in 40 ms, which a per-epoch
snapshot of one model per sensor cannot afford. Here the random tree *structure* (split
feature and threshold per node) is built once by river's own ``make_padded_tree`` with
the same seed and shared, immutable, by every detector with the same parameters; each
detector owns only its node masses, two flat int lists in heap order. The scores are
river's, bit for bit, for the same seed and inputs (see the tests).

Features are the last ``lags`` values (the current one first), min-max scaled online (or
by fixed ``limits``), as river's ``MinMaxScaler | HalfSpaceTrees`` pipeline does.

Measured with ``python -m models.checks`` (defaults: n_trees=10, height=8, window_size=250,
lags=3; 20k readings, 2-core machine): update 20 us; pickled state 1.7 KB (2 x 5110
masses packed as uint16 then zlib'd; at most ~20 KB); pickle 0.35 ms, deepcopy 0.37 ms.
river's own ``MinMaxScaler | HalfSpaceTrees`` on the same stream: 44 us per update,
170 KB pickled, deepcopy 70 ms.
"""

from __future__ import annotations

import random
import zlib
from array import array
from collections import deque
from functools import lru_cache
from typing import ClassVar

from models.base import BIG, Detector, ParamError, check


@lru_cache(maxsize=64)
def structure(
    n_trees: int, height: int, n_features: int, seed: int | None
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Split features and thresholds of every node, trees concatenated, heap order.

    Built exactly as river's ``HalfSpaceTrees.learn_one`` builds its trees on the first
    call (same RNG draws), with every feature in ``[0, 1]``.
    """
    from river.tree.padded import make_padded_tree

    rng = random.Random(seed)
    n_nodes = 2 ** (height + 1) - 1
    feat = [0] * (n_trees * n_nodes)
    thr = [0.0] * (n_trees * n_nodes)
    for t in range(n_trees):
        root = make_padded_tree(
            limits={i: (0.0, 1.0) for i in range(n_features)},
            height=height,
            padding=0.15,
            rng=rng,
            r_mass=0,
            l_mass=0,
        )
        todo = [(root, 0)]
        while todo:
            node, i = todo.pop()
            if i < 2**height - 1:  # a branch
                feat[t * n_nodes + i] = node.feature
                thr[t * n_nodes + i] = node.threshold
                todo.append((node.children[0], 2 * i + 1))
                todo.append((node.children[1], 2 * i + 2))
    return tuple(feat), tuple(thr)


class HST(Detector):
    """Half-Space Trees anomaly score (0-1, higher is more anomalous) of recent values.

    Parameters
    ----------
    n_trees
        Number of trees.
    height
        Height of each tree (``2 ** (height + 1) - 1`` nodes).
    window_size
        Reference window: masses pivot every ``window_size`` values; the score is 0
        during the first window.
    lags
        Number of values in the feature vector (the current one and ``lags - 1`` past ones).
    limits
        ``(lo, hi)`` range of the values; None scales online by the min and max seen.
    seed
        Random seed of the tree structure.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> d = HST(n_trees=10, height=6, window_size=50, lags=1, seed=42)
    >>> for i in range(200):
    ...     _ = d.update(10.0 + (i % 10) * 0.1)
    >>> d.score_one(10.5) < d.score_one(19.0)
    True
    """

    __slots__ = (
        "n_trees", "height", "window_size", "lags", "limits", "seed",
        "_lo", "_hi", "_hist", "_l", "_r", "_count", "_first",
    )  # fmt: skip
    name: ClassVar[str] = "hst"

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        lags: int = 3,
        limits: tuple[float, float] | None = None,
        seed: int | None = 42,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("n_trees", n_trees, lo=1, hi=1000, integer=True)
        check("height", height, lo=1, hi=16, integer=True)
        check("window_size", window_size, lo=2, hi=65535, integer=True)
        check("lags", lags, lo=1, hi=64, integer=True)
        if limits is not None:
            if len(limits) != 2:
                raise ParamError(f"limits={limits!r} must be a (lo, hi) pair")
            check("limits", limits[0])
            check("limits", limits[1])
            if not limits[0] < limits[1]:
                raise ParamError(f"limits={limits!r} must have lo < hi")
            limits = (float(limits[0]), float(limits[1]))
        if seed is not None:
            check("seed", seed, integer=True)
        self.n_trees = int(n_trees)
        self.height = int(height)
        self.window_size = int(window_size)
        self.lags = int(lags)
        self.limits = limits
        self.seed = seed
        self._lo = limits[0] if limits else None
        self._hi = limits[1] if limits else None
        self._hist: deque[float] = deque(maxlen=self.lags - 1)  # past values, newest first
        n = self.n_trees * (2 ** (self.height + 1) - 1)
        self._l = [0] * n
        self._r = [0] * n
        self._count = 0
        self._first = True

    @property
    def ready(self) -> bool:
        return not self._first

    def _features(self, x: float) -> list[float] | None:
        lo, hi = self._lo, self._hi
        if self.limits is None:  # MinMaxScaler: scale with x already seen, as river does
            lo = x if lo is None or x < lo else lo
            hi = x if hi is None or x > hi else hi
        span = hi - lo
        vals = [x, *self._hist]
        if len(vals) < self.lags:
            vals += [vals[-1]] * (self.lags - len(vals))
        return [(v - lo) / span if span > 0 else 0.0 for v in vals]

    def _path(self, f: list[float]) -> list[int]:
        feat, thr = structure(self.n_trees, self.height, self.lags, self.seed)
        n_nodes = 2 ** (self.height + 1) - 1
        out = []
        add = out.append
        for base in range(0, self.n_trees * n_nodes, n_nodes):
            i = 0
            for _ in range(self.height):
                j = base + i
                add(j)
                i = 2 * i + 1 if f[feat[j]] < thr[j] else 2 * i + 2
            add(base + i)
        return out

    def _score(self, path: list[int]) -> float:
        r = self._r
        limit = 0.1 * self.window_size
        h1 = self.height + 1
        total = 0.0
        for k in range(0, len(path), h1):
            p = 1
            for j in path[k : k + h1]:
                m = r[j]
                total += m * p
                if m < limit:
                    break
                p <<= 1
        n_nodes = 2**h1 - 1
        return 1.0 - total / (self.n_trees * self.window_size * n_nodes)

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._first:
            return 0.0
        return self._score(self._path(self._features(x)))

    def _learn_path(self, x: float, path: list[int]) -> None:
        lv = self._l
        for j in path:
            lv[j] += 1
        if self.limits is None:
            self._lo = x if self._lo is None or x < self._lo else self._lo
            self._hi = x if self._hi is None or x > self._hi else self._hi
        if self.lags > 1:
            self._hist.appendleft(x)
        self._count += 1
        if self._count == self.window_size:
            self._r = lv
            self._l = [0] * len(lv)
            self._count = 0
            self._first = False

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        self._learn_path(x, self._path(self._features(x)))

    def update(self, x: float, ts: float = 0.0) -> float:
        if not -BIG < x < BIG:
            return 0.0
        path = self._path(self._features(x))  # one walk serves both score and learn
        s = 0.0 if self._first else self._score(path)
        if self.admit(s):
            self._learn_path(x, path)
        return s

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        for k in ("_l", "_r"):
            state[k] = zlib.compress(array("H", state[k]).tobytes(), 1)  # masses <= 65535
        state["_hist"] = list(self._hist)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        for k in ("_l", "_r"):
            state[k] = array("H", zlib.decompress(state[k])).tolist()
        state["_hist"] = deque(state["_hist"], maxlen=state["lags"] - 1)
        super().__setstate__(state)
