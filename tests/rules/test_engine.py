"""Rule engine behaviour: new packs with no code change, calendars (DST, public holidays),
the school light scenario, missing data, escalation, flapping, state snapshots."""

from __future__ import annotations

import pickle

import msgspec
import pytest

from models.reading import Reading
from rules.engine import Engine, KeyState, run
from rules.load import load_pack
from rules.testing import simulate
from tests.rules.conftest import NODATA, reading, utc

SCHOOL = "metz/ecole-jean-moulin"


def light(ts: str, v: float, **attrs: object) -> Reading:
    return reading(f"{SCHOOL}/light-hall", ts, v, "light_on", attrs=attrs)


def test_a_brand_new_pack_fires_with_no_code_change(write_pack, tmp_path):
    write_pack("""\
# sauna: a new use case, no code
name: sauna
match: {kind: sauna_temp_c, commune: metz}
rules:
  - name: SaunaTooHot
    when: value > 110 && site.door_open == 0
    for: 2 readings
    severity: critical
    summary: "{site_id} sauna at {value:.0f} C with the door shut"
""", "sauna.yaml")
    engine = Engine.from_paths([tmp_path])
    rs = [reading("metz/piscine/door", "2026-11-24T10:00", 0, "door_open")]
    rs += [reading("metz/piscine/sauna", f"2026-11-24T10:0{i}", v, "sauna_temp_c")
           for i, v in enumerate([90, 115, 120, 95])]
    rs.append(reading("woippy/piscine/sauna", "2026-11-24T10:05", 130, "sauna_temp_c"))
    got = run(engine, rs, now=utc("2026-11-24T10:10"))
    assert [(a.status, a.rule, a.severity, a.sensor) for a in got] == [
        ("firing", "SaunaTooHot", "critical", "metz/piscine/sauna"),
        ("resolved", "SaunaTooHot", "critical", "metz/piscine/sauna"),
    ]
    assert got[0].summary == "piscine sauna at 120 C with the door shut"
    assert got[0].starts_at == "2026-11-24T10:01:00.000Z"


def test_school_light_at_23h_for_20_minutes_from_contract_json():
    """Contract JSON readings, default packs: exactly one firing with an impact, then one
    resolved (and nothing else)."""
    engine = Engine()
    raw = [
        {"sensor": f"{SCHOOL}/light-hall", "ts": f"2026-11-24T22:{m:02d}:00Z", "value": v,
         "kind": "light_on", "commune": "metz", "site": "ecole-jean-moulin",
         "attrs": {"opening_hours": "Mo-Fr 08:00-18:00; PH off", "nominal_power_kw": 0.8}}
        for m, v in [(0, 1), (5, 1), (10, 1), (15, 1), (20, 0)]
    ]
    rs = [Reading(**{**d, "ts": utc(d["ts"][:-4])}) for d in
          (msgspec.json.decode(msgspec.json.encode(x)) for x in raw)]
    got = simulate(engine, rs)
    assert [(a.status, a.rule) for a in got] == [
        ("firing", "LightOnOutsideOpeningHours"), ("resolved", "LightOnOutsideOpeningHours")]
    fire, res = got
    assert fire.id == res.id
    assert fire.pack == "lighting" and fire.severity == "warning"
    assert fire.commune == "metz" and fire.site == "ecole-jean-moulin"
    assert fire.starts_at == "2026-11-24T22:00:00.000Z"
    assert fire.impact is not None and fire.impact.eur_per_h == pytest.approx(0.2)
    assert fire.impact.kwh == pytest.approx(0.8 * 10 / 60, abs=1e-3)
    assert res.ends_at == "2026-11-24T22:20:00.000Z"
    assert res.impact.kwh == pytest.approx(0.8 * 20 / 60, abs=1e-3)
    assert fire.expected == 0.0 and fire.value == 1.0


SCHEDULE_PACK = """\
name: hours
match: {kind: light_on}
schedules:
  open: {attr: opening_hours, default: "Mo-Su 08:00-20:00; PH off"}
rules:
  - name: OnWhileClosed
    when: value > 0 && !open
  - name: Holiday
    when: value > 0 && holiday
    severity: info
  - name: TwoAm
    when: value > 0 && hour == 2
    severity: info
"""


def fired(engine: Engine, ts: str, **attrs: object) -> list[str]:
    st = engine.new_state()
    return [a.rule for a in engine.process(st, [light(ts, 1, **attrs)], utc(ts))[0]]


@pytest.fixture
def hours(write_pack) -> Engine:
    return Engine([load_pack(write_pack(SCHEDULE_PACK))])


