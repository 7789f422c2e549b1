"""Run by ``test_compiled.py`` in a subprocess (``SENTINELLE_PURE`` set or not): feeds the
compiled detectors and the rule engine fixed inputs and prints one JSON line of digests
of everything they return and keep (scores, expectations, pickled state, alerts)."""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import random
import sys
from collections import defaultdict

from models import compiled
from models.registry import build

SPECS = [
    {"name": "robust_z", "window": 12, "min_samples": 4},
    {"name": "robust_z", "window": 96, "min_samples": 24, "guard": 6, "patience": 5},
    {"name": "mad", "window": 16, "min_samples": 4},
    {"name": "seasonal", "period": "day", "min_samples": 10},
    {"name": "seasonal", "period": "week", "min_samples": 10, "guard": 4},
    {"name": "flatline", "run": 4, "min_samples": 3},
    {"name": "flatline", "run": 6, "rel_tol": 0.01, "min_samples": 3},
    {"name": "context_novelty", "history": 40, "min_samples": 5},
    {"name": "context_novelty", "bins": 16, "order": 3, "rest": 0, "guard": 0.9},
    {"name": "likelihood", "detector": {"name": "robust_z", "window": 24}, "short": 3,
     "min_samples": 10},
    {"name": "ensemble", "how": "min", "calibrate": False, "guard": 5, "patience": 12,
     "members": [{"name": "robust_z", "window": 96, "min_samples": 24},
                 {"name": "seasonal", "period": "day"}]},
    {"name": "ensemble", "how": "max", "members": ["robust_z", "flatline"]},
]  # fmt: skip


def series(seed: int, n: int = 1500) -> list[tuple[float, float]]:
    """Levels, short decimals, long decimals, ints, repeats, jumps and odd values."""
    rng = random.Random(seed)
    odd = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1e200, 5e-324, -0.0, 0.0, 7, -3]
    out = []
    t = 1.7e9
    level = 20.0
    for i in range(n):
        t += rng.choice((60.0, 300.0, 900.0, 3600.0))
        r = rng.random()
        if r < 0.02:
            x = rng.choice(odd)
        elif r < 0.05:
            x = level * rng.uniform(3, 30)  # a spike
        elif r < 0.15 and out:
            x = out[-1][0]  # a repeat
        elif r < 0.4:
            x = round(level + rng.gauss(0, 2), 1)
        else:
            x = level + rng.gauss(0, 2) + 5 * math.sin(t / 86400 * 2 * math.pi)
        if i % 500 == 499:
            level *= rng.choice((0.1, 3.0, 1.0))
        out.append((x, t))
    return out


def quantised(seed: int, n: int = 1500) -> list[tuple[float, float]]:
    """Short decimals at magnitudes that fit each compact window form (1, 2 and 4-byte
    integers, 0-3 decimals), with zeros, negatives, repeats and a step to a value
    that does not fit: the windows' integer paths."""
    rng = random.Random(1000 + seed)
    out = []
    t = 1.7e9
    level, dec = 5.0, 1
    for i in range(n):
        t += 300.0
        if i % 300 == 0:
            level, dec = rng.choice(((5.0, 1), (-40.0, 0), (230.0, 2), (9000.0, 3), (0.0, 1)))
        r = rng.random()
        if r < 0.1:
            x = 0.0
        elif r < 0.2 and out:
            x = out[-1][0]
        elif r < 0.3 and 600 <= i < 620:
            x = level + 0.123456789  # not a short decimal: doubles, then narrow again
        else:
            x = round(level + rng.gauss(0, 1 + abs(level) * 0.05), dec)
        out.append((x, t))
    return out


def detectors() -> str:
    h = hashlib.sha256()
    for spec in SPECS:
        for seed in range(6):
            d = build(spec)
            xs = series(seed) if seed < 3 else quantised(seed)
            for i, (x, t) in enumerate(xs):
                h.update(repr((d.score_one(x, t), d.update(x, t), d.ready,
                               d.expected(t))).encode())
                if i % 97 == 0:  # state round trip mid-stream
                    blob = pickle.dumps(d, protocol=5)
                    h.update(blob)
                    d = pickle.loads(blob)
            h.update(pickle.dumps(d, protocol=5))
    return h.hexdigest()


def engine() -> tuple[str, int]:
    from flows.city import make_engine
    from flows.config import Config
    from flows.sim import City

    eng = make_engine(Config(bootstrap="unused:0"))
    city = City(seed=3, sensors_per_commune=8)
    states: dict = {}
    h = hashlib.sha256()
    n = 0
    for step in city.steps(150):
        groups = defaultdict(list)
        for r in step:
            groups[r.subject].append(r)
        for k, rs in groups.items():
            st = states.get(k) or states.setdefault(k, eng.new_state())
            for a in eng.process(st, rs, 1.8e9)[0]:
                n += 1
                h.update(repr((a.id, a.status, a.rule, a.sensor, a.starts_at, a.ends_at,
                               a.value, a.expected, a.score, a.summary)).encode())
    for k in sorted(states):
        h.update(pickle.dumps(states[k], protocol=5))
    return h.hexdigest(), n


if __name__ == "__main__":
    e, n = engine()
    print(json.dumps({"compiled": compiled.status(), "detectors": detectors(), "engine": e,
                      "alerts": n}))
    sys.exit(0)
