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


def test_patience_lets_a_lasting_change_become_the_norm():
    base = [10.0 + 0.1 * (i % 3) for i in range(40)]
    stubborn = RobustZ(window=20, min_samples=10, guard=6)
    patient = RobustZ(window=20, min_samples=10, guard=6, patience=5)
    for d in (stubborn, patient):
        for x in base:
            d.update(x)
    a = [stubborn.update(50.0) for _ in range(40)]
    b = [patient.update(50.0) for _ in range(40)]
    assert min(a) > 6  # held back for ever
    assert min(b[:6]) > 6  # held back for `patience` readings, then learnt
    first_ok = next(i for i, s in enumerate(b) if s < 6)
    assert 6 < first_ok <= 6 + 10 and b[-1] < 1  # within half a window of learning
    with pytest.raises(ParamError, match="patience"):
        RobustZ(patience=-1)


def test_state_version_is_checked():
    d = RobustZ()
    state = d.__getstate__()
    assert Detector.version == 3 and state[0] == RobustZ.version == 4  # its own layout
    with pytest.raises(ValueError, match="version 99"):
        RobustZ().__setstate__((99, *state[1:]))
    with pytest.raises(ValueError, match="version 3 != 4"):  # a version-3 snapshot
        RobustZ().__setstate__((3, *state[1:]))
    with pytest.raises(ValueError, match="version 2 != 4"):  # a version-2 snapshot (a dict)
        RobustZ().__setstate__({"__version__": 2, "window": 96})
    with pytest.raises(ValueError, match="fields"):
        RobustZ().__setstate__(state[:-1])
    assert pickle.loads(pickle.dumps(d)).window == d.window


def test_params_and_clone():
    d = RobustZ(window=50, min_samples=10, guard=8.0)
    d.update(1.0)
    c = d.clone()
    assert c.params() == d.params() == {
        "window": 50, "min_samples": 10, "min_scale": 1e-6, "rel_scale": 0.01, "guard": 8.0,
        "patience": None,
    }  # fmt: skip
    assert len(c._buf) == 0 and isinstance(c, Detector)
