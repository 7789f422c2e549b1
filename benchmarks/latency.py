"""Latency benchmark: event-to-alert time, end to end through Kafka, at fixed rates.

::

    python -m benchmarks.latency [--json] [--rates 1000,10000,50000] [--seconds 20]
        [--sensors 2400] [--bootstrap HOST:PORT] [--epoch-s 10]

For each rate, on fresh topics: ``history`` simulated steps (:class:`flows.sim.City`)
are loaded first so that the detectors are warm, the real flow
(:func:`flows.city.build_flow`, default rule packs, tailing) starts in a child process
and catches up, then this process produces live readings at the fixed rate (the
following steps of the same simulation, with its injected anomalies) while a reader
child tails the alerts topic. For every firing alert whose ``(sensor, starts_at)`` is
an anomalous reading produced live, the latency is the time the reader got the alert
minus the time that reading was handed to the producer (``produce()`` returned); both
clocks are this machine's ``time.time()``. Reported: p50, p99 and max per rate, and the
rate actually achieved. The first ``--skip-s`` seconds of each live phase are left out
(the flow may still be catching up with the history there). Writes
``benchmarks/results/latency.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import sys
import time
import uuid

from benchmarks import common

MODULE = "benchmarks.latency"
SEED = 11
#: Settings of the flow and the clients in this benchmark (see the results file).
LOADGEN = {"linger.ms": "5", "acks": "1"}
READER = {"fetch.wait.max.ms": "5", "fetch.min.bytes": "1"}


def _flow_child(spec: dict) -> None:
    from flows.city import build_flow
    from flows.config import Config
    from flows.runner import run

    cfg = Config(bootstrap=spec["bootstrap"], inputs=((spec["topic"], "json"),),
                 alerts_topic=spec["alerts"], dlq_topic=spec["dlq"], tail=True,
                 batch_size=spec["batch_size"], kafka=spec.get("kafka", {}))
    common.emit({"ready": time.time()})
    run(build_flow(cfg), epoch_s=spec["epoch_s"])


def _reader_child(spec: dict) -> None:
    """Tail the alerts topic until ``until`` (epoch s); firing alerts with read times."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": spec["bootstrap"], "group.id": "bench-latency",
                  "enable.auto.commit": "false", **READER})
    md = c.list_topics(spec["alerts"], timeout=10).topics[spec["alerts"]]
    c.assign([TopicPartition(spec["alerts"], p, 0) for p in md.partitions])
    got = []
    until = spec["until"]
    while time.time() < until:
        for m in c.consume(1000, 0.005):
            if m.error():
                continue
            t = time.time()
            a = json.loads(m.value())
            if a.get("status") == "firing":
                got.append([a["sensor"], a["starts_at"], a["rule"], t])
    c.close()
    common.emit({"alerts": got})


def _child(spec: dict) -> None:
    if spec["mode"] == "flow":
        _flow_child(spec)
    else:
        _reader_child(spec)


# -- parent -----------------------------------------------------------------------------


def _live_messages(city, n_steps: int) -> tuple[list, set]:
    """The next ``n_steps`` steps as messages, and the (sensor, ts) of anomalous ones."""
    from rules.alert import iso

    before = len(city._anoms)
    msgs = [m for step in city.encoded_steps(n_steps) for m in step]
    bad = set()
    for a in city.anomalies[before:]:
        t = a.start
        while t <= a.end:
            bad.add((a.sensor.encode(), iso(t)))
            t += city.step_s
    return msgs, bad


