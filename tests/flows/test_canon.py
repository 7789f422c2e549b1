"""flows.canon: a sensor's readings share its strings while they are equal."""

from __future__ import annotations

from flows import canon
from flows.canon import Canon


def fresh(s: str) -> str:
    return "".join(list(s))  # an equal string, another object


def test_equal_strings_are_shared_and_changes_are_taken_as_they_are():
    c = Canon()
    a = c.reading(fresh("s1"), 1.0, 2.0, fresh("kw"), fresh("kW"), fresh("metz"), fresh("a"), {})
    b = c.reading(fresh("s1"), 2.0, 3.0, fresh("kw"), fresh("kW"), fresh("metz"), fresh("a"),
                  {"x": 1})
    assert (b.sensor, b.kind, b.unit, b.commune, b.site) == ("s1", "kw", "kW", "metz", "a")
    assert b.sensor is a.sensor and b.kind is a.kind and b.site is a.site
    assert (b.ts, b.value, b.attrs) == (2.0, 3.0, {"x": 1})  # per reading, never shared
    moved = c.reading(fresh("s1"), 3.0, 4.0, "kw", "kW", "metz", fresh("b"), {})
    assert moved.site == "b" and c.reading("s1", 4.0, 5.0, "kw", "kW", "metz", "b", {}).site \
        is moved.site


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(canon, "LIMIT", 3)
    c = Canon()
    for i in range(10):
        c.reading(f"s{i}", 1.0, 1.0, "k", "", "", "", {})
    assert len(c.by) <= 3
