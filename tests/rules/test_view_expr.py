"""The active-alerts view and the expression compiler."""

from __future__ import annotations

import pytest

from rules.expr import Expr, ExprError, doubles
from rules.view import active_by_commune, render


def ev(id: str, status: str, commune: str = "metz", sev: str = "warning", **kw) -> dict:
    return {"id": id, "status": status, "commune": commune, "severity": sev, "rule": "R",
            "sensor": f"{commune}/s", "starts_at": kw.pop("starts_at", "2026-01-01T00:00:00Z"),
            **kw}


def test_active_per_commune_follows_fire_update_resolve():
    events = [ev("a", "firing"), ev("b", "firing", "woippy", "info"),
              ev("c", "firing", sev="info", starts_at="2025-12-31T00:00:00Z"),
              ev("a", "firing", sev="critical"), ev("b", "resolved", "woippy"),
              ev("b", "firing", "woippy", "info"),  # a late duplicate after its resolution
              ev("a", "firing")]  # at-least-once re-delivery of an older event... stays
    g = active_by_commune(events)
    assert list(g) == ["metz"]
    assert [a["id"] for a in g["metz"]] == ["a", "c"]
    assert active_by_commune(events, "woippy") == {}
    assert "metz (2 active)" in render(g)
    assert render({}) == "no active alerts"


def test_int_literals_become_doubles_outside_strings_and_indexes():
    assert doubles("100 - value > 5 && attrs.c[0] > 1 && kind == 'pm10'") == \
        "100.0 - value > 5.0 && attrs.c[0] > 1.0 && kind == 'pm10'"
    assert Expr("(100 - value) / 2 > 10", {"value"}).run({"value": 50.0}) is True


@pytest.mark.parametrize("src,names,values,pre_false", [
    ("value >= 80", {"value"}, (79.0, None, 0.0, 0.0, 0.0, 0.0, 0.0, {}), True),
    ("score >= 6 && value > 1", {"score", "value"}, (5.0, 1.0, 0, 0, 0, 0, 0, {}), True),
    ("has(attrs.lvl) && value >= attrs.lvl", {"value", "attrs"},
     (2.0, None, 0, 0, 0, 0, 0, {"lvl": 3}), True),
    ("has(attrs.lvl) && value >= attrs.lvl", {"value", "attrs"},
     (2.0, None, 0, 0, 0, 0, 0, {}), True),
])
def test_prefilter_agrees_with_cel(src, names, values, pre_false):
    e = Expr(src, names)
    assert e.fast_only
    assert e.prefilter(values) is (not pre_false)
    ctx = {"value": values[0], "score": values[1], "attrs": values[7]}
    try:
        cel = e.run({k: ctx[k] for k in e.names}) is True
    except Exception:  # noqa: BLE001 - a missing attribute: the rule does not apply
        cel = False
    assert cel is e.prefilter(values)


def test_prefilter_with_or_is_not_split():
    e = Expr("value > 5 || value < 1", {"value"})
    assert e.pre == () and not e.fast_only


@pytest.mark.parametrize("src,msg", [("valeu > 1", "unknown name"), ("value >", "compile"),
                                     ("max(value, 1) > 2 && foo(1)", "unknown function")])
def test_expression_errors(src, msg):
    with pytest.raises(ExprError, match=msg):
        Expr(src, {"value"})


def test_comprehension_variables_are_not_unknown_names():
    e = Expr("[1, 2].exists(x, x > value)", {"value"})
    assert e.run({"value": 1.5}) is True