def one_rate(bs: str, rate: int, args: argparse.Namespace) -> dict:
    from flows.broker import create_topics
    from flows.sim import City

    tag = uuid.uuid4().hex[:6]
    topic, alerts, dlq = (f"lat-{x}-{rate}-{tag}" for x in ("readings", "alerts", "dlq"))
    create_topics(bs, [topic], args.partitions)
    create_topics(bs, [alerts, dlq], 1)
    city = City(seed=SEED, sensors_per_commune=max(1, math.ceil(args.sensors / 24)))
    S = len(city.sensors)
    hist = common.load(bs, topic, city, args.history * S)
    live_steps = max(1, math.ceil(rate * args.seconds / S))
    msgs, bad = _live_messages(city, live_steps)
    watch = {i: key for i, (k, v) in enumerate(msgs) if (key := _key(k, v)) in bad}
    flow = common.spawn(MODULE, {"mode": "flow", "bootstrap": bs, "topic": topic,
                                 "alerts": alerts, "dlq": dlq, "epoch_s": args.epoch_s,
                                 "batch_size": args.batch_size,
                                 "kafka": dict(kv.split("=", 1) for kv in args.kafka)})
    # the flow reads the history as fast as it can; a malformed marker at the end of
    # each partition goes to the DLQ once the flow has read that far
    t_start = time.time()
    p = common.producer(bs)
    for part in range(args.partitions):
        p.produce(topic, b"latency benchmark: end of history", partition=part)
    p.flush(10)
    _wait_count(bs, dlq, args.partitions, timeout=600)
    catch_up = time.time() - t_start
    time.sleep(1.0)
    duration = len(msgs) / rate
    reader = common.spawn(MODULE, {"mode": "reader", "bootstrap": bs, "alerts": alerts,
                                   "until": time.time() + 1.0 + duration + args.grace_s})
    time.sleep(1.0)
    p = common.producer(bs, **LOADGEN)
    sent: dict[tuple[bytes, str], float] = {}
    t0 = time.time()
    i = 0
    n = len(msgs)
    prod = p.produce
    while i < n:
        due = min(n, int((time.time() - t0) * rate) + 1)
        while i < due:
            k, v = msgs[i]
            prod(topic, v, k)
            if i in watch:
                sent[watch[i]] = time.time()
            i += 1
        p.poll(0)
        if i < n:
            time.sleep(0.0005)
    t_end = time.time()
    p.flush(30)
    res = common.reap(reader, timeout=duration + args.grace_s + 120)
    os.kill(flow.pid, signal.SIGKILL)
    flow.wait()
    lat, rules, when = [], {}, []
    skip_until = t0 + args.skip_s
    instant = instant_rules()
    delayed: dict[str, int] = {}
    for sensor, starts, rule, t in res["alerts"]:
        ts = sent.get((sensor.encode(), starts))
        if ts is None or ts < skip_until:
            continue
        if rule not in instant:
            delayed[rule] = delayed.get(rule, 0) + 1
            continue
        lat.append((t - ts) * 1000)
        when.append((round(ts - t0, 2), round((t - ts) * 1000, 1), rule))
        rules[rule] = rules.get(rule, 0) + 1
    anomalous_sent = sum(1 for v in sent.values() if v >= skip_until)
    return {
        "rate": rate, "achieved_rate": round(n / (t_end - t0)), "sensors": S,
        "catch_up_s": round(catch_up, 1),
        "history_readings": hist, "live_readings": n, "live_s": round(t_end - t0, 2),
        "anomalous_readings_live": anomalous_sent, "alerts_matched": len(lat),
        "by_rule": rules, "not_counted_by_rule": delayed,
        "p50_ms": round(common.percentile(lat, 50), 1),
        "p99_ms": round(common.percentile(lat, 99), 1),
        "max_ms": round(max(lat), 1) if lat else math.nan,
        "slowest": sorted(when, key=lambda x: -x[1])[:5],
    }


