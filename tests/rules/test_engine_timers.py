"""Timers: in live operation they stand in for a sensor's own missing readings.

(The replay side, where timers must not depend on scheduling or on how keys are spread
over workers, is tested with the timer fix: see the report of the 1 vs 2 process
investigation.)
"""

from __future__ import annotations

from rules.alert import Alert
from rules.engine import Engine, KeyState
from rules.load import load_pack
from tests.rules.conftest import reading, utc

ESC = """\
name: esc
rules:
  - name: Hot
    kind: temperature_c
    when: value > 50
    for: 10m
    severity: info
    escalate:
      - {after: 2h, severity: critical}
"""

T0 = utc("2026-11-24T00:00")
STEP = 300.0


def _tick_due(engine: Engine, st: KeyState, now: float, out: list[Alert]) -> None:
    """What the flow does: wake the key once its deadline has passed."""
    d = engine.deadline(st)
    if d is not None and d <= now:
        out.extend(engine.tick(st, now))


def test_live_timers_still_stand_in_for_a_silent_sensor(write_pack):
    """Live (processing time = event time + 2 s): the hot thermometer stops reporting
    while its site's meter goes on; its ``for:`` and escalation still fire on timers,
    once each, at the event times they are due."""
    engine = Engine([load_pack(write_pack(ESC))])
    st = engine.new_state()
    out: list[Alert] = []
    engine.process(st, [reading("metz/x/t", T0, 60, "temperature_c")], T0 + 2)
    for i in range(1, 30):  # the meter every 5 minutes, 2 s late; timers in between
        t = T0 + STEP * i
        for k in range(5):
            _tick_due(engine, st, t - STEP + 60 * (k + 1), out)
        out.extend(engine.process(st, [reading("metz/x/e", t, 5, "electricity_kw")], t + 2)[0])
        _tick_due(engine, st, t + 2, out)
    got = [(a.status, a.severity, a.starts_at[11:16], a.detected_at[11:16]) for a in out
           if a.rule == "Hot"]
    assert got == [("firing", "info", "00:00", "00:10"), ("firing", "critical", "00:00", "02:00")]
