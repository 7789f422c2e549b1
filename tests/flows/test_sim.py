"""Tests of the city simulator: layout, reproducibility, patterns, anomalies, scoring."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import numpy as np
import pytest
from opening_hours import OpeningHours

from flows.codecs.json import decode
from flows.sim import (
    ANOMALY_KINDS,
    COMMUNES,
    DEFAULT_KINDS,
    SPECS,
    TZ,
    Anomaly,
    City,
    score,
)
from models.reading import KINDS, Reading
from models.robust_z import RobustZ


def local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, TZ)


def series(city: City, n: int) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = defaultdict(list)
    for batch in city.steps(n):
        for r in batch:
            out[r.sensor].append(r)
    return out


# -- layout -------------------------------------------------------------------------------


def test_communes_are_24_slugs_of_the_metz_area():
    assert len(COMMUNES) == len(set(COMMUNES)) == 24
    assert {"metz", "montigny-les-metz", "woippy", "marly"} <= set(COMMUNES)
    assert all(c == c.lower() and c.replace("-", "").isalnum() for c in COMMUNES)


def test_layout_ids_units_and_registry():
    city = City(seed=3, sensors_per_commune=25)
    assert len(city.sensors) == 24 * 25
    ids = [s.id for s in city.sensors]
    assert len(set(ids)) == len(ids)
    for s in city.sensors:
        commune, site, name = s.id.split("/")
        assert (commune, site) == (s.commune, s.site)
        assert name.startswith(SPECS[s.kind].short + "-")
        assert s.unit == KINDS[s.kind]
        assert len(s.attrs["coords"]) == 2
    assert {s.kind for s in city.sensors} == set(DEFAULT_KINDS)
    rows = city.registry_rows()
    assert [r["sensor"] for r in rows] == ids
    assert set(rows[0]) == {"sensor", "commune", "site", "kind", "unit", "attrs"}
    schools = [s for s in city.sensors if s.site.startswith("ecole-")]
    assert schools and all("PH off" in s.attrs["opening_hours"] for s in schools)
    street_lights = [s for s in city.sensors
                     if s.kind == "light_on" and s.attrs["opening_hours"] == "sunset-sunrise"]
    assert street_lights


def test_small_city_still_covers_every_kind():
    city = City(seed=5, sensors_per_commune=1)
    assert {s.kind for s in city.sensors} == set(DEFAULT_KINDS)


def test_kinds_restrict_and_validate():
    city = City(sensors_per_commune=3, kinds=["voltage_v", "noise_dba"])
    assert {s.kind for s in city.sensors} == {"voltage_v", "noise_dba"}
    with pytest.raises(ValueError, match="unknown kinds"):
        City(kinds=["electricity_kw", "warp_drive"])
    with pytest.raises(ValueError):
        City(anomaly_types={"meteor": 1.0})


# -- reproducibility and counts -----------------------------------------------------------


def test_same_seed_same_output_other_seed_differs():
    a, b, c = (City(seed=s, sensors_per_commune=4, anomaly_rate=0.01, warmup_steps=5)
               for s in (7, 7, 8))
    ra, rb, rc = (list(x.readings(60)) for x in (a, b, c))
    assert ra == rb
    assert a.anomalies == b.anomalies and a.anomalies
    assert [s.id for s in a.sensors] == [s.id for s in b.sensors]
    assert [r.value for r in ra[:500]] != [r.value for r in rc[:500]]


def test_steps_continue_across_calls():
    one = City(seed=2, sensors_per_commune=3, anomaly_rate=0.02, warmup_steps=2)
    two = City(seed=2, sensors_per_commune=3, anomaly_rate=0.02, warmup_steps=2)
    assert list(one.steps(10)) + list(one.steps(10)) == list(two.steps(20))
    assert one.anomalies == two.anomalies


def test_counts_and_timestamps():
    city = City(sensors_per_commune=4, anomaly_rate=0.0, step_s=60.0)
    batches = list(city.steps(5))
    assert len(batches) == 5
    assert all(len(b) == len(city.sensors) for b in batches)
    for i, b in enumerate(batches):
        assert {r.ts for r in b} == {city.start + 60.0 * i}
    assert [r.sensor for r in batches[0]] == [s.id for s in city.sensors]
    start = local(city.start)
    assert (start.weekday(), start.hour, start.minute) == (0, 0, 0)  # a Monday, midnight
    assert city.now == city.start + 4 * 60.0


def test_readings_is_steps_flattened_with_limit():
    a, b, c = (City(seed=4, sensors_per_commune=2) for _ in range(3))
    flat = list(a.readings(3))
    assert flat == [r for batch in b.steps(3) for r in batch]
    assert list(c.readings(3, limit=50)) == flat[:50]


def test_encoded_steps_decode_to_the_same_readings():
    a = City(seed=9, sensors_per_commune=3, anomaly_rate=0.05, warmup_steps=1)
    b = City(seed=9, sensors_per_commune=3, anomaly_rate=0.05, warmup_steps=1)
    for batch, enc in zip(a.steps(6), b.encoded_steps(6), strict=True):
        assert len(batch) == len(enc)
        for r, (key, value) in zip(batch, enc, strict=True):
            assert key == r.subject.encode()
            assert json.loads(value)["ts"].endswith("Z")
            (back,) = decode(value)
            assert back == r
    assert a.anomalies == b.anomalies


def test_with_attrs_puts_sensor_attributes_on_readings():
    city = City(sensors_per_commune=2, with_attrs=True)
    by_id = {s.id: s for s in city.sensors}
    batch = next(city.steps(1))
    assert all(r.attrs == by_id[r.sensor].attrs for r in batch)
    assert json.loads(next(City(sensors_per_commune=2, with_attrs=True)
                           .encoded_steps(1))[0][1])["attrs"] == city.sensors[0].attrs
    assert next(City(sensors_per_commune=2).steps(1))[0].attrs == {}


# -- patterns -----------------------------------------------------------------------------


def at_hour(rs: list[Reading], hour: int, day: int = 0) -> list[float]:
    return [r.value for r in rs if local(r.ts).hour == hour and local(r.ts).weekday() == day]


def test_school_electricity_high_on_weekday_daytime_low_at_night_and_weekend():
    city = City(seed=1, sensors_per_commune=3, kinds=["electricity_kw"], anomaly_rate=0.0)
    data = series(city, 7 * 288)  # Monday to Sunday
    schools = [sid for sid in data if "/ecole-" in sid]
    assert schools
    for sid in schools:
        rs = data[sid]
        night, day = np.mean(at_hour(rs, 3)), np.mean(at_hour(rs, 10))
        sunday = np.mean(at_hour(rs, 10, day=6))
        assert night < 0.6 * day
        assert sunday < 0.6 * day


def test_pattern_scale_zero_flattens_the_day():
    city = City(seed=1, sensors_per_commune=3, kinds=["electricity_kw"], anomaly_rate=0.0,
                pattern_scale=0.0)
    data = series(city, 288)
    for rs in data.values():
        assert abs(np.mean(at_hour(rs, 3)) - np.mean(at_hour(rs, 10))) < 0.1 * np.mean(
            at_hour(rs, 10))


def test_lights_follow_opening_hours_and_the_sun():
    city = City(seed=6, sensors_per_commune=6, kinds=["light_on"], anomaly_rate=0.0)
    ohs = {}
    for batch in city.steps(288):
        for r in batch[:60]:
            s = city.sensors[[x.id for x in city.sensors].index(r.sensor)]
            spec = s.attrs["opening_hours"]
            oh = ohs.get((spec, r.commune)) or ohs.setdefault(
                (spec, r.commune),
                OpeningHours(spec, timezone=TZ, country="FR", coords=tuple(s.attrs["coords"]),
                             auto_country=False, auto_timezone=False))
            assert r.value == float(oh.is_open(local(r.ts))), (r.sensor, local(r.ts))
    streets = [s.id for s in city.sensors if s.attrs["opening_hours"] == "sunset-sunrise"]
    data = series(City(seed=6, sensors_per_commune=6, kinds=["light_on"]), 288)
    for sid in streets:
        assert at_hour(data[sid], 22) == [1.0] * 12 and at_hour(data[sid], 12) == [0.0] * 12


def test_bikes_noise_voltage_levels_fill_and_rivers():
    kinds = ["bike_count", "noise_dba", "voltage_v", "fill_pct", "water_level_m"]
    city = City(seed=2, sensors_per_commune=10, kinds=kinds, anomaly_rate=0.0)
    data = series(city, 7 * 288)
    by_kind: dict[str, list[list[Reading]]] = defaultdict(list)
    for rs in data.values():
        by_kind[rs[0].kind].append(rs)
    bikes = by_kind["bike_count"]
    assert sum(sum(at_hour(rs, 8)) for rs in bikes) > 5 * sum(sum(at_hour(rs, 3)) for rs in bikes)
    assert all(float(r.value).is_integer() and r.value >= 0 for rs in bikes for r in rs)
    for rs in by_kind["noise_dba"]:
        assert np.mean(at_hour(rs, 15)) > np.mean(at_hour(rs, 3)) + 5
    volts = np.array([r.value for rs in by_kind["voltage_v"] for r in rs])
    assert 228 < volts.mean() < 232 and volts.min() > 220 and volts.max() < 240
    for rs in by_kind["fill_pct"]:  # rises, then drops at the weekly collection
        v = np.array([r.value for r in rs])
        assert v.min() >= 0 and v.max() <= 100
        assert np.diff(v).min() < -20
    for rs in by_kind["water_level_m"]:  # slow
        v = np.array([r.value for r in rs])
        assert np.abs(np.diff(v)).max() < 0.15


# -- anomalies ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anomalous():
    city = City(seed=11, sensors_per_commune=8, anomaly_rate=0.01, warmup_steps=100)
    return city, series(city, 400)


def test_anomalies_ground_truth(anomalous):
    city, data = anomalous
    truth = city.anomalies
    assert {a.type for a in truth} == {"spike", "level_shift", "stuck", "dropout"}
    by_id = {s.id: s for s in city.sensors}
    first_allowed = city.start + city.warmup_steps * city.step_s
    for a in truth:
        s = by_id[a.sensor]
        assert (a.kind, a.commune, a.site) == (s.kind, s.commune, s.site)
        assert a.kind in ANOMALY_KINDS
        assert first_allowed <= a.start <= a.end <= city.now
    per_sensor = defaultdict(list)
    for a in truth:
        per_sensor[a.sensor].append(a)
    for lst in per_sensor.values():  # one at a time per sensor
        lst.sort(key=lambda a: a.start)
        assert all(x.end < y.start for x, y in zip(lst, lst[1:], strict=False))


def test_spikes_and_shifts_stand_out_for_a_robust_z_score(anomalous):
    city, data = anomalous
    zs = []
    for a in city.anomalies:
        if a.type not in ("spike", "level_shift"):
            continue
        assert 8.0 <= a.sigmas <= 15.0
        rs = data[a.sensor]
        i = next(j for j, r in enumerate(rs) if r.ts == a.start)
        det = RobustZ(window=96, min_samples=24)
        for r in rs[max(0, i - 96):i]:
            det.learn_one(r.value)
        zs.append(det.score_one(rs[i].value))
    assert len(zs) > 20
    assert np.median(zs) > 8
    assert np.mean(np.array(zs) >= 6) > 0.9


def test_stuck_values_repeat_and_dropouts_remove_readings(anomalous):
    city, data = anomalous
    stuck = [a for a in city.anomalies if a.type == "stuck"]
    drops = [a for a in city.anomalies if a.type == "dropout"]
    assert stuck and drops
    for a in stuck:
        vals = {r.value for r in data[a.sensor] if a.start <= r.ts <= a.end}
        assert len(vals) == 1
    missing: dict[str, int] = defaultdict(int)
    for a in drops:
        assert not [r for r in data[a.sensor] if a.start <= r.ts <= a.end]
        missing[a.sensor] += round((a.end - a.start) / city.step_s) + 1
    for s in city.sensors:
        assert len(data[s.id]) == 400 - missing[s.id]


def test_no_anomaly_without_rate_and_truth_file(tmp_path, anomalous):
    quiet = City(seed=11, sensors_per_commune=4, anomaly_rate=0.0)
    list(quiet.steps(200))
    assert quiet.anomalies == []
    city, _ = anomalous
    path = tmp_path / "truth.jsonl"
    city.write_truth(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == len(city.anomalies)
    assert rows[0]["sensor"] == city.anomalies[0].sensor
    assert rows[0]["starts_at"].endswith("Z") and "start" in rows[0]


def test_ongoing_anomaly_is_cut_at_now():
    city = City(seed=1, sensors_per_commune=4, anomaly_rate=0.2, warmup_steps=0,
                anomaly_types={"dropout": 1.0})
    list(city.steps(3))
    assert city.anomalies and all(a.end <= city.now for a in city.anomalies)


# -- score --------------------------------------------------------------------------------

T0 = 1_700_000_000.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, TZ).isoformat()


TRUTH = [
    Anomaly("metz/mairie/elec-1", "electricity_kw", "metz", "mairie", "spike", T0, T0),
    Anomaly("metz/mairie/elec-1", "electricity_kw", "metz", "mairie", "level_shift",
            T0 + 3600, T0 + 7200),
    Anomaly("woippy/rue-pasteur/noise-1", "noise_dba", "woippy", "rue-pasteur", "stuck",
            T0, T0 + 1800),
]


def alert(sensor: str, t: float, id_: str, status: str = "firing", **kw) -> dict:
    return {"id": id_, "sensor": sensor, "starts_at": iso(t), "status": status, **kw}


def test_score_counts_caught_missed_and_false():
    alerts = [
        alert("metz/mairie/elec-1", T0 + 200, "a"),           # spike, within slack
        alert("metz/mairie/elec-1", T0 + 200, "a"),           # same id again: once
        alert("metz/mairie/elec-1", T0 + 400, "a", "resolved"),
        alert("metz/mairie/elec-1", T0 + 20000, "b"),         # nothing there: false
        alert("woippy/rue-pasteur/noise-2", T0 + 100, "c"),   # other sensor: false
    ]
    s = score(alerts, TRUTH, slack_s=300)
    assert s["anomalies"] == 3 and s["caught"] == 1 and s["missed"] == 2
    assert s["alerts"] == 3 and s["false_alerts"] == 2
    assert s["recall"] == pytest.approx(1 / 3) and s["precision"] == pytest.approx(1 / 3)
    assert s["by_type"]["spike"] == {"anomalies": 1, "caught": 1}


def test_score_slack_bounds_and_epoch_times():
    a = TRUTH[1]
    inside = [{"sensor": a.sensor, "starts_at": a.end + 300, "status": "firing"}]
    outside = [{"sensor": a.sensor, "starts_at": a.start - 301, "status": "firing"}]
    assert score(inside, [a], slack_s=300)["caught"] == 1
    s = score(outside, [a], slack_s=300)
    assert s["caught"] == 0 and s["false_alerts"] == 1


def test_score_types_filter_and_site_alerts_and_empty():
    alerts = [alert("woippy/rue-pasteur/noise-1", T0 + 60, "x"),
              {"id": "y", "sensor": "", "commune": "metz", "site": "mairie",
               "starts_at": iso(T0 + 3700), "status": "firing"}]
    s = score(alerts, TRUTH, slack_s=0, types=["spike", "level_shift"])
    assert s["anomalies"] == 2 and s["caught"] == 1      # the site alert hits the shift
    assert s["false_alerts"] == 0                        # the stuck hit is not false
    e = score([], [], slack_s=10)
    assert e == {"anomalies": 0, "caught": 0, "missed": 0, "alerts": 0, "false_alerts": 0,
                 "recall": 1.0, "precision": 1.0, "by_type": {}}