def _wait_count(bs: str, topic: str, n: int, timeout: float) -> None:
    """Block until ``topic`` holds at least ``n`` messages."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bs, "group.id": "bench-wait", **READER})
    md = c.list_topics(topic, timeout=10).topics[topic]
    c.assign([TopicPartition(topic, q, 0) for q in md.partitions])
    got = 0
    deadline = time.monotonic() + timeout
    try:
        while got < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the flow did not catch up with the history in {timeout} s")
            got += sum(1 for m in c.consume(100, 0.1) if not m.error())
    finally:
        c.close()


def instant_rules() -> set[str]:
    """Rules of the default packs that fire on the reading itself: no ``for:`` duration
    or count, no missing-data timer, no run-length (flatline) detector. The others fire
    some readings (event time) after their ``starts_at`` by design, which is not
    latency."""
    from flows.city import make_engine
    from flows.config import Config

    eng = make_engine(Config(bootstrap="unused:0"))
    return {r.name for r in getattr(eng, "rules", {}).values()
            if not getattr(r, "for_s", 0) and not getattr(r, "for_n", 0)
            and getattr(r, "no_data", None) is None and getattr(r, "det_name", "") != "flatline"}


def _key(k: bytes, v: bytes) -> tuple[bytes, str]:
    # the simulator's JSON: {"sensor":...,"ts":"<RFC 3339>",...}
    j = v.find(b'"ts":"') + 6
    return k, v[j:v.find(b'"', j)].decode()


def report(out: dict, cmd: str, m: dict) -> str:
    a = out["args"]
    lines = [
        "# Event-to-alert latency", "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with:", "",
        f"    {cmd}", "", common.machine_md(m),
        f"Per rate: fresh topics ({a['partitions']} partitions), {a['history']} steps of "
        f"history of {out['runs'][0]['sensors']:,} simulated sensors loaded first (warm "
        "detectors), the real flow (`flows.city.build_flow`, default rule packs, tailing) "
        "in a child process, then live readings produced at the fixed rate for "
        f"about {a['seconds']} s while a reader child tails the alerts topic. Latency = "
        "time the reader got a firing alert - time `produce()` returned for the anomalous "
        "reading it is about (same `(sensor, starts_at)`), end to end through Kafka "
        f"(producer, broker, flow, sink, broker, consumer). The first {a['skip_s']:g} s of "
        "each live phase are not counted.", "",
        "| rate (readings/s) | achieved | live readings | anomalous readings | alerts matched "
        "| p50 ms | p99 ms | max ms |", "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in out["runs"]:
        lines.append(f"| {r['rate']:,} | {r['achieved_rate']:,} | {r['live_readings']:,} | "
                     f"{r['anomalous_readings_live']:,} | {r['alerts_matched']:,} | "
                     f"{r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    lines += [
        "", "Targets: p99 <= 100 ms at 10k readings/s, <= 250 ms at 50k readings/s.", "",
        "## Settings", "",
        f"- Flow: Bytewax epoch {a['epoch_s']:g} s; `KafkaBatchSource` `batch_size` "
        f"{a['batch_size']}, `poll_s` 0.002 (a poll waits at most 2 ms), idle partition "
        "re-polled after 2 ms, `fetch.wait.max.ms` 5; Bytewax "
        "`KafkaSink` (flushes after every batch), `linger.ms` 2; extra client settings "
        f"{a['kafka'] or 'none'}.",
        f"- Load generator: confluent-kafka producer {LOADGEN}, messages handed over "
        "every 0.5 ms at the target rate.",
        f"- Reader: `assign()` consumer {READER}, `consume(1000, 0.005)`.", "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.latency",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--rates", default="1000,10000,50000")
    ap.add_argument("--seconds", type=float, default=20.0, help="live phase per rate")
    ap.add_argument("--sensors", type=int, default=2400)
    ap.add_argument("--history", type=int, default=72, help="steps loaded before")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--epoch-s", type=float, default=10.0)
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--kafka", action="append", default=[], metavar="KEY=VALUE",
                    help="extra librdkafka setting for the flow's clients (repeatable)")
    ap.add_argument("--skip-s", type=float, default=3.0)
    ap.add_argument("--grace-s", type=float, default=5.0)
    ap.add_argument("--bootstrap", default=None)
    ap.add_argument("--out", default=str(common.RESULTS / "latency.md"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return
    from flows.broker import connect

    runs = []
    with connect(args.bootstrap) as bs:
        for rate in (int(x) for x in args.rates.split(",") if x):
            print(f"[latency] {rate} readings/s...", file=sys.stderr, flush=True)
            r = one_rate(bs, rate, args)
            print(f"[latency]   p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max "
                  f"{r['max_ms']} ms over {r['alerts_matched']} alerts", file=sys.stderr,
                  flush=True)
            runs.append(r)
    m = common.machine()
    argv_s = sys.argv[1:] if argv is None else argv
    cmd = ("python -m benchmarks.latency " + " ".join(shlex.quote(a) for a in argv_s)).strip()
    out = {"runs": runs, "args": vars(args) | {"child": None}, "machine": m, "command": cmd}
    if args.out:
        from pathlib import Path

        path = Path(args.out)
        path.write_text(common.keep_notes(report(out, cmd, m), path), encoding="utf-8")
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
