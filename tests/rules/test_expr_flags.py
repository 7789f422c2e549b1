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
