"""The dataflow without a broker: Bytewax TestingSource of raw batches, TestingSink."""

from __future__ import annotations

import json
import random

import msgspec
import pytest
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.city import build_flow, load_states
from flows.config import Config
from flows.source import RawBatch

T0 = 1795874400


def _batch(values: list[bytes], offset: int = 0) -> RawBatch:
    return RawBatch("readings", 0, offset, values, [None] * len(values))


def _reading(sensor: str, i: int, v: float, site: str) -> bytes:
    return json.dumps({"sensor": sensor, "ts": T0 + 60 * i, "value": v, "kind": "noise_dba",
                       "commune": "woippy", "site": site}).encode()


@pytest.fixture(params=["exchange", "partition"])
def placement(request: pytest.FixtureRequest) -> str:
    """The flow tests run with both state placements (:attr:`Config.placement`)."""
    return request.param


def run(batches: list[RawBatch], placement: str = "exchange") -> list:
    out: list = []
    cfg = Config(bootstrap="unused:0", placement=placement)
    run_main(build_flow(cfg, source=TestingSource(batches), sink=TestingSink(out)))
    return out


def test_spikes_in_two_sites_alert_separately_and_bad_input_goes_to_dlq(placement: str):
    rnd = random.Random(7)
    vals = []
    for i in range(80):
        for site in ("parc", "gare"):
            spike = 30.0 if (site == "parc" and i == 60) or (site == "gare" and i == 70) else 0
            vals.append(_reading(f"woippy/{site}/noise", i, 55 + rnd.gauss(0, 1) + spike, site))
    vals.insert(100, b"[1, 2")
    batches = [_batch(vals[i:i + 37], i) for i in range(0, len(vals), 37)]
    out = run(batches, placement)
    alerts = [msgspec.json.decode(m.value) for m in out if m.topic == "alerts"]
    dead = [m for m in out if m.topic == "readings.dlq"]
    firing = sorted((a["sensor"], a["starts_at"]) for a in alerts
                    if a["status"] == "firing" and a["rule"] == "UnusualLevel")
    assert firing == [("woippy/gare/noise", "2026-11-28T15:10:00.000Z"),
                      ("woippy/parc/noise", "2026-11-28T15:00:00.000Z")]
    assert [m.value for m in dead] == [b"[1, 2"]
    headers = dict(dead[0].headers)
    assert headers["sentinelle.offset"] == b"100"
    assert headers["sentinelle.reason"].startswith(b"invalid reading JSON")


def test_late_reading_goes_to_dlq_not_silently_dropped(placement: str):
    vals = [_reading("woippy/parc/noise", i, 55.0, "parc") for i in range(10)]
    vals.append(_reading("woippy/parc/noise", 3, 55.0, "parc"))  # out of order
    out = run([_batch(vals)], placement)
    dead = [m for m in out if m.topic == "readings.dlq"]
    assert len(dead) == 1
    assert dict(dead[0].headers)["sentinelle.reason"].startswith(b"late")


def _shard(cfg: Config, states: dict | None = None):
    from flows.city import ShardLogic
    from rules.engine import Engine

    return ShardLogic(Engine(), cfg, [("alerts", lambda a: b"")], states or {})


def _readings(sensor: str, n: int, site: str):
    from models.reading import Reading

    return [Reading(sensor, T0 + 60 * i, 55.0 + i % 3, "noise_dba", "dBA", "woippy", site)
            for i in range(n)]


def test_shard_snapshot_repickles_only_touched_subjects_and_resumes():

    cfg = Config(bootstrap="unused:0")
    sh = _shard(cfg)
    sh.on_batch([[("woippy/parc", _readings("woippy/parc/noise", 30, "parc")),
                  ("woippy/gare", _readings("woippy/gare/noise", 30, "gare"))]])
    first = load_states(sh.snapshot())
    assert set(first) == {"woippy/parc", "woippy/gare"}
    # only "parc" gets new readings: "gare" keeps the very same pickled bytes
    sh.on_batch([[("woippy/parc", _readings("woippy/parc/noise", 40, "parc")[30:])]])
    second = load_states(sh.snapshot())
    assert second["woippy/gare"] is not None and second["woippy/gare"] == first["woippy/gare"]
    assert second["woippy/parc"] != first["woippy/parc"]
    # a resumed shard has the same state, sensor by sensor
    back = _shard(cfg, second)
    st = back.keys["woippy/parc"].state.sensors["woippy/parc/noise"]
    assert st.last_ts == T0 + 60 * 39
    assert load_states(back.snapshot()) == second


