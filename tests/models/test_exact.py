"""Exact compact windows (models.exact): scaled integers only while every value
round-trips bit for bit, doubles otherwise; RobustZ scores are those of a window of
doubles, bit for bit, through every change of form and across pickling."""

from __future__ import annotations

import copy
import math
import pickle
import struct
from array import array
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.exact import DOUBLES, decode, encode, fit, floats, scaled
from models.robust_z import RETRY, RobustZ


def bits(xs) -> list[bytes]:
    return [struct.pack("<d", x) for x in xs]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), max_size=40))
def test_any_floats_round_trip_bit_for_bit(xs):
    tc, dec = fit(xs)
    a = encode(xs, tc, dec)
    assert bits(decode(a, dec)) == bits(xs)
    assert bits(floats(a, dec).tolist()) == bits(xs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=40),
       st.integers(0, 6))  # fmt: skip
def test_short_decimals_are_scaled_integers(qs, dec):
    xs = [q / 10.0**dec for q in qs]
    tc, d = fit(xs)
    assert tc in "bhi" and d <= dec  # |q| < 2**31 at dec decimals (fewer may do)
    a = encode(xs, tc, d)
    assert bits(decode(a, d)) == bits(xs)


def test_fallbacks_and_narrowest_form():
    assert fit([1.0, -2.0, 127.0]) == ("b", 0) and fit([-128.0]) == ("b", 0)
    assert fit([128.0]) == ("h", 0) and fit([21.37]) == ("h", 2)
    assert fit([2000.01]) == ("i", 2) and fit([21.5, 0.125]) == ("h", 3)
    assert fit([2**31 + 0.0]) == DOUBLES  # too large for 4 bytes
    assert fit([0.1 + 0.2]) == DOUBLES and fit([math.pi]) == DOUBLES  # not short decimals
    assert fit([1e-7]) == DOUBLES and fit([5e-324]) == DOUBLES
    assert fit([0.0, -0.0]) == DOUBLES  # -0.0 would come back as +0.0
    assert fit([math.nan]) == DOUBLES and fit([math.inf]) == DOUBLES
    assert fit([]) == ("b", 0)
    assert scaled(-0.0, 3) is None and scaled(0.0, 3) == 0 and scaled(math.inf, 0) is None
    assert scaled(1e20, 2) == 10**22  # round-trips (the array type bounds the range)


class Doubles(RobustZ):
    """The reference: the same detector with its window always in doubles."""

    __slots__ = ()
    name: ClassVar[str] = "robust_z_doubles"
    _compact: ClassVar[bool] = False


def series(n: int, seed: int) -> list[float]:
    """Readings with 0-2 decimals, a zero run, spikes past 2 bytes, then doubles."""
    rng = np.random.default_rng(seed)
    xs = [round(x, k) for x, k in zip(rng.normal(20.0, 3.0, n).tolist(),
                                      rng.integers(0, 3, n).tolist(), strict=True)]
    xs[100:130] = [0.0] * 30
    xs[200] = 400.25  # beyond 1 byte at 2 decimals: still 2 bytes
    xs[300] = 2000.01  # beyond 2 bytes at 2 decimals: 4 bytes
    xs[700] = -0.0
    xs[800] = 21.0 + 1e-9  # not a short decimal: doubles
    return xs


PARAMS = [
    {"window": 96, "min_samples": 24},
    {"window": 12, "min_samples": 12, "guard": 3.0},
    {"window": 40, "min_samples": 10, "rel_scale": 0.0},
]


