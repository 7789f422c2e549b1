"""Conformance checks every detector must pass, in the spirit of ``river/checks``.

Each ``check_*`` takes a *factory* (a no-argument callable returning a fresh detector)
and raises ``AssertionError`` with a message saying what broke. The test suite runs them
for every registered detector (``tests/models/test_conformance.py``);
``python -m models.checks`` prints speed and state size per detector.

- pickle round-trip (and deepcopy): equal future scores;
- ``score_one`` is pure: the pickled state is byte-identical before and after;
- ``update_many`` equals ``update`` in a loop;
- bounded memory: the pickled state stops growing once the windows are full;
- NaN, +-inf, absurd (+-1e308), constant, huge, tiny and empty input do not crash,
  scores stay finite;
- deterministic: two detectors from the same factory give identical scores;
- warm-up: the score is 0.0 while the detector is not ``ready``, and it gets ready.
"""

from __future__ import annotations

import copy
import math
import pickle
import time
from collections.abc import Callable

import numpy as np

from models.base import Detector

Factory = Callable[[], Detector]

#: 2027-01-04 00:00 UTC, a Monday: synthetic streams start here, one reading per 5 min.
T0 = 1_799_020_800.0
STEP = 300.0


def stream(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic series (daily cycle, noise, spikes, a level shift) and its times.

    Examples
    --------
    >>> xs, ts = stream(1000)
    >>> xs.shape, float(ts[1] - ts[0])
    ((1000,), 300.0)
    """
    rng = np.random.default_rng(seed)
    ts = T0 + STEP * np.arange(n)
    day = np.sin(2 * np.pi * (ts % 86400) / 86400)
    xs = 50.0 + 10.0 * day + rng.normal(0.0, 1.0, n)
    xs[rng.integers(0, n, max(1, n // 200))] += 25.0
    xs[n * 3 // 4 :] += 8.0
    return xs, ts


def _feed(d: Detector, xs: np.ndarray, ts: np.ndarray, batch: int = 500) -> np.ndarray:
    out = [d.update_many(xs[i : i + batch], ts[i : i + batch]) for i in range(0, len(xs), batch)]
    return np.concatenate(out) if out else np.zeros(0)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def check_pickle_roundtrip(factory: Factory, n: int = 1500, m: int = 800) -> None:
    """A detector restored from its pickle (or deep-copied) scores the future identically."""
    xs, ts = stream(n + m, seed=1)
    d = factory()
    _feed(d, xs[:n], ts[:n])
    blob = pickle.dumps(d)
    twins = {"pickle": pickle.loads(blob), "deepcopy": copy.deepcopy(d)}
    want = _feed(d, xs[n:], ts[n:])
    for how, e in twins.items():
        got = _feed(e, xs[n:], ts[n:])
        assert _same(want, got), f"{how} round-trip changed future scores"


def check_score_pure(factory: Factory, n: int = 1500) -> None:
    """``score_one`` leaves the state byte-identical, whatever the value."""
    xs, ts = stream(n, seed=2)
    d = factory()
    _feed(d, xs, ts)
    before = pickle.dumps(d)
    for x in (float(xs[-1]), 0.0, -1e6, 1e6, float(xs.mean()), math.nan, math.inf):
        d.score_one(x, float(ts[-1]) + STEP)
    assert pickle.dumps(d) == before, "score_one changed the state"


def check_batch_equals_loop(factory: Factory, n: int = 1200) -> None:
    """``update_many`` returns exactly what ``update`` in a loop does, and leaves the same state."""
    xs, ts = stream(n, seed=3)
    xs[[5, 400, 900]] = [math.nan, math.inf, -math.inf]
    a, b = factory(), factory()
    sa = _feed(a, xs, ts, batch=97)
    sb = np.array([b.update(x, t) for x, t in zip(xs.tolist(), ts.tolist(), strict=True)])
    assert _same(sa, sb), "update_many differs from update"
    assert pickle.dumps(a) == pickle.dumps(b), "update_many leaves a different state"


def state_size(factory: Factory, n: int, seed: int = 4) -> list[tuple[int, int]]:
    """Pickled size after 1/4, 1/2 and all of ``n`` readings: ``[(readings, bytes), ...]``."""
    xs, ts = stream(n, seed=seed)
    d = factory()
    sizes, done = [], 0
    for stop in (n // 4, n // 2, n):
        _feed(d, xs[done:stop], ts[done:stop], batch=5000)
        done = stop
        sizes.append((stop, len(pickle.dumps(d))))
    return sizes


def check_bounded_memory(factory: Factory, n: int = 20_000) -> None:
    """The pickled state stops growing once the detector's windows are full.

    Compressed state (HST) varies a little with content, hence the 25 % slack; anything
    that grows with the number of readings doubles between ``n / 2`` and ``n``.
    """
    sizes = state_size(factory, n)
    (_, a), (_, b), (_, c) = sizes  # growth with n would double from n/2 to n
    assert c <= 1.25 * max(a, b) + 256, f"state keeps growing: {sizes}"


def _extreme(xs: np.ndarray) -> np.ndarray:
    """Ordinary values with absurd ones mixed in (+-1e308, 1e200, subnormals)."""
    out = xs.copy()
    out[100::50] = 1e308
    out[125::50] = -1e308
    out[110::70] = 1e200
    out[130::97] = 5e-324
    return out


def check_bad_input(factory: Factory) -> None:
    """NaN, +-inf, absurd, constant, huge, tiny and empty input: no crash, finite scores."""
    d = factory()
    assert d.update(math.nan) == 0.0 and d.update(math.inf) == 0.0, "non-finite x must score 0"
    assert len(d.update_many(np.zeros(0))) == 0, "empty batch must give no scores"
    assert len(d.update_many(np.zeros(0), np.zeros(0))) == 0
    xs, ts = stream(1200, seed=5)
    bad = xs.copy()
    bad[::7] = math.nan
    bad[3::11] = math.inf
    bad[5::13] = -math.inf
    cases = {
        "nan/inf mixed": bad,
        "constant": np.full(1200, 3.0),
        "zeros": np.zeros(1200),
        "huge": xs * 1e12,
        "tiny": xs * 1e-12,
        "steps": np.repeat(np.arange(12.0), 100),
        "extreme": _extreme(xs),
    }
    for what, series in cases.items():
        d = factory()
        s = _feed(d, series, ts)
        assert np.all(np.isfinite(s)), f"{what}: non-finite score"
        for x in (math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324):
            d.score_one(x)  # must not raise


def check_deterministic(factory: Factory, n: int = 1500) -> None:
    """Two detectors from the same (seeded) factory give identical scores."""
    xs, ts = stream(n, seed=6)
    assert _same(_feed(factory(), xs, ts), _feed(factory(), xs, ts)), "not deterministic"


def check_warmup(factory: Factory, n: int = 3000) -> None:
    """Score 0.0 while not ``ready`` (no alert during warm-up); ready by the end."""
    xs, ts = stream(n, seed=7)
    xs[::50] += 1000.0  # anomalies during warm-up must not alert either
    d = factory()
    assert not d.ready, "a fresh detector must not be ready"
    for x, t in zip(xs.tolist(), ts.tolist(), strict=True):
        if d.ready:
            break
        s = d.update(x, t)
        assert s == 0.0, f"score {s} during warm-up"
    assert d.ready, f"not ready after {n} readings"


CHECKS: dict[str, Callable[[Factory], None]] = {
    "pickle_roundtrip": check_pickle_roundtrip,
    "score_pure": check_score_pure,
    "batch_equals_loop": check_batch_equals_loop,
    "bounded_memory": check_bounded_memory,
    "bad_input": check_bad_input,
    "deterministic": check_deterministic,
    "warmup": check_warmup,
}


def measure(factory: Factory, n: int = 20_000, batch: int = 1000) -> dict[str, float]:
    """Speed and state size: us per reading through ``update_many`` and through ``update``,
    pickled state bytes, and pickle / deepcopy time of the state, after ``n`` readings."""
    xs, ts = stream(n, seed=8)
    d = factory()
    t = time.perf_counter()
    _feed(d, xs, ts, batch=batch)
    many = (time.perf_counter() - t) / n * 1e6
    k = min(n, 5000)
    e = factory()
    _feed(e, xs[: n - k], ts[: n - k], batch=batch)
    t = time.perf_counter()
    for x, s in zip(xs[n - k :].tolist(), ts[n - k :].tolist(), strict=True):
        e.update(x, s)
    one = (time.perf_counter() - t) / k * 1e6
    t = time.perf_counter()
    blob = pickle.dumps(d)
    dump = (time.perf_counter() - t) * 1e6
    t = time.perf_counter()
    copy.deepcopy(d)
    deep = (time.perf_counter() - t) * 1e6
    return {
        "us_update_many": many,
        "us_update": one,
        "points_per_s": 1e6 / many,
        "state_bytes": len(blob),
        "us_pickle": dump,
        "us_deepcopy": deep,
    }


def main() -> None:
    """Print :func:`measure` for every registered detector (defaults)."""
    from models.registry import NAMES, make

    print(f"{'detector':14} {'us/pt many':>10} {'us/pt one':>10} {'pts/s':>9} "
          f"{'state B':>8} {'pickle us':>9} {'deepcopy us':>11}")  # fmt: skip
    for name in NAMES:
        r = measure(lambda name=name: make(name))
        print(
            f"{name:14} {r['us_update_many']:10.1f} {r['us_update']:10.1f} "
            f"{r['points_per_s']:9.0f} {r['state_bytes']:8d} {r['us_pickle']:9.0f} "
            f"{r['us_deepcopy']:11.0f}"
        )


if __name__ == "__main__":
    main()
