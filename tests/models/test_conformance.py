"""Every registered detector passes every conformance check of :mod:`models.checks`."""

from __future__ import annotations

import math

import pytest

from models.base import ParamError
from models.checks import CHECKS, check_bounded_memory
from models.registry import NAMES, make

#: Detectors fast enough (1-3 us per reading) for the 1M-reading memory check. ``mad``
#: (5 us) keeps exactly RobustZ's state; the others get the 20k-reading proxy.
FAST = (
    "robust_z", "zscore", "ewma", "cusum", "page_hinkley", "seasonal", "rate",
    "flatline", "likelihood",
)  # fmt: skip

#: For each detector, parameters that must be refused: (name, bad value).
BAD: dict[str, list[tuple[str, object]]] = {
    "robust_z": [("window", 2), ("min_samples", 1000), ("rel_scale", -1.0), ("guard", -1.0)],
    "mad": [("window", 3.5), ("min_scale", math.nan)],
    "zscore": [("window", 1), ("min_samples", 0), ("min_scale", -1.0)],
    "ewma": [("lam", 0.0), ("lam", 1.5), ("alpha", 1.0), ("min_samples", "ten")],
    "cusum": [("k", -0.1), ("h", 0.0), ("alpha", math.inf)],
    "page_hinkley": [("delta", -1.0), ("threshold", 0.0), ("alpha", 1.5)],
    "seasonal": [("period", "month"), ("tz", "Mars/Olympus"), ("min_per_slot", 1)],
    "seasonal_z": [("period", "month"), ("window", 2), ("rel_scale", -1.0), ("tz", "Nowhere")],
    "context_novelty": [("bins", 1), ("order", 0), ("history", 2), ("tolerance", -1.0)],
    "combine": [("how", "median"), ("members", []), ("weights", [1.0, 2.0]), ("rest", -1)],
    "rate": [("alpha", 0.0), ("min_samples", 1), ("rel_scale", -0.5)],
    "flatline": [("run", 0), ("tol", -1.0), ("min_samples", 0)],
    "hst": [("n_trees", 0), ("height", 0), ("window_size", 1), ("limits", (1.0, 0.0))],
    "ocsvm": [("nu", 0.0), ("gamma", -1.0), ("lags", 0), ("n_components", 0)],
    "forecast": [("p", -1), ("d", 3), ("lr", 0.0), ("m", 0)],
    "iforest": [("history", 8), ("min_samples", 5000), ("refit_every", 0), ("lags", 0)],
    "likelihood": [("short", 0), ("alpha", 0.0), ("guard", 2.0), ("detector", "nope")],
    "ensemble": [("how", "median"), ("members", []), ("members", ["robust_z", "nope"])],
}


def test_every_detector_has_bad_params():
    assert set(BAD) == set(NAMES)


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", NAMES)
def test_conformance(name, check):
    CHECKS[check](lambda: make(name))


#: Guarded configurations: the guard paths of overridden ``update`` / ``update_many``.
GUARDED = {
    "robust_z": {"guard": 4.0, "patience": 20},
    "hst": {"guard": 0.9, "patience": 50},
    "iforest": {"guard": 0.6, "patience": 10},
    "likelihood": {"guard": 0.6, "patience": 30},
    "ensemble": {"guard": 0.6},
}


@pytest.mark.parametrize("check", ["pickle_roundtrip", "batch_equals_loop", "deterministic"])
@pytest.mark.parametrize("name", list(GUARDED))
def test_conformance_guarded(name, check):
    CHECKS[check](lambda: make(name, **GUARDED[name]))


@pytest.mark.million
@pytest.mark.parametrize("name", FAST)
def test_bounded_memory_1m(name):
    check_bounded_memory(lambda: make(name), n=1_000_000)


@pytest.mark.parametrize(
    ("name", "param", "value"), [(n, p, v) for n, cases in BAD.items() for p, v in cases]
)
def test_bad_param_names_it(name, param, value):
    with pytest.raises(ParamError, match=param):
        make(name, **{param: value})


def test_unknown_name_and_param():
    with pytest.raises(ParamError, match="did you mean 'ewma'"):
        make("ewm")
    with pytest.raises(ParamError, match="unknown parameter 'lambda_'"):
        make("ewma", lambda_=0.2)
    with pytest.raises(ParamError, match="known:"):
        make("zzzzzz")
