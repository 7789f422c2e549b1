"""river- and scikit-learn-based detectors: they detect, and their state stays small."""

import copy
import pickle

import numpy as np
import pytest
from river import anomaly

from models.forecast import Forecast
from models.hst import HST
from models.iforest import IForest, load, save
from models.ocsvm import OCSVM
from models.robust_z import RobustZ

from .conftest import noise, run


def sine(n: int, seed: int = 0) -> np.ndarray:
    return 20.0 + 5.0 * np.sin(np.arange(n) / 6.0) + noise(n, seed=seed, mean=0.0, sd=0.2)


@pytest.mark.parametrize("lags", [1, 3])
def test_hst_scores_are_rivers(lags):
    rng = np.random.default_rng(0)
    xs = rng.uniform(0.2, 0.7, 1500)
    xs[::97] = 0.95
    ref = anomaly.HalfSpaceTrees(n_trees=5, height=6, window_size=100, seed=7)
    d = HST(n_trees=5, height=6, window_size=100, lags=lags, limits=(0.0, 1.0), seed=7)
    past: list[float] = []
    for x in xs.tolist():
        vals = ([x, *past] + [past[-1] if past else x] * lags)[:lags]
        f = dict(enumerate(vals))
        want = ref.score_one(f)
        ref.learn_one(f)
        assert d.update(x) == pytest.approx(want, abs=1e-12)
        past = [x, *past][: lags - 1]


def test_hst_state_is_compact_and_detects_a_spike():
    xs = sine(3000)
    xs[2900] = 60.0
    d = HST(seed=1)
    s = run(d, xs)
    assert s[2900] > s[300:2900].max()
    ref = anomaly.HalfSpaceTrees(seed=1)
    for x in xs[:300].tolist():
        ref.learn_one({0: x / 60, 1: x / 60, 2: x / 60})
    assert len(pickle.dumps(d)) * 20 < len(pickle.dumps(ref))  # vs river's 166 KB


@pytest.mark.parametrize("cls", [OCSVM, Forecast])
def test_spike_in_a_pattern(cls):
    xs = sine(3000, seed=2)
    xs[2500] += 8.0
    s = run(cls(), xs)
    assert s[2500] > s[500:2500].max()


def test_forecast_sees_a_broken_pattern_that_is_within_range():
    xs = sine(2000, seed=3)
    xs[1900:1920] = 40.0 - xs[1900:1920]  # the wave flips: every value is in range
    s = run(Forecast(), xs)
    assert s[1900] > 3 * np.percentile(s[500:1900], 99)
    assert run(RobustZ(), xs)[1900] < 1  # a level-based detector sees nothing


@pytest.fixture(scope="module")
def forest():
    xs = sine(3000, seed=4)
    d = IForest(refit_every=512)
    return d, run(d, xs)


def test_iforest_detects_a_spike_in_a_batch(forest):
    d, s = forest
    e = copy.deepcopy(d)
    batch = sine(200, seed=5)
    batch[150] = 40.0
    t = run(e, batch)
    assert t[150] > t[:150].max() and t[150] > s[1000:].max()
    assert e.model is d.model  # deepcopy shares the immutable forest


def test_iforest_refits_on_schedule_and_restores_exactly(forest):
    d, _ = forest
    e = pickle.loads(pickle.dumps(d))
    assert e._model is None  # not pickled ...
    assert e.score_one(21.0) == d.score_one(21.0)  # ... but refitted exactly
    n0 = d._n
    f = copy.deepcopy(d)
    old = f.model
    run(f, sine(512, seed=6))
    assert f._n == n0 + 512 and f.model is not old  # a refit happened


def test_iforest_save_load(forest, tmp_path):
    d, _ = forest
    save(d, tmp_path / "d.skops")
    e = load(tmp_path / "d.skops")
    xs = sine(300, seed=7)
    assert np.array_equal(run(copy.deepcopy(d), xs), run(e, xs))


def test_iforest_load_refuses_foreign_types(tmp_path):
    from fractions import Fraction

    import skops.io as sio

    sio.dump({"version": 1, "model": Fraction(1, 3)}, tmp_path / "x.skops")
    with pytest.raises(ValueError, match="untrusted"):
        load(tmp_path / "x.skops")


@pytest.mark.parametrize("cls", [HST, OCSVM])
def test_the_seed_matters(cls):
    xs = sine(1500, seed=8)
    assert not np.array_equal(run(cls(seed=1), xs), run(cls(seed=2), xs))