def test_a_shard_snapshot_of_the_earlier_layout_is_refused_not_dropped():
    import pickle

    sh = _shard(Config(bootstrap="unused:0"))
    sh.on_batch([[("woippy/parc", _readings("woippy/parc/noise", 5, "parc"))]])
    old = pickle.dumps(load_states(sh.snapshot()))  # the bare dict earlier versions wrote
    with pytest.raises(ValueError, match="earlier Sentinelle.*new recovery directory"):
        load_states(old)
    # inside a partition (placement partition) the state never depended on shard keys
    assert set(load_states(old, routed=False)) == {"woippy/parc"}
    assert load_states(b"") == {} and load_states(None) == {}


def test_shard_snapshot_is_skipped_without_recovery():
    sh = _shard(Config(bootstrap="unused:0", snapshots=False))
    sh.on_batch([[("woippy/parc", _readings("woippy/parc/noise", 10, "parc"))]])
    assert sh.snapshot() == b""


def test_absurd_values_go_to_the_dlq_with_a_reason(placement: str):
    vals = [_reading("woippy/parc/noise", i, 55.0, "parc") for i in range(5)]
    vals.append(_reading("woippy/parc/noise", 5, 1e300, "parc"))  # the fast JSON path
    vals.append(json.dumps({"sensor": "woippy/parc/noise", "ts": "2026-11-28T14:10:00Z",
                            "value": -1e16, "kind": "noise_dba"}).encode())  # the codec
    vals.append(_reading("woippy/parc/noise", 12, 56.0, "parc"))
    out = run([_batch(vals)], placement)
    dead = [m for m in out if m.topic == "readings.dlq"]
    assert [json.loads(m.value)["value"] for m in dead] == [1e300, -1e16]
    assert all(b"out of any sensor's range" in dict(m.headers)["sentinelle.reason"]
               for m in dead)


def test_detectors_survive_absurd_values_fed_directly():
    from models.reading import Reading
    from rules.engine import Engine
    from rules.engine import run as replay

    rs = [Reading("metz/x/t", T0 + 60 * i, v, "temperature_c", "", "metz", "x")
          for i, v in enumerate([20.0] * 30 + [1e308, -1e308, 5e-324, 21.0])]
    replay(Engine(), rs, T0 + 3600)  # must not raise


def _msg(sensor: str, ts: str, value: float, site: str = "school", unit: str = "kW") -> bytes:
    return json.dumps({"sensor": sensor, "ts": ts, "value": value, "kind": "electricity_kw",
                       "unit": unit, "commune": "metz", "site": site}).encode()


def test_decoder_shares_a_sensors_strings_between_its_readings_and_follows_changes():
    from flows.city import Decoder

    dec = Decoder(Config(bootstrap="unused:0"), sharded=False)
    values = [_msg("metz/school/e1", "2026-01-01T00:00:00Z", 1.0),
              _msg("metz/school/e1", "2026-01-01T00:15:00Z", 2.0),
              _msg("metz/school/e1", "2026-01-01T00:30:00Z", 3.0, site="gym"),
              _msg("metz/school/e1", "2026-01-01T00:45:00Z", 4.0, site="gym", unit="W")]
    items = dec(RawBatch("readings", 0, 0, values, [None] * len(values)))
    rs = {k: v for _, g in items for k, v in g}
    a, b = rs["metz/school"]
    c, d = rs["metz/gym"]
    # equal strings of the same sensor are the same objects (decoded once, then shared)
    assert a.sensor is b.sensor and a.kind is b.kind and a.site is b.site
    # a changed site or unit is taken as it is, never the remembered one
    assert (c.site, c.unit, d.site, d.unit) == ("gym", "kW", "gym", "W")
    assert [r.value for r in (a, b, c, d)] == [1.0, 2.0, 3.0, 4.0]
    assert [r.ts for r in (a, b)] == [1767225600.0, 1767226500.0]
