"""Each windowed statistical detector finds what it is for, on small synthetic series."""

import numpy as np
import pytest

from models.cusum import CUSUM
from models.ewma import EWMA
from models.flatline import Flatline
from models.mad import MAD, mad
from models.page_hinkley import PageHinkley
from models.rate import Rate
from models.robust_z import RobustZ
from models.zscore import ZScore

from .conftest import noise, run


@pytest.mark.parametrize("cls", [RobustZ, MAD, ZScore])
def test_spike_stands_out(cls):
    xs = noise(600, seed=1)
    xs[500] += 8.0
    s = run(cls(), xs)
    assert s[500] > 5 and s[500] > 1.5 * np.delete(s, 500).max()


def test_zscore_matches_numpy_despite_a_large_offset():
    xs = noise(5000, seed=2, mean=1e9, sd=1.0)
    d = ZScore(window=100, min_samples=100, rel_scale=0.0)
    run(d, xs)
    w = xs[-100:]
    assert d.score_one(1e9 + 3.0) == pytest.approx(abs(1e9 + 3.0 - w.mean()) / w.std(), rel=1e-6)


def test_mad_matches_numpy_and_resists_contamination():
    rng = np.random.default_rng(3)
    for _ in range(200):
        s = sorted(rng.normal(size=rng.integers(1, 60)).round(1).tolist())
        med = float(np.median(s))
        assert mad(s, med) == pytest.approx(float(np.median(np.abs(np.array(s) - med))))
    # 30 % of the window is wild: the IQR is blown up, the MAD is not
    xs = np.concatenate([noise(70, seed=4, sd=1.0), np.full(30, 1000.0)])
    rng.shuffle(xs)
    m, r = MAD(window=100, min_samples=10), RobustZ(window=100, min_samples=10)
    run(m, xs), run(r, xs)
    assert m.score_one(30.0) > 5 > r.score_one(30.0)


def test_ewma_catches_a_small_sustained_shift_that_zscore_misses():
    xs = np.concatenate([noise(1000, seed=5), noise(100, seed=6, mean=20.8)])
    e, z = run(EWMA(lam=0.1), xs), run(ZScore(window=500, min_samples=100), xs)
    assert e[1000:].max() > 3.5 > e[100:1000].max()
    assert z[1000:].max() < z[100:1000].max() + 1  # per-point z sees nothing special


@pytest.mark.parametrize("cls", [CUSUM, PageHinkley])
def test_level_shift_is_detected_soon(cls):
    xs = np.concatenate([noise(1500, seed=7), noise(100, seed=8, mean=22.0)])
    d = cls()
    s = run(d, xs)
    limit = d.h if cls is CUSUM else d.threshold
    assert s[100:1500].max() < limit
    first = int(np.argmax(s[1500:] >= limit))
    assert s[1500 + first] >= limit and first < 30


def test_cusum_and_page_hinkley_reset_after_a_detection():
    xs = np.concatenate([noise(500, seed=9), noise(200, seed=10, mean=25.0)])
    c, p = CUSUM(), PageHinkley()
    run(c, xs[:520]), run(p, xs[:520])
    assert c._sp < c.h  # reset, not growing forever
    assert not p.ready or p._n < 20  # restarted at the new level


def test_rate_flags_a_jump_not_the_level():
    xs = np.cumsum(noise(800, seed=11, mean=0.0, sd=0.1)) + 100.0  # a random walk
    xs[700:] += 5.0  # a sudden jump, then the walk goes on
    s = run(Rate(), xs)
    assert s[700] > 10 and s[701:].max() < 6


def test_rate_per_second_uses_time():
    d = Rate(per_second=True, min_samples=10)
    for i in range(50):
        d.update(float(i), ts=10.0 * i)  # 0.1 per second
    assert d.score_one(50.0, ts=500.0) < 1  # on pace
    assert d.score_one(50.0, ts=491.0) > 10  # same step, 10x faster


def test_flatline_finds_a_stuck_sensor():
    xs = noise(300, seed=12)
    xs[200:260] = xs[199]
    s = run(Flatline(run=12), xs)
    assert s[:200].max() < 0.5  # noise never repeats
    assert s[210] >= 1.0 and s[259] == pytest.approx(61 / 12)
    assert s[260] < 0.5  # unstuck


def test_flatline_tolerance():
    d = Flatline(run=3, min_samples=1, rel_tol=0.01)
    s = run(d, [100.0, 100.5, 99.6, 100.9, 120.0])
    assert s.tolist() == pytest.approx([0.0, 2 / 3, 1.0, 4 / 3, 1 / 3])


@pytest.mark.parametrize("cls", [RobustZ, MAD])
def test_mostly_zero_meter_is_not_scored_in_millions_of_sigmas(cls):
    rng = np.random.default_rng(13)
    xs = np.where(rng.random(2000) < 0.2, rng.uniform(50, 150, 2000), 0.0)  # water use
    s = run(cls(), xs)
    assert np.percentile(s[100:], 99) < 10  # ordinary use: a few sigmas, not 1e8
    d = cls()
    run(d, xs)
    assert d.score_one(5000.0) > 20  # a burst pipe still stands out


def test_robust_z_fallback_std_matches_numpy():
    d = RobustZ(window=50, min_samples=10)
    xs = np.concatenate([np.zeros(1000), noise(37, seed=14)])
    run(d, xs)
    assert d.std() == pytest.approx(float(np.std(xs[-50:])), rel=1e-9)
