"""Pickled detector state: compact (values only, in a fixed slot order), versioned,
parameters shared, derived slots rebuilt at load, and subclasses that transform their
state as a dict still work."""

from __future__ import annotations

import copy
import pickle
from array import array
from typing import ClassVar

import numpy as np
import pytest

from models import compiled
from models.base import Detector, layout
from models.calibrate import Likelihood
from models.checks import stream
from models.flatline import Flatline
from models.registry import build
from models.robust_z import RobustZ
from models.seasonal import Seasonal

UNUSUAL = {
    "name": "ensemble", "how": "min", "calibrate": False, "guard": 5, "patience": 12,
    "members": [{"name": "robust_z", "window": 96, "min_samples": 24},
                {"name": "seasonal", "period": "day"}],
}  # fmt: skip


def fed(d: Detector, n: int = 300, seed: int = 0) -> Detector:
    xs, ts = stream(n, seed=seed)
    for x, t in zip(xs.tolist(), ts.tolist(), strict=True):
        d.update(x, t)
    return d


def test_layout_is_parameters_then_state_without_transient_slots():
    lay = layout(RobustZ)
    assert lay.shared == ("window", "min_samples", "min_scale", "rel_scale", "guard", "patience")
    assert lay.rest == ("_held", "_buf", "_dec", "_i", "_s", "_ss", "_t")  # no _sorted, _k
    assert layout(Seasonal).rest[-3:] == ("_cnt", "_mv", "_days")
    assert "members" in layout(build(UNUSUAL).__class__).rest  # detectors are state


def test_pickle_holds_values_not_slot_names():
    d = fed(build(UNUSUAL))
    blob = pickle.dumps(d, protocol=5)
    for name in (b"_buf", b"_sorted", b"window", b"min_samples", b"__version__", b"_mv"):
        assert name not in blob
    e = pickle.loads(blob)
    assert pickle.dumps(e, protocol=5) == blob


def test_state_is_small():
    """About 8 bytes a window value and 16 a profile slot: the raw data plus ~400 bytes."""
    rz = fed(RobustZ(window=96, min_samples=24))
    assert len(pickle.dumps(rz, protocol=5)) < 96 * 8 + 200
    week = fed(Seasonal(period="week", min_samples=24), n=24 * 12 * 8)  # 8 days, 5 min
    assert len(pickle.dumps(week, protocol=5)) < 192 * (16 + 1) + 300
    assert len(pickle.dumps(fed(build(UNUSUAL)), protocol=5)) < 96 * 8 + 24 * 17 + 450
    assert len(pickle.dumps(fed(Flatline()), protocol=5)) < 120
    for d in (rz, week):  # no Python float objects per value in memory either
        assert all(isinstance(v, array) for v in (getattr(d, k) for k in layout(type(d)).rest)
                   if isinstance(v, (list, array)))  # fmt: skip


@pytest.mark.parametrize("window", [8, 50])  # sorted in Python / with numpy
def test_sorted_window_is_rebuilt_at_load(window):
    d = fed(RobustZ(window=window, min_samples=4), n=237)
    e = pickle.loads(pickle.dumps(d))
    assert e._sorted == d._sorted and e._sorted is not d._sorted
    assert list(e._sorted) == sorted(e._buf) and e._i == d._i
    xs, ts = stream(200, seed=9)
    assert [d.update(x) for x in xs.tolist()] == [e.update(x) for x in xs.tolist()]
    assert copy.deepcopy(d)._sorted == d._sorted


def test_parameters_are_shared_between_loaded_detectors():
    blob = pickle.dumps(build(UNUSUAL))
    a, b = pickle.loads(blob), pickle.loads(blob)
    sa, sb = a.members[1], b.members[1]
    assert sa.tz is sb.tz and sa._slots is sb._slots
    if not compiled.status()["models.seasonal"]:  # (compiled: a C double, no object)
        assert sa.alpha is sb.alpha and a.members[0].min_scale is b.members[0].min_scale
    assert sa._mv is not sb._mv  # state is not shared
    one = len(pickle.dumps(fed(a)))
    many = len(pickle.dumps([fed(pickle.loads(blob), seed=s) for s in range(10)]))
    assert many < 10 * one - 9 * 150  # parameters and class names pickled once


def test_equal_parameters_of_other_types_are_not_merged():
    a = pickle.loads(pickle.dumps(RobustZ(guard=5.0)))
    b = pickle.loads(pickle.dumps(RobustZ(guard=5)))
    assert type(a.guard) is float and type(b.guard) is int