@pytest.mark.parametrize("ts,closed", [
    # last Sunday of March 2026: clocks go 02:00 CET -> 03:00 CEST at 01:00Z
    ("2026-03-28T06:30", True),    # Saturday 07:30 CET: closed
    ("2026-03-29T06:30", False),   # Sunday 08:30 CEST: open
    ("2026-03-29T18:30", True),    # Sunday 20:30 CEST: closed
    ("2026-03-28T18:30", False),   # Saturday 19:30 CET: open
    # last Sunday of October 2026: clocks go 03:00 CEST -> 02:00 CET at 01:00Z
    ("2026-10-24T06:30", False),   # Saturday 08:30 CEST: open
    ("2026-10-25T06:30", True),    # Sunday 07:30 CET: closed
    ("2026-10-25T07:30", False),   # Sunday 08:30 CET: open
    ("2026-10-25T19:30", True),    # Sunday 20:30 CET: closed
])
def test_schedule_across_dst_changes(hours, ts, closed):
    assert ("OnWhileClosed" in fired(hours, ts)) is closed


def test_the_repeated_hour_of_october_and_the_missing_hour_of_march(hours):
    assert "TwoAm" in fired(hours, "2026-10-25T00:30")   # 02:30 CEST
    assert "TwoAm" in fired(hours, "2026-10-25T01:30")   # 02:30 CET, again
    # 29 March: 00:59Z is 01:59 CET and 01:00Z is 03:00 CEST: 02:xx never happens
    assert "TwoAm" not in fired(hours, "2026-03-29T00:59")
    assert "TwoAm" not in fired(hours, "2026-03-29T01:00")
    assert "TwoAm" in fired(hours, "2026-03-28T01:30")   # 02:30 CET the day before


@pytest.mark.parametrize("ts,holiday,closed", [
    ("2026-07-14T10:00", True, True),    # Bastille day: PH off
    ("2026-07-15T10:00", False, False),
    ("2026-11-11T10:00", True, True),    # Armistice
    ("2026-12-26T10:00", True, False),   # St Stephen: a holiday in Moselle, not for PH
    ("2026-04-03T10:00", True, False),   # Good Friday: idem
])
def test_public_holidays(hours, ts, holiday, closed):
    got = fired(hours, ts)
    assert ("Holiday" in got) is holiday
    assert ("OnWhileClosed" in got) is closed


def test_opening_hours_from_the_reading_attributes_override_the_default(hours):
    assert "OnWhileClosed" in fired(hours, "2026-11-24T10:00", opening_hours="Mo-Fr 14:00-18:00")
    assert "OnWhileClosed" not in fired(hours, "2026-11-24T22:00", opening_hours="24/7")
    # an unreadable registry value falls back to the pack default, it does not crash
    assert "OnWhileClosed" not in fired(hours, "2026-11-24T10:00", opening_hours="Mo-Fx ;;")


def test_school_holidays_are_data(write_pack):
    engine = Engine([load_pack(write_pack(SCHEDULE_PACK.replace("holiday", "school_holiday")))])
    assert "Holiday" in fired(engine, "2026-10-20T10:00")       # Toussaint, zone B
    assert "Holiday" not in fired(engine, "2026-11-24T10:00")


def test_missing_data_fires_on_a_timer_and_resolves_when_data_returns(write_pack):
    engine = Engine([load_pack(write_pack(NODATA))])
    st = engine.new_state()
    t0 = utc("2026-11-24T10:00")
    for i in range(5):  # one reading a minute, processing time = event time + 2 s
        assert engine.process(st, [light(t0 + 60 * i, 0)], t0 + 60 * i + 2)[0] == []
    last_now = t0 + 4 * 60 + 2
    assert engine.deadline(st) == pytest.approx(last_now + 300)  # max(5 min, 3 x 1 min)
    assert engine.tick(st, last_now + 299) == []
    (a,) = engine.tick(st, last_now + 300)
    assert (a.status, a.rule, a.severity) == ("firing", "Silent", "critical")
    assert a.starts_at == "2026-11-24T10:09:00.000Z"   # last reading + 5 min
    assert engine.tick(st, last_now + 900) == []        # fires once
    (b,) = engine.process(st, [light(t0 + 1200, 0)], t0 + 1202)[0]
    assert (b.status, b.id) == ("resolved", a.id)
    assert b.ends_at == "2026-11-24T10:20:00.000Z"


ESCALATE = """\
name: esc
rules:
  - name: Hot
    when: value > 50
    for: 5m
    severity: info
    escalate:
      - {after: 15m, severity: warning}
      - {after: 2h, severity: critical}
"""


