"""ContextNovelty against a plain reference implementation, bit for bit.

The reference keeps the history in a deque and the counts in a dict keyed by context
tuples, and re-counts from the history at once whenever the range grows: the obvious
reading of the algorithm. The detector (dense counts, bijective context indices, scaled
integer history ring, re-count deferred until the counts are needed, numpy re-count for
long histories) must give exactly the same scores, through pickling too.
"""

from __future__ import annotations

import math
import pickle
from collections import deque

import numpy as np
import pytest

from models.novelty import ContextNovelty

LIVE = {"order": 3, "history": 300, "grids": 1, "tolerance": 0.5}


class Reference:
    """Straightforward ContextNovelty: same arithmetic, nothing clever."""

    def __init__(self, bins=8, order=6, power=2.0, margin=0.1, tolerance=0.0,
                 history=3000, grids=2, rest=30, base=0.75, min_samples=10, guard=None):
        self.bins, self.order, self.power, self.margin = bins, order, power, margin
        self.tolerance, self.grids, self.rest, self.base = tolerance, grids, rest, base
        self.min_samples, self.guard = min_samples, guard
        self.vals: deque[float] = deque(maxlen=history)
        self.lo = self.hi = 0.0
        self.n = self.since = 0
        self.counts: list[dict[tuple[int, ...], int]] = [{} for _ in range(grids)]
        self.ctx: list[list[int]] = [[] for _ in range(grids)]  # oldest first

    def _level(self, x: float, j: int) -> int:
        width = self.hi - self.lo
        step = width / (self.bins - 1) if width > 0 else 1.0
        return int((x - self.lo) / step + j / self.grids)

    def _contexts(self, j: int, b: int) -> list[tuple[int, ...]]:
        prev = self.ctx[j][::-1]  # newest first
        return [(b, *prev[:k]) for k in range(len(prev) + 1)]

    def _count(self, x: float) -> None:
        for j in range(self.grids):
            b = self._level(x, j)
            for c in self._contexts(j, b):
                self.counts[j][c] = self.counts[j].get(c, 0) + 1
            self.ctx[j] = (self.ctx[j] + [b])[-(self.order - 1):] if self.order > 1 else []

    def score(self, x: float) -> float:
        if x - x != 0.0 or not self.n:
            return 0.0
        if x < self.lo or x > self.hi:
            tol = self.tolerance * (self.hi - self.lo)
            r = 1.0 if tol <= 0.0 else min(1.0, max(self.lo - x, x - self.hi) / tol)
        else:
            r = 1.0
            for j in range(self.grids):
                ctxs = self._contexts(j, self._level(x, j))
                tot = 0.0
                for c in ctxs:
                    n = self.counts[j].get(c, 0)
                    tot += 1.0 if n == 0 else (1.0 + n) ** -self.power
                r = min(r, tot / len(ctxs))
        return r if self.n >= self.min_samples and self.since >= self.rest else 0.0

    def update(self, x: float) -> float:
        s = self.score(x)
        if x - x != 0.0 or (self.guard is not None and s >= self.guard):
            return s
        self.since = 0 if s >= self.base else self.since + 1
        if self.n == 0:
            self.lo = self.hi = x
        elif x < self.lo or x > self.hi:
            width = self.hi - self.lo
            if x < self.lo:
                self.lo = x - self.margin * width
            if x > self.hi:
                self.hi = x + self.margin * width
            self.counts = [{} for _ in range(self.grids)]
            self.ctx = [[] for _ in range(self.grids)]
            for u in self.vals:
                self._count(u)
        self.vals.append(x)
        self._count(x)
        self.n += 1
        return s


