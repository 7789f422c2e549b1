import math
import pickle

import pytest

from models.base import Detector, ParamError, check, choice
from models.robust_z import RobustZ


def test_check_rejects_and_names():
    check("w", 5, lo=1, hi=10, integer=True)
    for value, why in [(0, ">= 1"), (11, "<= 10"), (2.5, "integer"), (math.nan, "finite"),
                       ("5", "number"), (True, "number")]:  # fmt: skip
        with pytest.raises(ParamError, match=rf"w=.*{why}"):
            check("w", value, lo=1, hi=10, integer=True)
    with pytest.raises(ParamError, match="how='x' must be one of 'a', 'b'"):
        choice("how", "x", ("a", "b"))


def test_update_skips_non_finite_without_learning():
    d = RobustZ(window=10, min_samples=5)
    for x in (math.nan, math.inf, -math.inf):
        assert d.update(x) == 0.0
    assert len(d._buf) == 0


def test_guard_keeps_anomalies_out_of_the_window():
    free, guarded = RobustZ(window=20, min_samples=10), RobustZ(window=20, min_samples=10, guard=6)
    base = [10.0 + 0.1 * (i % 3) for i in range(30)]
    for d in (free, guarded):
        for x in base:
            d.update(x)
    shifted_free = [free.update(50.0) for _ in range(30)]
    shifted_guarded = [guarded.update(50.0) for _ in range(30)]
    assert shifted_free[-1] < 1  # the shift became the norm
    assert min(shifted_guarded) > 6  # still anomalous: never learnt


def test_state_version_is_checked():
    d = RobustZ()
    state = d.__getstate__()
    state["__version__"] = 99
    with pytest.raises(ValueError, match="version 99"):
        RobustZ().__setstate__(state)
    assert pickle.loads(pickle.dumps(d)).window == d.window


def test_params_and_clone():
    d = RobustZ(window=50, min_samples=10, guard=8.0)
    d.update(1.0)
    c = d.clone()
    assert c.params() == d.params() == {
        "window": 50, "min_samples": 10, "min_scale": 1e-6, "rel_scale": 0.01, "guard": 8.0,
    }  # fmt: skip
    assert len(c._buf) == 0 and isinstance(c, Detector)