def test_escalation_updates_only_on_severity_change(write_pack):
    engine = Engine([load_pack(write_pack(ESCALATE))])
    t0 = utc("2026-07-01T12:00")
    rs = [reading("metz/x/t", t0 + 300 * i, 60, "temperature_c") for i in range(30)]
    rs.append(reading("metz/x/t", t0 + 300 * 30, 20, "temperature_c"))
    got = simulate(engine, rs)
    assert [(a.status, a.severity, a.detected_at[11:16]) for a in got] == [
        ("firing", "info", "12:05"), ("firing", "warning", "12:15"),
        ("firing", "critical", "14:00"), ("resolved", "critical", "14:30")]
    assert len({a.id for a in got}) == 1


def test_escalation_runs_on_timers_when_nothing_arrives(write_pack):
    engine = Engine([load_pack(write_pack(ESCALATE))])
    t0 = utc("2026-07-01T12:00")
    rs = [reading("metz/x/t", t0, 60, "temperature_c")]
    got = simulate(engine, rs, until=t0 + 3 * 3600)
    assert [(a.severity, a.detected_at[11:16]) for a in got] == [
        ("info", "12:05"), ("warning", "12:15"), ("critical", "14:00")]


FLAP = """\
name: flap
rules:
  - name: Level
    when: value >= 4
    flap: {max_starts: 2, window: 1h}
"""


def test_flapping_is_suppressed(write_pack):
    engine = Engine([load_pack(write_pack(FLAP))])
    t0 = utc("2026-12-10T00:00")
    vals = [4, 3] * 10 + [3] * 20   # toggles every 5 minutes for 100 min, then stays low
    rs = [reading("metz/r/level", t0 + 300 * i, v, "water_level_m") for i, v in enumerate(vals)]
    got = simulate(engine, rs)
    assert [a.status for a in got] == ["firing", "resolved", "firing", "resolved"]
    assert got[3].labels.get("flapping") == "true"
    assert got[3].ends_at == "2026-12-10T01:35:00.000Z"     # when it really cleared
    assert got[3].detected_at == "2026-12-10T02:35:00.000Z"  # after a quiet hour
    # without suppression the same input gives 10 alerts
    plain = Engine([load_pack(engine.packs[0].file)])
    plain.rules["flap/Level"].flap = None
    assert len(simulate(plain, rs)) == 20


def test_state_pickles_small_and_resumes_identically():
    engine = Engine()
    t0 = utc("2026-11-24T00:00")
    rs = [reading("metz/mairie/elec-1", t0 + 900 * i, 10 + (i % 3) * 0.1 + (30 if i == 40 else 0),
                  "electricity_kw") for i in range(60)]
    full = run(engine, rs, now=t0)
    st = KeyState()
    e2 = Engine(engine.packs)
    out = []
    for i, r in enumerate(rs):
        if i % 7 == 0:
            st = pickle.loads(pickle.dumps(st))  # snapshot / restore at every "epoch"
        out.extend(e2.process(st, [r], t0)[0])
    assert [(a.id, a.status) for a in out] == [(a.id, a.status) for a in full]
    # the spike: novelty (Anomaly) and UnusualLevel both fire, then resolve
    assert sorted((a.rule, a.status) for a in full) == [
        ("Anomaly", "firing"), ("Anomaly", "resolved"),
        ("UnusualLevel", "firing"), ("UnusualLevel", "resolved")]
    # the detectors dominate: novelty (history of 300), robust z window, day profile
    assert len(pickle.dumps(st)) < 10000


def test_late_readings_are_returned_not_applied():
    engine = Engine()
    st = engine.new_state()
    a = reading("metz/mairie/elec-1", "2026-11-24T10:00", 10, "electricity_kw")
    b = reading("metz/mairie/elec-1", "2026-11-24T09:00", 10, "electricity_kw")
    alerts, late = engine.process(st, [a, b, a], utc("2026-11-24T10:00"))
    assert late == [b, a] and engine.stats.late == 2


def test_replay_gives_the_same_ids():
    t0 = utc("2026-11-24T22:00")
    rs = [light(t0 + 300 * i, v, opening_hours="Mo-Fr 08:00-18:00")
          for i, v in enumerate([1, 1, 1, 1, 0])]
    a = run(Engine(), rs, now=1.0)
    b = run(Engine(), rs, now=2.0)
    assert [x.id for x in a] == [x.id for x in b] and len(a) == 2