def series(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    if kind == "walk":  # keeps growing its range
        return np.cumsum(rng.normal(size=n))
    if kind == "city":  # daily cycle, 2 decimals, spikes, a level shift
        x = 20 + 5 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.5, n)
        x[rng.integers(0, n, n // 50)] += 15
        x[n // 2 :] += 4
        return np.round(x, 2)
    if kind == "mixed":  # decimals, then full doubles, big and negative values, bad values
        x = np.round(rng.normal(0, 300, n), 1)
        x[n // 3 :] = rng.normal(0, 1, n - n // 3) * 1e4
        x[rng.integers(0, n, 10)] = np.nan
        x[rng.integers(0, n, 5)] = np.inf
        x[rng.integers(0, n, 5)] = -np.inf
        return x
    if kind == "steps":  # flat stretches, then a new level
        return np.repeat(rng.integers(0, 5, n // 40 + 1).astype(float), 40)[:n]
    if kind == "zigzag":  # every other value a new extreme (low, high, ...), then noise
        x = rng.normal(size=n)
        x[1:40:2] = (-1.0) ** t[:20] * (t[:20] + 2) * 5
        return x
    if kind == "huge":
        return rng.normal(size=n) * 1e140  # large, but within models.base.BIG
    raise ValueError(kind)


def check_same(params: dict, xs: np.ndarray, cut: int | None = None) -> None:
    ref = Reference(**params)
    want = [ref.update(x) for x in xs.tolist()]
    d = ContextNovelty(**params)
    got = []
    for i, x in enumerate(xs.tolist()):
        if i == cut:
            d = pickle.loads(pickle.dumps(d, protocol=5))
        got.append(d.update(x))
    assert got == want  # exactly


@pytest.mark.parametrize("kind", ["walk", "city", "mixed", "steps", "zigzag", "huge"])
@pytest.mark.parametrize("params", [
    LIVE,
    {"rest": 0, "min_samples": 3},
    {**LIVE, "guard": 0.9, "rest": 0},
    {"bins": 5, "order": 4, "grids": 3, "history": 40, "tolerance": 1.0, "rest": 5},
    {"bins": 3, "order": 1, "history": 10, "power": 0.5, "margin": 0.0},
    {"bins": 40, "order": 3, "grids": 2, "history": 60},  # too many contexts: a dict
])
def test_scores_equal_the_reference(params, kind):
    xs = series(kind, 700, seed=len(kind))
    check_same(params, xs, cut=333)


@pytest.mark.parametrize("params", [{"rest": 0, "min_samples": 3}, {**LIVE, "order": 6}])
def test_range_growth_with_fewer_values_than_the_context(params):
    # a re-count with 4 values for 5 previous levels, then contexts of the lowest level
    xs = np.array([0, 10, 5, -10] + [-10.5, -10.5, -10.5, 2] * 50)
    check_same(params, xs)


def test_long_history_numpy_recount_and_ring_wrap():
    xs = series("city", 2500, seed=9)
    xs[1800] = 100.0  # range growth with a full, wrapped history ring
    check_same(LIVE, xs, cut=1900)
    check_same({"order": 5, "history": 500, "grids": 2}, xs, cut=1200)


def test_score_one_is_pure_and_learn_one_matches_update():
    xs = series("city", 600, seed=3)
    a, b = ContextNovelty(**LIVE), ContextNovelty(**LIVE)
    for x in xs.tolist():
        before = pickle.dumps(b)
        s = b.score_one(x)
        assert pickle.dumps(b) == before
        b.learn_one(x)
        assert a.update(x) == s
    assert pickle.dumps(a) == pickle.dumps(b)


def test_history_is_stored_exactly_and_compactly():
    d = ContextNovelty(**LIVE)
    for x in series("city", 400, seed=1).tolist():
        d.update(x)
    assert d._vals.typecode == "h" and d._dec == 2  # 21.37 -> 2137, 2 bytes
    assert len(d._vals) == 301  # the last range growth's value and 300 before it
    d.update(2000.01)  # beyond int16 at 2 decimals
    assert d._vals.typecode == "i"
    d.update(math.pi)  # not a short decimal: doubles from now on
    assert d._vals.typecode == "d" and d._values()[-1] == math.pi
    assert len(pickle.dumps(d, protocol=5)) < 4000
    ref = ContextNovelty(**LIVE)
    for x in series("city", 400, seed=1).tolist():
        ref.update(x)
    assert len(pickle.dumps(ref, protocol=5)) < 1200  # live default, full history


def test_state_version_is_checked():
    d = ContextNovelty(**LIVE)
    d.update_many(series("city", 50, seed=2))
    state = d.__getstate__()
    assert state["__version__"] == ContextNovelty.version
    state["__version__"] = 1
    with pytest.raises(ValueError, match="version 1"):
        ContextNovelty().__setstate__(state)


def test_extreme_and_subnormal_values_never_raise():
    import pickle

    from models.novelty import ContextNovelty

    d = ContextNovelty(order=3, history=300, grids=1, tolerance=0.5, min_samples=2, rest=0)
    for x in (1.0, 2.0, 1.5, 2.0, 1.0):
        d.update(x)
    before = pickle.dumps(d)
    assert d.update(1e308) == 0.0 and d.update(-1e308) == 0.0  # absurd: like NaN...
    assert pickle.dumps(d) == before  # ...never learnt
    assert 0.0 <= d.update(1.7) <= 1.0
    z = ContextNovelty(min_samples=2)
    for x in [0.0, 5e-324, 1e-323] * 10:  # a range narrower than one level can divide
        assert 0.0 <= z.update(x) <= 1.0


def test_dense_counts_are_16_bit_then_widen_without_changing_scores(monkeypatch):
    from models import novelty

    xs = [0.0, 1.0] + [0.5] * (novelty.WIDE + 5000)
    a = ContextNovelty(**LIVE)
    sa = [a.update(x) for x in xs[: novelty.WIDE - 10]]
    assert a._seen.typecode == "H"
    back = pickle.loads(pickle.dumps(a))  # a 16-bit state round-trips as 16-bit
    assert back._seen.typecode == "H" and back._seen == a._seen
    sa += [a.update(x) for x in xs[novelty.WIDE - 10:]]
    assert a._seen.typecode == "I" and max(a._seen) > 0xFFFF  # would overflow 16 bits
    assert pickle.loads(pickle.dumps(a))._seen == a._seen
    monkeypatch.setattr(novelty, "WIDE", 0)  # 32-bit counts from the start: same scores
    b = ContextNovelty(**LIVE)
    assert [b.update(x) for x in xs] == sa and b._seen.typecode == "I"
