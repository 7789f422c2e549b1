import math

import numpy as np
import pytest

from models.calibrate import Likelihood
from models.ensemble import Ensemble
from models.ewma import EWMA
from models.flatline import Flatline
from models.hst import HST
from models.registry import NAMES, build, make
from models.robust_z import RobustZ
from models.zscore import ZScore

from .conftest import noise, run


@pytest.mark.parametrize("inner", [RobustZ(), EWMA(), ZScore(), HST(window_size=100)])
def test_likelihood_puts_any_scale_on_0_1(inner):
    xs = noise(3000, seed=1)
    xs[2900] += 15.0
    raw = run(inner.clone(), xs)
    s = run(Likelihood(inner), xs)
    assert np.all((s >= 0) & (s <= 1))
    assert np.median(s[1000:2900]) < 0.2  # ordinary readings are ordinary
    if raw[2900] > raw[1000:2900].max():  # what the detector saw, the likelihood shows
        assert s[2900] > 0.7 and s[2900] > s[1000:2900].max()  # a tail below 1e-11


def test_likelihood_warmup_and_log_scale():
    d = Likelihood(RobustZ(), min_samples=50)
    s = run(d, noise(200, seed=2))
    warm = 24 + 50  # the wrapped detector's warm-up, then the likelihood's
    assert not s[:warm].any() and s[warm:].any()
    lin = Likelihood(RobustZ(), min_samples=50, log=False)
    run(lin, noise(200, seed=2))
    for raw in (0.5, 2.0, 4.0):  # log scale: x / (x + 5) with x = -log10(tail)
        x = -math.log10(1.0 - lin.likelihood(raw))
        assert d.likelihood(raw) == pytest.approx(x / (x + 5.0), rel=1e-9)
    big = [d.likelihood(r) for r in (50.0, 500.0, 5e3, 5e4)]
    assert big == sorted(big) and len(set(big)) == 4 and big[-1] < 1  # never saturates
    assert lin.likelihood(5e3) == lin.likelihood(5e4) == 1.0  # the plain scale does


def test_likelihood_two_sided_flags_unusually_low_scores():
    one, two = Likelihood(RobustZ(), short=1), Likelihood(RobustZ(), short=1, two_sided=True)
    xs = noise(2000, seed=3)
    run(one, xs), run(two, xs)
    assert one.likelihood(0.0) < 0.01 < 0.1 < two.likelihood(0.0)


def test_likelihood_guard_stops_learning_the_anomaly():
    free, guarded = Likelihood(RobustZ()), Likelihood(RobustZ(), guard=0.6)
    xs = np.concatenate([noise(1000, seed=4), np.full(200, 40.0)])
    a, b = run(free, xs), run(guarded, xs)
    assert a[-1] < 0.2 and b[-1] > 0.9


def test_ensemble_max_and_mean():
    xs = noise(2000, seed=5)
    xs[1500:1600] = xs[1499]  # stuck: only the flatline detector sees it
    mx = Ensemble([RobustZ(), Flatline()], how="max")
    mn = Ensemble([RobustZ(), Flatline()], how="mean")
    a, b = run(mx, xs), run(mn, xs)
    assert np.all(a >= b - 1e-12)
    assert a[1550] > 0.7 and b[1550] < a[1550]
    assert all(isinstance(m, Likelihood) for m in mx.members)


def test_ensemble_without_calibration_combines_raw_scores():
    d = Ensemble([RobustZ(), RobustZ(window=48)], how="mean", calibrate=False)
    xs = noise(300, seed=6)
    s = run(d, xs)
    r1, r2 = run(RobustZ(), xs), run(RobustZ(window=48), xs)
    assert np.allclose(s, (r1 + r2) / 2)


def test_registry_builds_nested_specs():
    d = build(
        {"name": "ensemble", "how": "mean",
         "members": ["robust_z", {"name": "seasonal", "period": "day"},
                     {"name": "likelihood", "detector": "ewma", "log": True}]}
    )  # fmt: skip
    assert d.how == "mean" and len(d.members) == 3
    assert d.members[1].detector.period == "day"
    assert d.members[2].log and isinstance(d.members[2].detector, EWMA)
    assert set(NAMES) >= {"robust_z", "ewma", "hst", "iforest", "likelihood", "ensemble"}
    for name in NAMES:
        assert make(name).name == name


def test_clone_gives_fresh_wrapped_detectors():
    d = build({"name": "ensemble", "members": ["robust_z", {"name": "ewma", "lam": 0.3}]})
    run(d, noise(500, seed=7))
    c = d.clone()
    assert not c.ready and c.how == d.how
    assert c.members[1].detector.lam == 0.3
    assert all(a is not b for a, b in zip(c.members, d.members, strict=True))
    assert all(not m.detector.ready for m in c.members)
