"""End to end on the real embedded broker: readings in, alerts and dead letters out."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import msgspec
import pytest
from bytewax.testing import run_main

from flows.city import build_flow
from flows.config import Config
from rules.alert import Alert
from tests.integration.conftest import produce, read_all

pytestmark = pytest.mark.integration

T0 = 1795874400  # 2026-11-28T14:00:00Z
CONTRACT_FIELDS = set(Alert.__struct_fields__)


def reading(sensor: str, i: int, value: float, site: str = "ecole-jean-moulin") -> bytes:
    return json.dumps({
        "sensor": sensor, "ts": T0 + 300 * i, "value": value, "kind": "electricity_kw",
        "unit": "kW", "commune": "metz", "site": site, "attrs": {},
    }).encode()


def series(sensor: str, n: int, spike_at: int | None, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    return [reading(sensor, i, 12.0 + rnd.gauss(0, 0.4) + (60.0 if i == spike_at else 0.0))
            for i in range(n)]


BAD = [
    b"{not json",
    b'{"ts": "2026-11-28T14:00:00Z", "value": 1}',
    b'{"sensor": "metz/x/y", "ts": "2026-11-28T14:00:00Z", "value": "abc"}',
    b'{"sensor": "metz/x/y", "ts": "2026-11-28T14:00:00Z", "value": null}',
    b'{"sensor": "metz/x/y", "ts": "28/11/2026", "value": 1}',
    b'{"sensor": "metz/x/y", "ts": 1795874400, "value": 1e999}',
    b"\xff\xfe\x00garbage",
]


def test_one_spike_one_firing_alert_and_dlq(broker, topics):
    bs = broker.bootstrap
    a = "metz/ecole-jean-moulin/elec-1"
    b = "metz/mairie/elec-1"
    msgs = series(a, 60, None, 1)[:40] + BAD + series(a, 60, 50, 1)[40:]
    produce(bs, topics["readings"], msgs)
    produce(bs, topics["readings"], series(b, 60, None, 2))
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False)
    run_main(build_flow(cfg))

    alerts = [msgspec.json.decode(m.value()) for m in read_all(bs, topics["alerts"])]
    firing = [x for x in alerts if x["status"] == "firing"]
    assert len(firing) == 1, alerts
    f = firing[0]
    assert set(f) == CONTRACT_FIELDS
    assert f["sensor"] == a and f["commune"] == "metz" and f["site"] == "ecole-jean-moulin"
    assert f["starts_at"] == "2026-11-28T18:10:00.000Z"  # reading 50
    assert f["value"] > 60 and 11 < f["expected"] < 13 and f["score"] >= 6
    assert f["ends_at"] is None and f["detector"] and f["summary"]
    resolved = [x for x in alerts if x["status"] == "resolved"]
    assert [x["id"] for x in resolved] == [f["id"]]
    assert all(x["sensor"] != b for x in alerts)

    dead = read_all(bs, topics["dlq"])
    assert sorted(m.value() for m in dead) == sorted(BAD)
    for m in dead:
        h = dict(m.headers())
        assert h["sentinelle.reason"], m.value()
        assert h["sentinelle.topic"].decode() == topics["readings"]


def test_replay_reemits_same_ids(broker, topics):
    bs = broker.bootstrap
    produce(bs, topics["readings"], series("metz/gym/elec-2", 80, 60, 3))
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False)
    run_main(build_flow(cfg))
    run_main(build_flow(cfg))  # a restart without recovery replays from the earliest offset
    alerts = [msgspec.json.decode(m.value()) for m in read_all(bs, topics["alerts"])]
    firing = [x for x in alerts if x["status"] == "firing"]
    assert len(firing) == 2 and firing[0]["id"] == firing[1]["id"]


def _wait_for(bs: str, topic: str, pred, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [msgspec.json.decode(m.value()) for m in read_all(bs, topic, timeout=2)]
        if pred(got):
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting on {topic}: {got}")


def test_cli_run_keeps_running_after_bad_input(broker, topics):
    bs = broker.bootstrap
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--bootstrap", bs,
         "--input", topics["readings"], "--alerts", topics["alerts"], "--dlq", topics["dlq"],
         "--epoch", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ},
    )
    try:
        produce(bs, topics["readings"], series("metz/pool/water-1", 60, 45, 4))
        _wait_for(bs, topics["alerts"], lambda got: any(x["status"] == "firing" for x in got))
        produce(bs, topics["readings"], BAD)
        produce(bs, topics["readings"], series("metz/pool/water-2", 60, 50, 5))
        got = _wait_for(bs, topics["alerts"], lambda got: sum(
            x["status"] == "firing" for x in got) >= 2)
        assert {x["sensor"] for x in got if x["status"] == "firing"} == {
            "metz/pool/water-1", "metz/pool/water-2"}
        assert proc.poll() is None, "the flow stopped"
        assert len(read_all(bs, topics["dlq"])) == len(BAD)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_alerts_command_lists_events_and_active_per_commune(broker, topics, capsys):
    from flows.cli import main

    bs = broker.bootstrap
    # a spike that resolves, and a level that stays high (still active at the end)
    msgs = series("metz/ecole/elec-1", 80, 60, 6)
    rnd = random.Random(9)
    msgs += [reading("woippy/gare/elec-1", i, 12.0 + rnd.gauss(0, 0.4) + (50 if i >= 70 else 0),
                     site="gare").replace(b'"metz"', b'"woippy"') for i in range(74)]
    produce(bs, topics["readings"], msgs)
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False)
    run_main(build_flow(cfg))
    capsys.readouterr()

    assert main(["alerts", "--bootstrap", bs, "--topic", topics["alerts"], "--json"]) == 0
    events = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {(e["sensor"], e["status"]) for e in events} >= {
        ("metz/ecole/elec-1", "firing"), ("metz/ecole/elec-1", "resolved"),
        ("woippy/gare/elec-1", "firing")}

    assert main(["alerts", "--bootstrap", bs, "--topic", topics["alerts"], "--active"]) == 0
    assert "woippy: " in capsys.readouterr().out  # the table, per commune

    assert main(["alerts", "--bootstrap", bs, "--topic", topics["alerts"], "--active",
                 "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert list(groups) == ["woippy"]  # metz's alert resolved: no longer active
    assert {a["sensor"] for a in groups["woippy"]} == {"woippy/gare/elec-1"}


def test_alert_format_per_output_topic(broker, topics):
    bs = broker.bootstrap
    ngsi, ce = topics["alerts"] + ".ngsi", topics["alerts"] + ".ce"
    broker.create_topics([ngsi, ce])
    produce(bs, topics["readings"], series("metz/gym/elec-7", 60, 50, 12))
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False,
                 more_alerts=((ngsi, "ngsi-ld"), (ce, "cloudevents")))
    run_main(build_flow(cfg))
    native = [msgspec.json.decode(m.value()) for m in read_all(bs, topics["alerts"])]
    as_ngsi = [msgspec.json.decode(m.value()) for m in read_all(bs, ngsi)]
    as_ce = [msgspec.json.decode(m.value()) for m in read_all(bs, ce)]
    assert native and len(as_ngsi) == len(as_ce) == len(native)
    assert all(a["type"] == "Alert" for a in as_ngsi)
    assert all(e["specversion"] == "1.0" for e in as_ce)
    keys = {m.key() for m in read_all(bs, ce)}
    assert keys == {a["id"].encode() for a in native}
