"""Engine._due (a key's next timer) against a plain per-sensor reference."""

from __future__ import annotations

import math
import random

from rules.engine import Engine, KeyState, _rs_due
from tests.rules.conftest import reading, utc


def reference(engine: Engine, st: KeyState, now: float) -> float | None:
    """Every deadline of every sensor, one by one (the definition)."""
    dues = []
    ev = engine.event_now(now)
    for s in st.sensors.values():
        if s.last_ts > -math.inf:
            for uid in s.nd:
                rule = engine.rules.get(uid)
                if rule is None or (s.rs and uid in s.rs):
                    continue
                sil = engine._silence(rule, s)
                dues.append(s.last_now + sil)
                dues.append(now + max(0.0, s.last_ts + sil - ev) / engine.speed)
        lag = s.last_now - s.last_ts if s.last_ts > -math.inf else st.lag
        for uid, rs in (s.rs or {}).items():
            rule = engine.rules.get(uid)
            if rule is not None and rule.no_data is None:
                d = _rs_due(rule, rs, lag)
                if d is not None:
                    dues.append(d)
    return min(dues) if dues else None


def test_due_is_the_earliest_deadline_of_any_sensor():
    rnd = random.Random(3)
    engine = Engine()
    t0 = utc("2026-11-24T00:00")
    kinds = ["electricity_kw", "temperature_c", "co2_ppm", "light_on", "pm25_ugm3"]
    st = KeyState()
    checked = 0
    with_states = 0
    for step in range(40):
        rs = []
        for j, kind in enumerate(kinds):
            if rnd.random() < 0.7:  # irregular sensors: periods and silences differ
                v = rnd.choice([0.0, 1.0, 12.5, 900.0, 30.0 + rnd.random()])
                rs.append(reading(f"metz/mairie/s{j}", t0 + 300 * step + rnd.randint(0, 200),
                                  v, kind))
        now = t0 + 300 * step + 3600 * rnd.random()
        engine.process(st, sorted(rs, key=lambda r: r.ts), now)
        with_states += any(s.rs for s in st.sensors.values())
        for probe in (now, now + 5000.0):
            engine.speed = rnd.choice([1.0, 7.5, 300.0])
            engine._wm, engine._wm_now = rnd.choice([(-math.inf, 0.0), (t0 + 300 * step, now)])
            assert engine._due(st, probe) == reference(engine, st, probe)
            checked += 1
    assert checked == 80
    assert with_states > 5  # rule states' deadlines were in the mix
