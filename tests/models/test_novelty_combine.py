"""ContextNovelty: the behaviour the NAB benchmark relies on."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from models.base import ParamError
from models.novelty import ContextNovelty


def _periodic(n: int = 600) -> np.ndarray:
    return np.tile(np.array([0.0, 1.0, 2.0, 3.0, 2.0, 1.0]), n // 6 + 1)[:n] + 10.0


def test_repeated_pattern_is_not_novel_and_new_shape_is():
    d = ContextNovelty(rest=0)
    d.update_many(_periodic())
    assert d.score_one(10.0) < 0.1  # the pattern continues (…, 1 -> 0)
    assert d.score_one(13.0) > 0.5  # 1 -> 3 never happened
    assert d.score_one(50.0) == 1.0  # outside the range ever seen


def test_refractory_period_holds_output_after_a_detection():
    d = ContextNovelty(rest=20)
    x = _periodic()
    x[400] = 50.0
    s = d.update_many(x)
    assert s[400] == 1.0
    assert np.all(s[401:421] == 0.0)


def test_update_equals_score_then_learn_and_score_is_pure():
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(size=800))
    a, b = ContextNovelty(), ContextNovelty()
    fast = a.update_many(x)
    slow = []
    for v in x.tolist():
        before = pickle.dumps(b)
        s = b.score_one(v)
        assert pickle.dumps(b) == before
        b.learn_one(v)
        slow.append(s)
    assert np.array_equal(fast, np.array(slow))


def test_pickle_round_trip_gives_same_future_scores():
    rng = np.random.default_rng(2)
    x = rng.normal(size=1000)
    d = ContextNovelty()
    d.update_many(x[:500])
    e = pickle.loads(pickle.dumps(d))
    assert np.array_equal(d.update_many(x[500:]), e.update_many(x[500:]))


def test_bounded_memory_and_bad_values():
    d = ContextNovelty(history=100)
    rng = np.random.default_rng(3)
    d.update_many(rng.normal(size=5000))
    assert len(d._vals) == 101  # the history, plus the value that grew the range last
    assert d.update(float("nan")) == 0.0 and d.update(float("inf")) == 0.0
    with pytest.raises(ParamError):
        ContextNovelty(bins=1)


@pytest.mark.parametrize("params", [{}, {"order": 3, "history": 300, "grids": 1}])
def test_vectorised_recount_matches_counting_in_python(params, monkeypatch):
    import models.novelty as nov

    rng = np.random.default_rng(4)
    d = ContextNovelty(**params)
    d.update_many(np.cumsum(rng.normal(size=2000)))
    d._recount_np()
    fast = (d._seen, d._ctx)
    monkeypatch.setattr(nov, "NUMPY_FROM", 10**9)
    d._recount()
    assert fast == (d._seen, d._ctx) and fast[0] is not d._seen


def test_combine_max_and_min_members_and_hold_after_detection():
    from models.combine import Combine
    from models.robust_z import RobustZ

    rng = np.random.default_rng(5)
    x = rng.normal(size=600)
    x[500] = 40.0
    d = Combine([ContextNovelty(rest=0), RobustZ()], weights=[1.0, 0.1], rest=10)
    ref = [ContextNovelty(rest=0), RobustZ()]
    s = d.update_many(x)
    raw = np.maximum(ref[0].update_many(x), 0.1 * ref[1].update_many(x))
    assert s[500] == pytest.approx(raw[500]) and s[500] >= 1.0
    assert np.all(s[501:511] == 0.0)
    e = pickle.loads(pickle.dumps(d))
    more = rng.normal(size=100)
    assert np.array_equal(d.update_many(more), e.update_many(more))
    with pytest.raises(ParamError):
        Combine([ContextNovelty()], weights=[1.0, 2.0])
    both = Combine([ContextNovelty(rest=0), RobustZ()], how="min", rest=0)
    lo = np.minimum(ContextNovelty(rest=0).update_many(x), RobustZ().update_many(x))
    assert np.array_equal(both.update_many(x)[10:], lo[10:])
