"""The engine's detectors per sensor: each learns every reading once, including when a
sensor's state lacks one (a pack gained a rule since the snapshot)."""

from __future__ import annotations

from rules.engine import Engine, KeyState
from tests.rules.conftest import reading, utc


def test_each_detector_learns_each_reading_once_even_when_one_is_built_late():
    engine = Engine()
    st = KeyState()
    t0 = utc("2026-11-24T00:00")
    name = "metz/mairie/elec-1"
    for i in range(30):
        engine.process(st, [reading(name, t0 + 900 * i, 10.0 + i % 4, "electricity_kw")],
                       t0 + 900 * i)
    dets = st.sensors[name].dets
    assert dets is not None and len(dets) >= 2
    # a detector missing from the state (a new rule's), other than the first
    late = list(dets)[1]
    del dets[late]
    before = {k: d._n for k, d in dets.items() if hasattr(d, "_n")}
    assert before
    t = t0 + 900 * 30
    engine.process(st, [reading(name, t, 11.0, "electricity_kw")], t)
    assert late in dets  # built on the spot
    assert {k: dets[k]._n for k in before} == {k: n + 1 for k, n in before.items()}
