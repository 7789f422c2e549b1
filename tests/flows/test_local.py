"""Partition placement (flows/local.py): the engine inside each input partition."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import msgspec
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import TestingSink, run_main

from flows import metrics
from flows.city import build_flow
from flows.config import Config
from flows.local import LocalSource
from flows.source import RawBatch
from rules.engine import Engine

T0 = 1795874400


class _Part(StatefulSourcePartition):
    def __init__(self, batches: list[RawBatch], at: int) -> None:
        self.batches = batches
        self.at = at

    def next_batch(self) -> list[RawBatch]:
        if self.at >= len(self.batches):
            raise StopIteration
        self.at += 1
        return [self.batches[self.at - 1]]

    def snapshot(self) -> int:
        return self.at


class ListSource(FixedPartitionedSource):
    """Fixed partitions of raw batches (a stand-in for Kafka partitions)."""

    def __init__(self, parts: dict[str, list[RawBatch]]) -> None:
        self.parts = parts

    def list_parts(self) -> list[str]:
        return list(self.parts)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Part:
        return _Part(self.parts[for_part], resume_state or 0)


def _reading(site: str, i: int, v: float) -> bytes:
    return json.dumps({"sensor": f"woippy/{site}/noise", "ts": T0 + 60 * i, "value": v,
                       "kind": "noise_dba", "commune": "woippy", "site": site}).encode()


def _part(sites: dict[str, int], part: int, n: int = 80, per: int = 20) -> list[RawBatch]:
    """Raw batches of one partition: each site's noise sensor every minute (in event-time
    order, sites interleaved), with a spike at the given minute."""
    rnd = random.Random(part)
    vals = [_reading(site, i, 55 + rnd.gauss(0, 1) + (30.0 if i == spike else 0))
            for i in range(n) for site, spike in sites.items()]
    return [RawBatch("readings", part, o, vals[o:o + per], [None] * len(vals[o:o + per]))
            for o in range(0, len(vals), per)]


def _run(source: FixedPartitionedSource, placement: str) -> list:
    out: list = []
    run_main(build_flow(Config(bootstrap="unused:0", placement=placement),
                        source=source, sink=TestingSink(out)))
    return out


def _alerts(out: list) -> list[tuple]:
    return sorted((a["id"], a["status"], a["rule"], a["sensor"]) for a in
                  (msgspec.json.decode(m.value) for m in out if m.topic == "alerts"))


def test_partition_placement_gives_the_same_alerts_as_exchange():
    parts = {"0-readings": _part({"parc": 60, "stade": 50}, 0),
             "1-readings": _part({"gare": 70}, 1)}
    engine = Engine()
    out: list = []
    run_main(build_flow(Config(bootstrap="unused:0", placement="partition"), engine,
                        source=ListSource(parts), sink=TestingSink(out)))
    local = _alerts(out)
    assert local == _alerts(_run(ListSource(parts), "exchange"))
    # the partitions' engines count into the engine the flow was given
    assert engine.stats.readings == 3 * 80 and engine.stats.alerts == len(local)
    fired = {s for _, st, rule, s in local if st == "firing" and rule == "UnusualLevel"}
    assert fired == {"woippy/parc/noise", "woippy/gare/noise", "woippy/stade/noise"}


def test_a_subject_on_two_partitions_is_counted_not_dropped():
    before = metrics.MISPLACED._value.get()
    half = _part({"parc": 60}, 0)
    parts = {"0-readings": half[:2], "1-readings": half[2:]}  # mis-keyed: one site split
    out = _run(ListSource(parts), "partition")
    assert metrics.MISPLACED._value.get() - before == 40  # the second partition's readings
    assert not [m for m in out if m.topic == "readings.dlq"]


def test_partition_snapshot_resumes_offset_and_state():
    cfg = Config(bootstrap="unused:0", placement="partition", snapshots=True)
    enc = [("alerts", lambda a: a.id.encode() + b"|" + a.status.encode())]
    parts = {"0-readings": _part({"parc": 60}, 0)}

    def drain(p) -> list:
        got = []
        try:
            while True:
                got.extend(p.next_batch())
        except StopIteration:
            return got

    whole = drain(LocalSource(ListSource(parts), cfg, Engine(), enc)
                  .build_part("in", "0-readings", None))
    src = LocalSource(ListSource(parts), cfg, Engine(), enc)
    p = src.build_part("in", "0-readings", None)
    first = p.next_batch() + p.next_batch()
    snap = p.snapshot()
    assert snap[0] == 2  # the inner source's offset: two batches read
    resumed = src.build_part("in", "0-readings", snap)
    rest = drain(resumed)
    assert [m.value for m in first + rest] == [m.value for m in whole]
    assert any(m.value.endswith(b"firing") for m in rest)  # the spike, after the resume


def test_next_awake_is_the_earliest_engine_timer_when_the_input_is_idle():
    class Idle(_Part):
        def next_awake(self) -> datetime:
            return datetime(2100, 1, 1, tzinfo=UTC)

    class IdleSource(ListSource):
        def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Part:
            return Idle(self.parts[for_part], resume_state or 0)

    cfg = Config(bootstrap="unused:0", placement="partition")
    p = LocalSource(IdleSource({"0-readings": _part({"parc": -1}, 0)[:1]}), cfg, Engine(),
                    [("alerts", lambda a: b"")]).build_part("in", "0-readings", None)
    p.next_batch()
    due = min(p._shard.due.values())  # the sensor's silence timer
    assert p.next_awake() == datetime.fromtimestamp(due, UTC)
