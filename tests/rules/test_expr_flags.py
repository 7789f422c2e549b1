"""Expression flags: boolean terms of a top-level ``&&`` decided without CEL."""

from __future__ import annotations

import itertools

import pytest

from rules.expr import Expr

BOOLS = {"open", "maintenance", "ready"}
NAMES = {"value", "attrs", "expected", "dt", *BOOLS}


def cel(e: Expr, env: dict) -> bool:
    try:
        return e.run({k: env[k] for k in e.names}) is True
    except Exception:  # noqa: BLE001 - an error: the rule does not apply
        return False


@pytest.mark.parametrize("src,flags,decided", [
    ("value >= 0.5 && !open && !maintenance", (("open", False), ("maintenance", False)), True),
    ("value >= 800 && open", (("open", True),), True),
    ("ready && dt > 0 && (value - expected) / dt >= 0.3", (("ready", True),), False),
    ("value > 1 && !open && (value < 5 || dt > 1)", (("open", False),), False),
    ("value > 1 || !open", (), False),  # not an && at the top level
    ("value > 1 && !(open)", (), False),  # a parenthesised term is CEL's
])
def test_flags_are_the_boolean_terms(src, flags, decided):
    e = Expr(src, NAMES, BOOLS)
    assert e.flags == flags
    assert e.decided is decided


def test_a_name_not_known_as_boolean_is_no_flag():
    e = Expr("value > 1 && open", NAMES)  # open not declared boolean: CEL decides
    assert e.flags == () and not e.decided
    env = {"value": 2.0, "open": True}
    assert e.flagged(env) is None


@pytest.mark.parametrize("src", [
    "value >= 0.5 && !open && !maintenance",
    "ready && dt > 0 && (value - expected) / dt >= 0.3",
    "attrs.missing > 1.0 && open",  # CEL's && is false when a side is, errors included
    "value > 1 && !open && (value < 5 || dt > 1)",
])
def test_flags_agree_with_cel(src):
    e = Expr(src, NAMES, BOOLS)
    for value, dt, o, m, ready in itertools.product(
            (0.0, 0.7, 2.0, 900.0), (0.0, 300.0), (True, False), (True, False), (True, False)):
        env = {"value": value, "dt": dt, "open": o, "maintenance": m, "ready": ready,
               "expected": 0.5, "attrs": {}}
        fast = (value, None, value, dt, 0.0, 0.0, 0.0, {})
        if not e.prefilter(fast):
            continue
        got = e.flagged(env)
        if got is not None:
            assert got is cel(e, env), env
        else:  # undecided only when every flag is on and something is left for CEL
            assert all(env[n] is w for n, w in e.flags) and not e.decided


def test_engine_alerts_are_the_same_with_flags_as_with_cel_alone(monkeypatch):
    from rules.engine import Engine, run
    from tests.rules.conftest import reading, utc

    rnd = __import__("random").Random(11)
    t0 = utc("2026-12-04T00:00")  # a Friday: a weekend and opening hours in the mix
    hours = {"opening_hours": "Mo-Fr 08:00-18:00; PH off"}
    maint = {**hours, "maintenance": "Sa 10:00-12:00"}
    sensors = [("metz/ecole/light-1", "light_on", hours), ("metz/ecole/light-2", "light_on", maint),
               ("metz/ecole/co2-1", "co2_ppm", hours), ("metz/poste/door", "door_open", maint),
               ("metz/rue/lamp", "electricity_kw", {"nominal_power_kw": 2.0}),
               ("metz/bac/fill", "fill_pct", {})]
    rs = []
    for i in range(4 * 24 * 3):
        for name, kind, attrs in sensors:
            v = {"light_on": float(rnd.random() < 0.5), "door_open": float(rnd.random() < 0.1),
                 "co2_ppm": rnd.choice([500.0, 900.0, 1600.0]), "electricity_kw": rnd.random(),
                 "fill_pct": float(min(100, i % 60 * 2))}[kind]
            rs.append(reading(name, t0 + 900 * i, v, kind, attrs=attrs))

    def alerts() -> list:
        engine = Engine()
        return [(a.id, a.status, a.rule, a.starts_at, a.ends_at, a.value, a.summary)
                for a in run(engine, rs, t0)]

    fast = alerts()
    monkeypatch.setattr(Expr, "flagged", lambda self, env: None)  # CEL decides everything
    assert fast == alerts()
    assert {a[2] for a in fast} >= {"LightOnOutsideOpeningHours", "Co2AirTheRoom"}