@pytest.mark.parametrize("params", PARAMS)
def test_robust_z_compact_window_scores_bit_for_bit(params):
    xs = series(1200, seed=len(params))
    a, ref = RobustZ(**params), Doubles(**params)
    forms = []
    for i, x in enumerate(xs):
        assert bits([a.update(x)]) == bits([ref.update(x)]), f"reading {i}"
        assert bits([a.score_one(x + 0.5)]) == bits([ref.score_one(x + 0.5)])
        assert a.expected() == ref.expected() and a.std() == ref.std()
        forms.append((a._buf.typecode, a._dec))
        if i in (99, 250, 650, 1100):  # a pickled twin goes on identically, in every form
            b = pickle.loads(pickle.dumps(a))
            assert (b._buf.typecode, b._dec) == forms[-1] and b._sorted == a._sorted
            assert bits([b._k, b._s, b._ss]) == bits([a._k, a._s, a._ss])  # (_k rebuilt)
            c, r = copy.deepcopy(a), copy.deepcopy(ref)
            rest = xs[i + 1 : i + 60]
            want = bits([r.update(y) for y in rest])
            assert bits([b.update(y) for y in rest]) == bits([c.update(y) for y in rest]) == want
    assert bits(a.values()) == bits(ref.values()) and a._s == ref._s and a._ss == ref._ss
    seen = list(dict.fromkeys(forms))
    assert seen[0][0] in "bh" and ("d", RETRY) in seen  # doubles while odd values were in
    assert forms[-1][0] in "bhi" and forms[-1][1] >= 0  # compact again once they left
    assert ("i", 2) in seen or "guard" in params  # (a guard holds the spike back)


def test_full_window_is_compact_and_trimmed():
    d = RobustZ(window=96, min_samples=24)
    for x in np.round(np.random.default_rng(0).normal(230.0, 1.0, 500), 2).tolist():
        d.update(x)
    assert d._buf.typecode == "h" and d._dec == 2 and len(d._buf) == 96
    # exact size: no room kept for growth (about 2 bytes a value, twice: ring and sorted)
    assert d._buf.__sizeof__() == d._buf[:].__sizeof__() == d._sorted.__sizeof__()
    assert d._buf.__sizeof__() < array("h").__sizeof__() + 96 * 2 + 8
    assert len(pickle.dumps(d, protocol=5)) < 96 * 2 + 250
    e = pickle.loads(pickle.dumps(d))
    assert e._sorted.__sizeof__() == d._sorted.__sizeof__()


@pytest.mark.parametrize("params", [*PARAMS, {"window": 4, "min_samples": 2}])
@pytest.mark.parametrize("doubles", [False, True])
def test_anchor_of_the_sums_is_rebuilt_exactly_at_load(params, doubles):
    """``_k`` is not pickled: rebuilt from the window, it equals the live one after every
    reading (warm-up, the window filling, re-anchors, held-back values, -0.0, widening)."""
    xs = series(900, seed=7)
    if doubles:
        xs = [x * math.pi for x in xs]
    d = (Doubles if doubles else RobustZ)(**params)
    assert bits([pickle.loads(pickle.dumps(d))._k]) == bits([0.0])
    for x in xs:
        d.update(x)
        e = pickle.loads(pickle.dumps(d))
        assert bits([e._k]) == bits([d._k]), (len(d._buf), d._i, d._t)


def test_one_odd_value_does_not_leave_the_window_in_doubles():
    rng = np.random.default_rng(5)
    xs = np.round(rng.normal(230.0, 1.0, 600), 2).tolist()
    xs[150] = 230.0 + 1e-9  # not a short decimal
    d, ref = RobustZ(window=48, min_samples=24), Doubles(window=48, min_samples=24)
    forms = []
    for x in xs:
        assert bits([d.update(x)]) == bits([ref.update(x)])
        forms.append((d._buf.typecode, d._dec))
    assert forms[149] == ("h", 2) and forms[150] == ("d", RETRY)
    back = forms.index(("h", 2), 150)
    assert 150 + 48 <= back <= 150 + 2 * 48  # at the first re-anchor after it left
    assert pickle.loads(pickle.dumps(d))._dec == 2
    noise = RobustZ(window=48, min_samples=24)  # not short decimals at all: stays doubles
    for x in rng.normal(0.0, 1.0, 300).tolist():
        noise.update(x)
    assert noise._buf.typecode == "d" and noise._dec == RETRY
