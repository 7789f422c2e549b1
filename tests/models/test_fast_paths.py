"""The fused ``update`` fast paths give exactly (bit for bit) the scores of the generic
protocol (``score_one`` then ``learn_one`` with the guard) and of simple list-based
reference implementations, on awkward data: spikes, constant runs, zeros, NaN/inf, DST
changes and public holidays, guard and patience."""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from models.base import Detector
from models.ensemble import Ensemble
from models.ew import ew_step
from models.exact import decode
from models.flatline import Flatline
from models.mad import MAD
from models.robust_z import RobustZ
from models.seasonal import Seasonal, count_cap, slot_of_hour

PARIS = ZoneInfo("Europe/Paris")


def hard_series(n: int, seed: int) -> np.ndarray:
    """Rounded noise with spikes, a stuck run, a zero run, a level shift and NaN/inf."""
    rng = np.random.default_rng(seed)
    xs = np.round(rng.normal(20.0, 2.0, n), 1)
    xs[rng.integers(0, n, n // 40)] += rng.choice([-30.0, 30.0, 300.0], n // 40)
    xs[n // 5 : n // 5 + 40] = 21.5
    xs[n // 3 : n // 3 + 60] = 0.0
    xs[n // 2 :] += 15.0
    xs[rng.integers(0, n, n // 50)] = np.nan
    xs[rng.integers(0, n, 5)] = np.inf
    xs[rng.integers(0, n, 5)] = -np.inf
    return xs


def times(start: datetime, n: int, step: float) -> np.ndarray:
    return start.timestamp() + step * np.arange(n)


#: spring and autumn DST changes, 14 July, 1 and 11 November, Christmas and St Stephen's
#: Day (a holiday in Moselle only), Good Friday 2027 (Moselle): hourly and 10-minute steps
SPANS = [
    times(datetime(2026, 3, 20, tzinfo=PARIS), 24 * 21, 3600.0),
    times(datetime(2026, 7, 6, tzinfo=PARIS), 6 * 24 * 12, 600.0),
    times(datetime(2026, 10, 20, tzinfo=PARIS), 24 * 30, 3600.0),
    times(datetime(2026, 12, 20, tzinfo=PARIS), 24 * 14, 3600.0),
    times(datetime(2027, 3, 20, tzinfo=PARIS), 24 * 14, 3600.0),
]


def generic(d: Detector, x: float, ts: float) -> float:
    """The protocol's ``update``: ``Detector.update`` itself (score_one, admit, learn_one)."""
    return Detector.update(d, x, ts)


def same(a: list[float], b: list[float]) -> bool:
    if len(a) != len(b):
        return False
    return all(u == v or (u != u and v != v) for u, v in zip(a, b, strict=True))


# -- simple references: lists, no arrays, no caches, no inlining ---------------------
class RefRobustZ:
    """RobustZ as it was written before the fast path: deque, sorted list, running sums."""

    def __init__(self, window, min_samples, min_scale=1e-6, rel_scale=0.01, guard=None,
                 patience=None):  # fmt: skip
        self.w, self.ms, self.mins, self.rel = window, min_samples, min_scale, rel_scale
        self.guard, self.patience, self.held = guard, patience, 0
        self.buf, self.s = deque(), []
        self.k = self.sum = self.ss = 0.0
        self.t = 0

    def score(self, x):
        s, n = self.s, len(self.s)
        if n < self.ms:
            return 0.0
        med = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
        iqr = s[(3 * n) // 4] - s[n // 4]
        if iqr > 0:
            spread = iqr / 1.349
        else:
            m = self.sum / n
            spread = math.sqrt(max(self.ss / n - m * m, 0.0))
        return abs(x - med) / max(spread, self.mins, self.rel * abs(med))

    def learn(self, x):
        if not self.buf:
            self.k = x
        if len(self.buf) >= self.w:
            old = self.buf.popleft()
            del self.s[bisect_left(self.s, old)]
            o = old - self.k
            self.sum -= o
            self.ss -= o * o
        self.buf.append(x)
        insort(self.s, x)
        d = x - self.k
        self.sum += d
        self.ss += d * d
        self.t += 1
        if self.t >= self.w:
            k = self.k = x
            self.sum = math.fsum(v - k for v in self.buf)
            self.ss = math.fsum((v - k) * (v - k) for v in self.buf)
            self.t = 0

    def update(self, x, ts=0.0):
        if x - x != 0.0:
            return 0.0
        s = self.score(x)
        if admit(self, s):
            self.learn(x)
        return s


def admit(d, s) -> bool:
    if d.guard is None or s < d.guard:
        d.held = 0
        return True
    d.held += 1
    return d.patience is not None and d.held > d.patience


class RefSeasonal:
    """Seasonal with Python lists, uncapped counts and no slot cache."""

    def __init__(self, period="week", alpha=0.1, min_per_slot=3, min_samples=72,
                 tz="Europe/Paris", country="FR", subdiv=None, min_scale=1e-6,
                 rel_scale=0.01, guard=None, patience=None):  # fmt: skip
        self.week, self.alpha = period == "week", alpha
        self.mps, self.ms = min_per_slot, min_samples
        self.cal, self.mins, self.rel = (tz, country, subdiv), min_scale, rel_scale
        self.guard, self.patience, self.held, self.n = guard, patience, 0, 0
        self.cnt = {"d": [0] * 24, "w": [0] * 168}
        self.m = {"d": [0.0] * 24, "w": [0.0] * 168}
        self.v = {"d": [0.0] * 24, "w": [0.0] * 168}

    def slots(self, ts):
        return slot_of_hour(int(ts // 3600), *self.cal)

    def base(self, ts):
        h, w = self.slots(ts)
        if self.week and self.cnt["w"][w] >= self.mps:
            p, i = "w", w
        elif self.cnt["d"][h] >= self.mps:
            p, i = "d", h
        else:
            return None
        m = self.m[p][i]
        return m, max(math.sqrt(self.v[p][i]), self.mins, self.rel * abs(m))

    def update(self, x, ts):
        if x - x != 0.0:
            return 0.0
        b = self.base(ts) if self.n >= self.ms else None
        s = 0.0 if b is None else abs(x - b[0]) / b[1]
        if admit(self, s):
            self.n += 1
            h, w = self.slots(ts)
            for p, i in [("d", h), ("w", w)] if self.week else [("d", h)]:
                c = self.cnt[p][i] = self.cnt[p][i] + 1
                self.m[p][i], self.v[p][i] = ew_step(self.m[p][i], self.v[p][i], x, c, self.alpha)
        return s


class RefFlatline:
    def __init__(self, run, tol=0.0, rel_tol=0.0, min_samples=12, guard=None, patience=None):
        self.run, self.tol, self.rel_tol, self.ms = run, tol, rel_tol, min_samples
        self.guard, self.patience, self.held = guard, patience, 0
        self.n, self.first, self.len = 0, 0.0, 0

    def update(self, x, ts=0.0):
        if x - x != 0.0:
            return 0.0
        f = self.first
        same_ = self.len > 0 and abs(x - f) <= max(self.tol, self.rel_tol * abs(f))
        s = 0.0 if self.n < self.ms else (self.len + 1 if same_ else 1) / self.run
        if admit(self, s):
            self.n += 1
            if same_:
                self.len += 1
            else:
                self.first, self.len = x, 1
        return s


# -- the tests ---------------------------------------------------------------------------
ROBUST = [
    {"window": 96, "min_samples": 24},
    {"window": 12, "min_samples": 12, "guard": 3.0, "patience": 5},
    {"window": 5, "min_samples": 2, "rel_scale": 0.0, "min_scale": 1e-9, "guard": 4.0},
    {"window": 30, "min_samples": 10, "guard": 2.0},
]


@pytest.mark.parametrize("params", ROBUST)
@pytest.mark.parametrize("seed", [0, 1])
def test_robust_z_update_matches_generic_and_reference(params, seed):
    xs = hard_series(1500, seed).tolist()
    fast, slow, ref = RobustZ(**params), RobustZ(**params), RefRobustZ(**params)
    a = [fast.update(x) for x in xs]
    assert same(a, [generic(slow, x, 0.0) for x in xs])
    assert same(a, [ref.update(x) for x in xs])
    srt = decode(fast._sorted, fast._dec)  # (stored as scaled integers while exact)
    assert srt == ref.s and srt == sorted(fast.values())
    assert max(a) > 3  # the data did exercise the scores


def test_mad_keeps_its_own_scale_in_the_fused_update():
    xs = hard_series(800, 2).tolist()
    fast, slow = (MAD(window=40, min_samples=10, guard=5.0) for _ in range(2))
    assert same([fast.update(x) for x in xs], [generic(slow, x, 0.0) for x in xs])
    assert not MAD._plain and RobustZ._plain


SEASONAL = [
    {"period": "week", "min_samples": 24},
    {"period": "day", "min_samples": 10, "guard": 4.0, "patience": 3},
    {"period": "week", "min_samples": 5, "subdiv": "57", "guard": 3.0},
    {"period": "week", "alpha": 0.003, "min_per_slot": 5, "min_samples": 5},  # count cap 334
    {"period": "day", "alpha": 0.07, "min_per_slot": 3, "min_samples": 5},  # cap 15, reached
    {"period": "day", "alpha": 0.5, "min_per_slot": 40, "min_samples": 5},  # cap = min_per_slot
    {"period": "day", "tz": "UTC", "country": None, "min_samples": 3, "min_scale": 0.5},
]


@pytest.mark.parametrize("params", SEASONAL)
def test_seasonal_update_matches_generic_and_reference_across_dst_and_holidays(params):
    for k, ts in enumerate(SPANS):
        xs = hard_series(len(ts), k).tolist()
        tl = ts.tolist()
        fast, slow, ref = Seasonal(**params), Seasonal(**params), RefSeasonal(**params)
        a = [fast.update(x, t) for x, t in zip(xs, tl, strict=True)]
        assert same(a, [generic(slow, x, t) for x, t in zip(xs, tl, strict=True)])
        assert same(a, [ref.update(x, t) for x, t in zip(xs, tl, strict=True)])
        probe = tl[-1] + 3 * 3600.0
        assert fast.expected(probe) == ref.base(probe)[0] if ref.base(probe) else True
        assert fast.score_one(50.0, probe) == slow.score_one(50.0, probe)


def test_seasonal_counts_are_capped_without_changing_anything():
    assert count_cap(0.1, 3) == 10 and count_cap(0.003, 5) == 334 and count_cap(0.5, 40) == 40
    assert all(1.0 / count_cap(a, 2) <= a < 1.0 / (count_cap(a, 2) - 1)
               for a in (0.3, 0.1, 0.05, 0.003, 1e-4))  # fmt: skip
    d = Seasonal(period="day", alpha=1e-9, min_samples=1)  # cap 1e9: 32-bit counts
    assert d._cnt.itemsize >= 4
    d = Seasonal(period="week")
    assert d._cnt.typecode == "B" and d._mv.typecode == "d" and len(d._mv) == 2 * 24
    ts = SPANS[0].tolist()
    for t in ts:
        d.update(20.0 + (t // 3600) % 5, t)
    assert max(d._cnt) == 10 and d._n == d.min_samples < len(ts) and len(d._mv) == 2 * (24 + 168)


def test_slot_map_agrees_with_slot_of_hour_around_dst():
    d = Seasonal(period="week", subdiv="57")
    for ts in SPANS:
        for t in ts.tolist()[::7]:
            d.learn_one(1.0, t)
            h, w = slot_of_hour(int(t // 3600), "Europe/Paris", "FR", "57")
            assert d._slots[t // 3600] == (h, w // 24) and w % 24 == h
    # every day of the week got its block, in the order first seen (the first span
    # starts on a Friday): Fri, Sat, Sun, Mon... -> blocks 1, 2, 3, 4...
    assert sorted(d._days) == list(range(1, 8)) and d._days[4] == 1 and d._days[0] == 4


FLAT = [
    {"run": 8, "min_samples": 24},
    {"run": 3, "min_samples": 2, "tol": 0.5, "guard": 1.0, "patience": 2},
    {"run": 5, "min_samples": 5, "rel_tol": 0.01},
]


@pytest.mark.parametrize("params", FLAT)
def test_flatline_update_matches_generic_and_reference(params):
    xs = hard_series(2000, 3)
    xs[700:760] = 5.0
    xs[900:950] = np.repeat([1.0, 1.004, 0.998, 1.2], [20, 10, 10, 10])
    xs = xs.tolist()
    fast, slow, ref = Flatline(**params), Flatline(**params), RefFlatline(**params)
    a = [fast.update(x) for x in xs]
    assert same(a, [generic(slow, x, 0.0) for x in xs])
    assert same(a, [ref.update(x) for x in xs])
    assert max(a) >= 1.0


ENSEMBLES = [
    # the anomaly pack's UnusualLevel
    {"how": "min", "calibrate": False, "guard": 5, "patience": 12,
     "members": [RobustZ(window=96, min_samples=24), Seasonal(period="day")]},
    {"how": "min", "calibrate": False, "guard": 3.0,
     "members": [RobustZ(window=12, min_samples=6), Seasonal(period="week", min_samples=10)]},
    {"how": "min", "calibrate": False,
     "members": [RobustZ(window=20, min_samples=5), Flatline(run=4, min_samples=3)]},
    {"how": "max", "calibrate": False, "guard": 4.0, "patience": 3,
     "members": [RobustZ(), Flatline()]},
    {"how": "mean", "members": [RobustZ(), Seasonal(period="day")]},
]  # fmt: skip


@pytest.mark.parametrize("k", range(len(ENSEMBLES)))
def test_ensemble_update_is_score_then_learn(k):
    def make():
        p = dict(ENSEMBLES[k])
        return Ensemble([m.clone() for m in p.pop("members")], **p)

    for j, ts in enumerate(SPANS[:3]):
        xs = hard_series(len(ts), 10 + j).tolist()
        tl = ts.tolist()
        fast, slow = make(), make()
        a = [fast.update(x, t) for x, t in zip(xs, tl, strict=True)]
        b = []
        for x, t in zip(xs, tl, strict=True):
            if fast.how == "min" or fast.guard is not None:
                b.append(generic(slow, x, t))
            else:  # max / mean without a guard: every member updates itself
                b.append(slow._combine([m.update(x, t) for m in slow.members]))
        assert same(a, b)
        if fast.how == "min":  # members still warming up have no say
            ref = make()
            c = []
            for x, t in zip(xs, tl, strict=True):
                if x - x != 0.0:
                    c.append(0.0)
                    continue
                s = min((m.score_one(x, t) for m in ref.members if m.ready), default=0.0)
                if ref.admit(s):
                    for m in ref.members:
                        m.learn_one(x, t)
                c.append(s)
            assert same(a, c)
        assert max(a) > 0


def test_guard_and_patience_in_the_fused_ensemble():
    d = Ensemble([RobustZ(window=96, min_samples=24), Seasonal(period="day", min_samples=24)],
                 how="min", calibrate=False, guard=5, patience=12)  # fmt: skip
    ts = times(datetime(2027, 1, 4, tzinfo=PARIS), 24 * 8, 3600.0).tolist()
    rng = np.random.default_rng(0)
    for t in ts[:-40]:
        d.update(20.0 + rng.normal(0.0, 0.5), t)
    shifted = [d.update(60.0 + rng.normal(0.0, 0.5), t) for t in ts[-40:]]
    assert min(shifted[:13]) >= 5  # held back for `patience` readings ...
    assert shifted[-1] < 5  # ... then learnt: the new level stops alerting
