"""Timers and the stream clock: a replay's alerts must not depend on scheduling.

In a replay, event time runs much faster than the wall clock and the inputs (Kafka
partitions) are read at different paces, so a key's sensors, or an engine's keys, are
not at the same event time. A timer must only stand in for the *sensor's own* missing
readings: a sibling's newer reading, or a faster partition, must not decide for it.
Live, timers still stand in for a sensor that stops reporting.
"""

from __future__ import annotations

import pytest

from rules.alert import Alert
from rules.engine import Engine, KeyState
from rules.load import load_pack
from tests.rules.conftest import NODATA, reading, utc

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
  - name: Leak
    kind: water_lph
    when: value >= 2
    clear: value < 1
    for: 3h
    severity: warning
"""

T0 = utc("2026-11-24T00:00")
W0 = 1_800_000_000.0  # wall clock: days after the event times (a replay of history)
STEP = 300.0


def _tick_due(engine: Engine, st: KeyState, now: float, out: list[Alert]) -> None:
    """What the flow does after a batch: wake the key if its deadline has passed."""
    d = engine.deadline(st)
    if d is not None and d <= now:
        out.extend(engine.tick(st, now))


def _feed(engine: Engine, st: KeyState, rs: list, now: float, out: list[Alert]) -> None:
    out.extend(engine.process(st, rs, now)[0])
    _tick_due(engine, st, now, out)


def test_a_siblings_newer_readings_do_not_escalate_a_sensor_by_timer(write_pack):
    """A site's thermometer (slow partition) and its meter (fast partition, 3 hours
    ahead): the thermometer's escalation after 2 hours is decided by its own readings,
    not by a timer that takes the meter's event time for the site's."""
    engine = Engine([load_pack(write_pack(ESC))])
    st = engine.new_state()
    out: list[Alert] = []
    now = W0
    for i in range(4):  # hot from 00:00, fires at 00:10
        now += 0.001
        _feed(engine, st, [reading("metz/x/t", T0 + STEP * i, 60, "temperature_c")], now, out)
    for i in range(40):  # the meter's partition runs 3 h 20 ahead
        now += 0.001
        _feed(engine, st, [reading("metz/x/e", T0 + STEP * i, 5, "electricity_kw")], now, out)
    for i in range(4, 30):  # the thermometer catches up, still hot
        now += 0.001
        _feed(engine, st, [reading("metz/x/t", T0 + STEP * i, 60, "temperature_c")], now, out)
    got = [(a.status, a.severity, a.starts_at) for a in out if a.rule == "Hot"]
    assert got == [("firing", "info", "2026-11-24T00:00:00.000Z"),
                   ("firing", "critical", "2026-11-24T00:00:00.000Z")]


def test_a_siblings_newer_readings_do_not_complete_a_for_duration(write_pack):
    """Water flowing for 1 h 40, then stopping: no 3-hour leak, whatever the site's
    other meter (3 h 20 ahead in a faster partition) says about the time."""
    engine = Engine([load_pack(write_pack(ESC))])
    st = engine.new_state()
    out: list[Alert] = []
    now = W0
    for i in range(20):
        now += 0.001
        _feed(engine, st, [reading("metz/x/w", T0 + STEP * i, 3, "water_lph")], now, out)
    for i in range(40):
        now += 0.001
        _feed(engine, st, [reading("metz/x/e", T0 + STEP * i, 5, "electricity_kw")], now, out)
    for i in range(20, 40):
        now += 0.001
        _feed(engine, st, [reading("metz/x/w", T0 + STEP * i, 0, "water_lph")], now, out)
    assert [a for a in out if a.rule == "Leak"] == []


def test_live_timers_still_stand_in_for_a_silent_sensor(write_pack):
    """Live (processing time = event time + 2 s): the hot thermometer stops reporting
    while its site's meter goes on; its ``for:`` and escalation still fire on timers."""
    engine = Engine([load_pack(write_pack(ESC))])
    st = engine.new_state()
    out: list[Alert] = []
    engine.process(st, [reading("metz/x/t", T0, 60, "temperature_c")], T0 + 2)
    for i in range(1, 30):  # the meter every 5 minutes, 2 s late; timers run in between
        t = T0 + STEP * i
        for k in range(5):
            _tick_due(engine, st, t - STEP + 60 * (k + 1), out)
        _feed(engine, st, [reading("metz/x/e", t, 5, "electricity_kw")], t + 2, out)
    got = [(a.status, a.severity, a.detected_at[11:16]) for a in out if a.rule == "Hot"]
    assert got == [("firing", "info", "00:10"), ("firing", "critical", "02:00")]


