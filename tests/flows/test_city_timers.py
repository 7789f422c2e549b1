"""The flow's timers in a replay: the alerts of the same pre-loaded data must not depend
on the number of workers (processes), how shards are spread over them, or their pace.

No broker and no Bytewax runtime: the simulated city's readings are loaded into 4
partitions (keyed by sensor, as the benchmarks do), each worker reads its partitions
batch by batch at its own pace on a simulated wall clock (``time.time`` of the flow),
groups each batch with the real :class:`flows.city.Decoder` and hands the shard items to
the real :class:`flows.city.ShardLogic` of the shard's worker (one engine per worker, as
one per process), then calls ``on_notify`` where ``notify_at`` has passed and, at the
end, ``on_eof`` everywhere, the order Bytewax 0.21 uses.
"""

from __future__ import annotations

import heapq
import pickle
import zlib
from datetime import UTC, datetime

import pytest

import flows.city as city
from flows.city import Decoder, Group, ShardLogic
from flows.config import Config
from flows.sim import City
from rules.engine import Engine

W0 = 1_800_000_000.0  # wall clock, long after the simulated event times
PARTS = 4


@pytest.fixture(scope="module")
def partitions() -> list[list]:
    c = City(seed=3, sensors_per_commune=6, anomaly_rate=0.01, warmup_steps=12,
             anomaly_types={"dropout": 1.0})
    logs: list[list] = [[] for _ in range(PARTS)]
    for step in c.steps(100):
        for r in step:
            logs[zlib.crc32(r.sensor.encode()) % PARTS].append(r)
    return logs


def replay(logs: list[list], workers: int, rates: list[float], starts: list[float],
           batch: int, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str, str]]:
    clock = [W0]
    monkeypatch.setattr(city.time, "time", lambda: clock[0])
    engines = [Engine() for _ in range(workers)]
    alerts: list = []
    enc = [("alerts", lambda a: (alerts.append(a), b"")[1])]
    cfg = Config(bootstrap="unused:0")
    shards: list[dict[str, ShardLogic]] = [{} for _ in range(workers)]
    dec = Decoder.__new__(Decoder)  # no codecs needed: readings are already decoded
    dec._shards, dec._subjects, dec._ts = {}, {}, {}
    offs = [0] * PARTS
    mine = [[p for p in range(PARTS) if p % workers == w] for w in range(workers)]
    turn = [0] * workers
    queue = [(W0 + starts[w], w) for w in range(workers)]

    def notify() -> None:
        for logics in shards:
            for lg in logics.values():
                t = lg.notify_at()
                if t is not None and t.timestamp() <= clock[0]:
                    lg.on_notify()

    while queue:
        t, w = heapq.heappop(queue)
        clock[0] = max(clock[0], t)
        notify()
        todo = [p for p in mine[w] if offs[p] < len(logs[p])]
        if not todo:
            continue
        p = todo[turn[w] % len(todo)]
        turn[w] += 1
        rs = logs[p][offs[p]:offs[p] + batch]
        offs[p] += len(rs)
        for sh, group in dec._group(rs, ("readings", p)):
            owner = zlib.crc32(sh.encode()) % workers
            lg = shards[owner].get(sh)
            if lg is None:
                lg = shards[owner][sh] = ShardLogic(engines[owner], cfg, enc, {})
            lg.on_batch([pickle.loads(pickle.dumps(group))])  # items cross processes
        notify()
        heapq.heappush(queue, (clock[0] + len(rs) / rates[w], w))
    for logics in shards:
        for lg in logics.values():
            lg.on_eof()
    return sorted((a.rule, a.id, a.status, a.severity) for a in alerts)


def test_a_replay_gives_the_same_alerts_on_one_or_two_workers(partitions, monkeypatch):
    one = replay(partitions, 1, [30_000.0], [0.0], 500, monkeypatch)
    fired = {a[1] for a in one if a[0] == "SensorSilent" and a[2] == "firing"}
    back = {a[1] for a in one if a[0] == "SensorSilent" and a[2] == "resolved"}
    assert len(back) > 5 and back <= fired  # the drop-outs: silent, then reporting again
    runs = {
        "two": replay(partitions, 2, [15_000.0, 15_000.0], [0.0, 0.0], 500, monkeypatch),
        "uneven": replay(partitions, 2, [9_000.0, 20_000.0], [0.0, 0.0], 500, monkeypatch),
        "late start": replay(partitions, 2, [15_000.0] * 2, [0.0, 0.2], 500, monkeypatch),
        "big batches": replay(partitions, 1, [30_000.0], [0.0], 2000, monkeypatch),
    }
    for name, got in runs.items():
        assert got == one, name


def test_shard_items_carry_their_partition_across_processes():
    from models.reading import Reading

    dec = Decoder.__new__(Decoder)
    dec._shards, dec._subjects, dec._ts = {}, {}, {}
    rs = [Reading(f"metz/s{i}/x", 1000.0 + i, 1.0, "light_on", "", "metz", f"s{i}")
          for i in range(20)]
    items = dec._group(rs, ("readings", 3))
    for _, g in items:
        back = pickle.loads(pickle.dumps(g))
        assert isinstance(back, Group) and back == g
        assert (back.src, back.lo) == (("readings", 3), 1000.0)


def test_a_group_crosses_processes_as_msgpack_unless_its_attrs_would_change():
    from models.reading import Reading

    odd = {"when": datetime(2026, 1, 1, tzinfo=UTC), "seq": (1, 2), "big": [2**70]}
    g = Group(("readings", 0), 5.0)
    g.append(("metz/a", [Reading("metz/a/x", 5.0, 1.5, "noise_dba", "", "metz", "a", odd)]))
    for bad in ({"seq": (1, 2)}, {"when": odd["when"]}, {"big": [2**70]}):
        g[0][1][0] = Reading("metz/a/x", 5.0, 1.5, "noise_dba", "", "metz", "a", bad)
        back = pickle.loads(pickle.dumps(g))
        assert back == g and back[0][1][0].attrs == bad
        assert [type(v) for v in back[0][1][0].attrs.values()] == [type(v) for v in bad.values()]
    plain = Group(("readings", 0), 5.0)
    plain.append(("metz/a", [Reading("metz/a/x", 5.0 + i, -0.0, "noise_dba",
                                     attrs={"k": [i, 2.5, None, True, {"n": "x"}]})
                             for i in range(3)]))
    blob = pickle.dumps(plain)
    back = pickle.loads(blob)
    assert back == plain and str(back[0][1][0].value) == "-0.0"
    assert b"_unpack" in blob and b"Reading" not in blob  # the msgpack form was used
