"""The dataflow without a broker: Bytewax TestingSource of raw batches, TestingSink."""

from __future__ import annotations

import json
import random

import msgspec
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.city import build_flow
from flows.config import Config
from flows.source import RawBatch

T0 = 1795874400


def _batch(values: list[bytes], offset: int = 0) -> RawBatch:
    return RawBatch("readings", 0, offset, values, [None] * len(values))


def _reading(sensor: str, i: int, v: float, site: str) -> bytes:
    return json.dumps({"sensor": sensor, "ts": T0 + 60 * i, "value": v, "kind": "noise_dba",
                       "commune": "woippy", "site": site}).encode()


def run(batches: list[RawBatch]) -> list:
    out: list = []
    cfg = Config(bootstrap="unused:0")
    run_main(build_flow(cfg, source=TestingSource(batches), sink=TestingSink(out)))
    return out


def test_spikes_in_two_sites_alert_separately_and_bad_input_goes_to_dlq():
    rnd = random.Random(7)
    vals = []
    for i in range(80):
        for site in ("parc", "gare"):
            spike = 30.0 if (site == "parc" and i == 60) or (site == "gare" and i == 70) else 0
            vals.append(_reading(f"woippy/{site}/noise", i, 55 + rnd.gauss(0, 1) + spike, site))
    vals.insert(100, b"[1, 2")
    batches = [_batch(vals[i:i + 37], i) for i in range(0, len(vals), 37)]
    out = run(batches)
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


def test_late_reading_goes_to_dlq_not_silently_dropped():
    vals = [_reading("woippy/parc/noise", i, 55.0, "parc") for i in range(10)]
    vals.append(_reading("woippy/parc/noise", 3, 55.0, "parc"))  # out of order
    out = run([_batch(vals)])
    dead = [m for m in out if m.topic == "readings.dlq"]
    assert len(dead) == 1
    assert dict(dead[0].headers)["sentinelle.reason"].startswith(b"late")