def _site_pair(engine: Engine, n: int) -> dict[str, KeyState]:
    return {f"metz/s{j}": engine.new_state() for j in range(n)}


def test_a_lagging_partition_does_not_make_its_sensors_silent(write_pack):
    """Sites whose two sensors sit in two partitions, one read 1 hour ahead of the
    other: with the partitions' progress (``advance``) no sensor of the slow partition
    is silent; one that really stops is, once its own partition has moved past."""
    engine = Engine([load_pack(write_pack(NODATA))])
    sites = _site_pair(engine, 12)
    out: list[Alert] = []
    now = W0
    for i in range(200):  # partition "a" at minute i, partition "b" at minute i - 60
        now += 0.01
        for key, st in sites.items():
            out.extend(engine.process(
                st, [reading(f"{key}/a", T0 + 60 * i, 1, "light_on")], now)[0])
        engine.advance("a", T0 + 60 * i, now)
        if i >= 60:
            j = i - 60
            for key, st in sites.items():
                if key == "metz/s0" and j > 50:
                    continue  # this sensor stops after minute 50
                out.extend(engine.process(
                    st, [reading(f"{key}/b", T0 + 60 * j, 1, "light_on")], now)[0])
            engine.advance("b", T0 + 60 * j, now)
        for st in sites.values():
            _tick_due(engine, st, now, out)
    assert [(a.sensor, a.status, a.starts_at) for a in out] == [
        ("metz/s0/b", "firing", "2026-11-24T00:55:00.000Z")]  # minute 50 + 5 min


def test_the_stream_clock_is_the_slowest_source():
    engine = Engine([])
    assert engine.event_now(W0) == -float("inf") or engine.event_now(W0) < T0
    engine.advance(("readings", 0), T0 + 600, W0)
    engine.advance(("readings", 1), T0 + 60, W0 + 1)
    assert engine.event_now(W0 + 5) == T0 + 60       # no wall-clock guess in a replay
    engine.advance(("readings", 1), T0 + 900, W0 + 2)
    assert engine.event_now(W0 + 5) == T0 + 600
    engine.advance(("readings", 0), T0 + 300, W0 + 3)  # never backwards
    assert engine.event_now(W0 + 5) == T0 + 600


def _silent_sensor(engine: Engine, ticks: bool) -> list[Alert]:
    """Two sensors of one partition every 5 min in a 1000x replay; one is silent from
    00:50 to 02:00. ``ticks``: timers run after each batch (else never)."""
    st, other = engine.new_state(), engine.new_state()
    out: list[Alert] = []
    for i in range(40):
        t = T0 + STEP * i
        now = W0 + (t - T0) / 1000.0
        engine.process(other, [reading("metz/y/t", t, 20, "temperature_c")], now)
        if not 10 < i < 24:
            out.extend(engine.process(st, [reading("metz/x/t", t, 20, "temperature_c")],
                                      now)[0])
        engine.advance("p", t, now)
        if ticks:
            _tick_due(engine, st, now, out)
    return out


@pytest.mark.parametrize("ticks", [True, False])
def test_a_silence_is_reported_whether_or_not_a_timer_saw_it(write_pack, ticks):
    """The timer may run too late in a replay (the sensor's next reading first): the
    reading then raises and resolves the very same alert."""
    got = _silent_sensor(Engine([load_pack(write_pack(NODATA))]), ticks)
    assert [(a.status, a.starts_at, a.ends_at) for a in got] == [
        ("firing", "2026-11-24T01:05:00.000Z", None),       # 00:50 + 15 min (3 periods)
        ("resolved", "2026-11-24T01:05:00.000Z", "2026-11-24T02:00:00.000Z")]
    assert got[0].id == got[1].id