#: ``pickle.dumps(d, protocol=5)`` of ``RobustZ(window=4, min_samples=2)`` after 1, 2, 3
#: with the version-2 code (commit 055ee16): a dict of slot names.
V2_BLOB = (
    b"\x80\x05\x955\x01\x00\x00\x00\x00\x00\x00\x8c\x0fmodels.robust_z\x94\x8c\x07RobustZ\x94"
    b"\x93\x94)\x81\x94}\x94(\x8c\x0b__version__\x94K\x02\x8c\x06window\x94K\x04\x8c\x0bmin_sam"
    b"ples\x94K\x02\x8c\tmin_scale\x94G>\xb0\xc6\xf7\xa0\xb5\xed\x8d\x8c\trel_scale\x94G?\x84z"
    b"\xe1G\xae\x14{\x8c\x04_buf\x94\x8c\x0bcollections\x94\x8c\x05deque\x94\x93\x94)R\x94(G?\xf0"
    b"\x00\x00\x00\x00\x00\x00G@\x00\x00\x00\x00\x00\x00\x00G@\x08\x00\x00\x00\x00\x00\x00e"
    b"\x8c\x07_sorted\x94]\x94(G?\xf0\x00\x00\x00\x00\x00\x00G@\x00\x00\x00\x00\x00\x00\x00G@"
    b"\x08\x00\x00\x00\x00\x00\x00e\x8c\x02_k\x94G?\xf0\x00\x00\x00\x00\x00\x00\x8c\x02_s\x94"
    b"G@\x08\x00\x00\x00\x00\x00\x00\x8c\x03_ss\x94G@\x14\x00\x00\x00\x00\x00\x00\x8c\x02_t"
    b"\x94K\x03\x8c\x05guard\x94N\x8c\x08patience\x94N\x8c\x05_held\x94K\x00ub."
)


def test_old_and_foreign_states_are_refused_clearly():
    with pytest.raises(ValueError, match="RobustZ: state version 2 != 4"):
        pickle.loads(V2_BLOB)
    state = RobustZ().__getstate__()
    with pytest.raises(ValueError, match="state has"):
        RobustZ().__setstate__((*state, 0.0))
    with pytest.raises(ValueError, match="version"):
        Seasonal().__setstate__(())


def test_subclasses_transforming_their_state_as_a_dict_still_work():
    d = fed(Likelihood(RobustZ(window=40), short=3), n=800)
    blob = pickle.dumps(d)
    assert b"_recent" not in blob and b"short" not in blob  # stored compactly too
    e = pickle.loads(blob)
    xs, ts = stream(300, seed=5)
    assert np.array_equal(d.update_many(xs, ts), e.update_many(xs, ts))
    state = d.__getstate__()  # the dict form a subclass edits
    assert state["__version__"] == Detector.version and isinstance(state["_recent"], list)


class Partial(Flatline):
    """A subclass with an extra slot that may never be set."""

    __slots__ = ("extra",)
    name: ClassVar[str] = "partial"


def test_unset_slots_stay_unset():
    d = Partial(run=3)
    e = pickle.loads(pickle.dumps(d))
    assert not hasattr(e, "extra") and e.run == 3
    d.extra = [1, 2]
    assert pickle.loads(pickle.dumps(d)).extra == [1, 2]


def test_array_slots_are_pickled_as_raw_bytes():
    d = fed(build(UNUSUAL))
    blob = pickle.dumps(d, protocol=5)
    assert b"_array_reconstructor" not in blob and b"array" not in blob
    assert layout(RobustZ).array_names == ("_buf",)
    assert layout(Seasonal).array_names == ("_cnt", "_mv")
    e = pickle.loads(blob)
    for a, b in zip(d.members, e.members, strict=True):
        for k in layout(type(a)).array_names:
            x, y = getattr(a, k), getattr(b, k)
            if x is None:  # (Seasonal's counts, dropped once all at their cap)
                assert y is None and k == "_cnt"
                continue
            assert type(y) is array and y.typecode == x.typecode and y == x
            assert y.buffer_info()[1] == len(y)  # the exact size, no room to grow
    state = d.members[0].__getstate__()
    i = 2 + layout(RobustZ).rest.index("_buf")
    assert state[i] == b"d" + d.members[0]._buf.tobytes()  # (stream(): doubles)
    live = list(state)
    live[i] = array("d", d.members[0]._buf)  # an array in the state is taken as is
    r = RobustZ.__new__(RobustZ)
    r.__setstate__(tuple(live))
    assert r._buf == d.members[0]._buf and r._sorted == d.members[0]._sorted