def test_missing_data_in_a_fast_replay_follows_the_stream_event_time(write_pack):
    """Replaying history 1000x faster than real time: a sensor that stops while the rest
    of the city goes on is silent in event time long before 5 minutes of wall clock."""
    engine = Engine([load_pack(write_pack(NODATA))])
    a = engine.new_state()
    others = {f"metz/b{j}/x": engine.new_state() for j in range(20)}
    t0, w0 = utc("2026-11-24T10:00"), 1_000_000.0
    for i in range(120):  # one reading a minute each, replayed at 1000x
        now = w0 + i * 0.06
        for name, b in others.items():
            engine.process(b, [reading(name, t0 + 60 * i, 1, "light_on")], now)
        if i < 60:
            engine.process(a, [reading("metz/a/x", t0 + 60 * i, 1, "light_on")], now)
    assert engine.speed > 100
    fired = []
    while not fired:  # what the flow does: wake the key at its deadline, tick
        due = engine.deadline(a)
        assert due is not None and due < now + 1.0   # not 5 minutes of wall clock away
        fired = engine.tick(a, max(due, now))
    (alert,) = fired
    assert alert.rule == "Silent" and alert.sensor == "metz/a/x"
    assert alert.starts_at == "2026-11-24T11:04:00.000Z"   # last reading + 5 min


def test_a_lagging_minority_does_not_make_the_others_silent(write_pack):
    """The stream clock is a low quantile of the keys' progress: when some keys (a slow
    partition) are behind, they are not reported silent."""
    engine = Engine([load_pack(write_pack(NODATA))])
    t0, w0 = utc("2026-11-24T10:00"), 1_000_000.0
    fast = {f"metz/f{j}/x": engine.new_state() for j in range(8)}
    slow = {f"metz/s{j}/x": engine.new_state() for j in range(4)}
    for i in range(200):
        now = w0 + i * 0.06
        for name, st in fast.items():
            engine.process(st, [reading(name, t0 + 60 * i, 1, "light_on")], now)
        for name, st in slow.items():  # a third of the keys, 1 hour behind
            if i >= 60:
                engine.process(st, [reading(name, t0 + 60 * (i - 60), 1, "light_on")], now)
    assert not any(engine.tick(st, now) for st in slow.values())


KEEP = """\
name: keep
labels: {site: "{site_id}"}
rules:
  - name: High
    when: value > 10
    keep_firing_for: 10m
    vars: {excess: value - 10}
    summary: "{value:.0f} ({excess:.0f} over) at {sensor}"
"""


def test_keep_firing_for_and_templates(write_pack):
    engine = Engine([load_pack(write_pack(KEEP))])
    t0 = utc("2026-11-24T10:00")
    vals = [12, 5, 12, 5, 5, 5, 5]   # back above within 10 min: one alert, then 15 min clear
    rs = [reading("metz/s/x", t0 + 300 * i, v, "temperature_c") for i, v in enumerate(vals)]
    got = simulate(engine, rs)
    assert [(a.status, a.detected_at[11:16]) for a in got] == [
        ("firing", "10:00"), ("resolved", "10:25")]
    assert got[0].summary == "12 (2 over) at metz/s/x"
    assert got[1].ends_at == "2026-11-24T10:15:00.000Z"
    assert got[0].labels == {"site": "s"}


def test_sensors_share_a_plan_unless_a_rule_can_tell_them_apart(write_pack, tmp_path):
    write_pack("""\
name: p
match: {kind: noise_dba}
rules:
  - name: Loud
    when: value > 80
  - name: LoudAtNight
    match: {labels: {zone: "resid*"}}
    when: value > 60
""")
    engine = Engine.from_paths([tmp_path])
    st = KeyState()
    rs = [reading("metz/a/n1", "2026-11-24T22:00", 70, "noise_dba",
                  attrs={"zone": "residential"}),
          reading("metz/b/n2", "2026-11-24T22:00", 70, "noise_dba",
                  attrs={"zone": "residential"}),
          reading("woippy/c/n3", "2026-11-24T22:00", 70, "noise_dba", attrs={"zone": "park"})]
    out = [a for r in rs for a in engine.process(st, (r,), r.ts)[0]]
    plans = engine._plans
    assert plans["metz/a/n1"] is plans["metz/b/n2"]  # same kind, same label: one plan
    assert plans["woippy/c/n3"] is not plans["metz/a/n1"]  # the label tells them apart
    assert sorted((a.rule, a.sensor) for a in out) == [
        ("LoudAtNight", "metz/a/n1"), ("LoudAtNight", "metz/b/n2")]
