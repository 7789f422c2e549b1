"""Latency benchmark: event-to-alert time, end to end through Kafka, at fixed rates.

::

    python -m benchmarks.latency [--json] [--rates 1000,10000,50000] [--seconds 20]
        [--repeat 1] [--sensors 2400] [--partitions 1] [--linger-ms 5] [--nice 0]
        [--bootstrap HOST:PORT] [--epoch-s 10] [--snapshots] [--gc-freeze-s 5]

For each rate, on a fresh embedded broker (or fresh topics of ``--bootstrap``):
``history`` simulated steps (:class:`flows.sim.City`)
are loaded first so that the detectors are warm, the real flow
(:func:`flows.city.build_flow`, default rule packs, tailing) starts in a child process
and catches up, then this process produces live readings at the fixed rate (the
following steps of the same simulation, with its injected anomalies) while a reader
child tails the alerts topic. For every firing alert whose ``(sensor, starts_at)`` is
an anomalous reading produced live, the latency is the time the reader got the alert
minus the time that reading was handed to the producer (``produce()`` returned); both
clocks are this machine's ``time.time()``. The reader stops only once the flow has read
every live reading (an end marker reaches the DLQ), so a flow that falls behind is
measured in full. Reported: p50, p99 and max per rate, and the
rate actually achieved, the latency second by second (does it grow?), and the CPU used
during the live phase by the flow, the broker, the load generator, the reader and the
rest of the machine (it is shared). The first ``--skip-s`` seconds of each live phase
are left out (the flow may still be catching up with the history there). Writes
``benchmarks/results/latency.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shlex
import signal
import sys
import time
import uuid

from benchmarks import common
from flows.config import BATCH_SIZE

MODULE = "benchmarks.latency"
SEED = 11
#: Load generator's producer settings besides ``linger.ms`` (``--linger-ms``).
LOADGEN = {"acks": "1"}
#: The load generator hands messages to the producer in slices this long.
SLICE_S = 0.0005
#: Start of the malformed messages that mark the end of a phase (the flow sends them
#: to the DLQ once it has read that far).
MARKER = b"latency benchmark: "
#: How long the flow may take to catch up (with the history, after the live phase).
CATCH_UP_S = 900.0


def _flow_child(spec: dict) -> None:
    from flows.city import build_flow
    from flows.config import Config
    from flows.runner import run

    cfg = Config(bootstrap=spec["bootstrap"], inputs=((spec["topic"], "json"),),
                 alerts_topic=spec["alerts"], dlq_topic=spec["dlq"], tail=True,
                 batch_size=spec["batch_size"], kafka=spec.get("kafka", {}),
                 snapshots=spec["snapshots"], placement=spec.get("placement", "exchange"))
    common.emit({"ready": time.time()})
    gc_default = not spec["gc_freeze_s"]  # 0: the interpreter's GC, untouched
    run(build_flow(cfg), epoch_s=spec["epoch_s"], gc_freeze_s=spec["gc_freeze_s"] or None,
        **({"gc_gen0": None} if gc_default else {}))


def _reader_child(spec: dict) -> None:
    """Tail the alerts topic until SIGTERM (or ``until``, epoch s, as a safety net);
    firing alerts with read times."""
    import threading

    from flows.tail import tail

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    got = []
    for v, t in tail(spec["bootstrap"], spec["alerts"], spec["until"], stop=stop):
        a = json.loads(v)
        if a.get("status") == "firing":
            got.append([a["sensor"], a["starts_at"], a["rule"], t])
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


def _cpu(pids: dict[str, int]) -> tuple[float, dict[str, float]]:
    """(busy CPU seconds of the whole machine, CPU seconds of each named process)."""
    tck = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat", encoding="ascii") as f:
        x = [int(v) for v in f.readline().split()[1:]]
    busy = (sum(x) - x[3] - x[4]) / tck  # all but idle and iowait
    own = {}
    for name, pid in pids.items():
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            own[name] = (int(fields[11]) + int(fields[12])) / tck
        except OSError:  # gone (or not Linux): not counted
            own[name] = math.nan
    return busy, own


def _cores(a: tuple[float, dict], b: tuple[float, dict], dt: float) -> dict[str, float]:
    """Cores used by each process between two :func:`_cpu` samples, and by the rest."""
    out = {k: round((b[1][k] - a[1][k]) / dt, 2) for k in a[1]}
    rest = (b[0] - a[0]) / dt - sum(v for v in out.values() if not math.isnan(v))
    out["rest of the machine"] = round(max(0.0, rest), 2)
    return out


def one_rate(bs: str, rate: int, args: argparse.Namespace, broker_pid: int | None) -> dict:
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
                                 "batch_size": args.batch_size, "snapshots": args.snapshots,
                                 "placement": args.placement,
                                 "gc_freeze_s": args.gc_freeze_s,
                                 "kafka": dict(kv.split("=", 1) for kv in args.kafka)})
    # the flow reads the history as fast as it can; a malformed marker at the end of
    # each partition goes to the DLQ once the flow has read that far
    t_start = time.time()
    p = common.producer(bs)
    for part in range(args.partitions):
        p.produce(topic, MARKER + b"end of history", partition=part)
    p.flush(10)
    _wait_count(bs, dlq, args.partitions, timeout=CATCH_UP_S)
    catch_up = time.time() - t_start
    time.sleep(1.0)
    duration = len(msgs) / rate
    reader = common.spawn(MODULE, {"mode": "reader", "bootstrap": bs, "alerts": alerts,
                                   "until": time.time() + duration + CATCH_UP_S})
    time.sleep(1.0)
    p = common.producer(bs, **{"linger.ms": str(args.linger_ms), **LOADGEN})
    pids = {"flow": flow.pid, "load generator": os.getpid(), "reader": reader.pid}
    if broker_pid:
        pids["broker"] = broker_pid
    sent: dict[tuple[bytes, str], float] = {}
    gc.collect()
    gc.freeze()  # the load generator must not stall on a full collection of its messages
    t0 = time.time()
    skip_until = t0 + args.skip_s
    cpu0 = None
    i = 0
    n = len(msgs)
    prod = p.produce
    while i < n:
        now = time.time()
        due = min(n, int((now - t0) * rate) + 1)
        while i < due:
            k, v = msgs[i]
            prod(topic, v, k)
            if i in watch:
                sent[watch[i]] = time.time()
            i += 1
        p.poll(0)
        if cpu0 is None and now >= skip_until:
            cpu0 = (now, _cpu(pids))
        if i < n:
            time.sleep(SLICE_S)
    t_end = time.time()
    gc.unfreeze()
    cores = _cores(cpu0[1], _cpu(pids), t_end - cpu0[0]) if cpu0 else {}
    # the reader stops only once the flow has read every live reading (a marker at the
    # end of each partition reaches the DLQ) and the last alerts had time to land: a
    # flow that falls behind is measured in full, not cut off at the end of the run
    for part in range(args.partitions):
        p.produce(topic, MARKER + b"end of live readings", partition=part)
    p.flush(30)
    t_live_end = time.time()
    _wait_count(bs, dlq, 2 * args.partitions, timeout=CATCH_UP_S)
    behind = time.time() - t_live_end
    time.sleep(args.grace_s)
    reader.terminate()
    res = common.reap(reader, timeout=120)
    os.kill(flow.pid, signal.SIGKILL)
    flow.wait()
    lat, rules, when = [], {}, []
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
    per_s: dict[int, list[float]] = {}
    for at, ms, _ in when:
        per_s.setdefault(int(at), []).append(ms)
    return {
        "rate": rate, "achieved_rate": round(n / (t_end - t0)), "sensors": S,
        "catch_up_s": round(catch_up, 1), "behind_at_end_s": round(behind, 2),
        "history_readings": hist, "live_readings": n, "live_s": round(t_end - t0, 2),
        "anomalous_readings_live": anomalous_sent, "alerts_matched": len(lat),
        "by_rule": rules, "not_counted_by_rule": delayed,
        "p50_ms": round(common.percentile(lat, 50), 1),
        "p99_ms": round(common.percentile(lat, 99), 1),
        "max_ms": round(max(lat), 1) if lat else math.nan,
        "slowest": sorted(when, key=lambda x: -x[1])[:5],
        "latencies_ms": [round(x, 1) for x in lat],
        # second of the live phase the reading was produced in -> [alerts, p50, max] ms
        "by_second": {s: [len(v), round(common.percentile(v, 50), 1), round(max(v), 1)]
                      for s, v in sorted(per_s.items())},
        "cores": cores,
    }


def _wait_count(bs: str, topic: str, n: int, timeout: float) -> None:
    """Block until ``topic`` (the DLQ) holds at least ``n`` of this benchmark's markers."""
    from flows.tail import tail

    got = 0
    for v, _ in tail(bs, topic, time.time() + timeout, poll_s=0.1):
        got += v.startswith(MARKER)
        if got >= n:
            return
    raise RuntimeError(f"the flow did not catch up with the history in {timeout} s")


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
    """(sensor, ts) of a simulator message (its Kafka key is the subject, not the sensor):
    the JSON is ``{"sensor":"<id>","ts":"<RFC 3339>",...}`` with plain ids."""
    i = v.find(b'"sensor":"') + 10
    j = v.find(b'"ts":"') + 6
    return v[i:v.find(b'"', i)], v[j:v.find(b'"', j)].decode()


def report(out: dict, cmd: str, m: dict) -> str:
    from flows.city import SINK_CONF
    from flows.runner import GC_GEN0
    from flows.source import CONSUMER_CONF, IDLE_REPOLL, POLL_S
    from flows.tail import TAIL_CONF

    a = out["args"]
    ms = IDLE_REPOLL.total_seconds() * 1000
    lines = [
        "# Event-to-alert latency", "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with:", "",
        f"    {cmd}", "", common.machine_md(m),
        f"Per rate: a fresh embedded broker, a readings topic of {a['partitions']} "
        f"partition(s), {a['history']} steps of history of {out['runs'][0]['sensors']:,} "
        "simulated sensors loaded first (warm detectors), the real flow "
        "(`flows.city.build_flow`, default rule packs, tailing, `flows.runner.run`) in a "
        "child process, then live readings produced at the fixed rate for about "
        f"{a['seconds']:g} s while a reader child tails the alerts topic. Latency = time the "
        "reader got a firing alert - time `produce()` returned for the anomalous reading "
        "it is about (same `(sensor, starts_at)`), end to end through Kafka (producer, "
        "broker, flow, sink, broker, consumer); every matched alert counts, none is "
        f"dropped as an outlier. The first {a['skip_s']:g} s of each live phase are not "
        "counted (the flow may still be finishing the history there).", "",
        "| rate (readings/s) | run | achieved | live readings | anomalous readings | "
        "alerts matched | p50 ms | p99 ms | max ms | other work on the machine (cores) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    runs = sorted(out["runs"], key=lambda r: (r["rate"], r["run"]))
    pooled: dict[int, list[float]] = {}
    for r in runs:
        pooled.setdefault(r["rate"], []).extend(r["latencies_ms"])
        lines.append(f"| {r['rate']:,} | {r['run']} | {r['achieved_rate']:,} | "
                     f"{r['live_readings']:,} | {r['anomalous_readings_live']:,} | "
                     f"{r['alerts_matched']:,} | {r['p50_ms']} | {r['p99_ms']} | "
                     f"{r['max_ms']} | {r['cores'].get('rest of the machine', 'n/a')} |")
    if a["repeat"] > 1:
        for rate, xs in pooled.items():
            lines.append(f"| {rate:,} | all | | | | {len(xs):,} | "
                         f"{round(common.percentile(xs, 50), 1)} | "
                         f"{round(common.percentile(xs, 99), 1)} | "
                         f"{round(max(xs), 1) if xs else math.nan} | |")
    lines += ["", "Targets: p99 <= 100 ms at 10k readings/s, <= 250 ms at 50k readings/s.", "",
              "Second by second (second of the live phase the anomalous reading was "
              "produced in: alerts, p50 / max ms), and the CPU used during the counted "
              "live phase (cores; the machine has "
              f"{m['cores']} and is shared with other work):", ""]
    for r in runs:
        series = "; ".join(f"{s}: {v[1]:g}/{v[2]:g}" for s, v in r["by_second"].items())
        cores = ", ".join(f"{k} {v:g}" for k, v in r["cores"].items())
        lines.append(f"- {r['rate']:,}/s, run {r['run']}: {series or 'none'}. CPU: "
                     f"{cores or 'n/a'}.")
    lines += [
        "", "## Settings", "",
        f"- Flow: Bytewax epoch {a['epoch_s']:g} s; state snapshots "
        f"{'on (as with `--recovery`)' if a['snapshots'] else 'off (as without `--recovery`)'}"
        "; garbage collector: "
        + (f"`flows.runner.freeze_gc` every {a['gc_freeze_s']:g} s, young generation "
           f"threshold {GC_GEN0:,}" if a["gc_freeze_s"] else "Python's default")
        + f"; `KafkaBatchSource` `batch_size` {a['batch_size']}, `poll_s` {POLL_S:g} (a poll "
        f"waits at most {POLL_S * 1000:g} ms), idle partition re-polled after {ms:g} ms, "
        f"consumer {CONSUMER_CONF}; Bytewax `KafkaSink` (flushes after every batch) "
        f"{SINK_CONF}; extra client settings {a['kafka'] or 'none'}.",
        "- Priority: " + (f"nice -{a['nice']} for the broker, flow, load generator and "
                          "reader (they get the CPU before the machine's other work)."
                          if a["nice"] else "normal (the machine's other work competes "
                          "for the CPU)."),
        f"- Load generator: confluent-kafka producer `linger.ms` {a['linger_ms']:g}, "
        f"{LOADGEN}; messages handed over every {SLICE_S * 1000:g} ms at the target rate.",
        f"- Reader: `flows.tail.tail` (`assign()` consumer {TAIL_CONF}, `consume(1000, "
        "0.005)`).", "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.latency",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--rates", default="1000,10000,50000")
    ap.add_argument("--seconds", type=float, default=20.0, help="live phase per rate")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per rate (the machine is shared: one run can be unlucky)")
    ap.add_argument("--sensors", type=int, default=2400)
    ap.add_argument("--history", type=int, default=72, help="steps loaded before")
    ap.add_argument("--partitions", type=int, default=1,
                    help="partitions of the readings topic (default 1: the flow runs one "
                         "worker, which reads them all)")
    ap.add_argument("--linger-ms", type=float, default=5.0,
                    help="the load generator's producer linger.ms (librdkafka's default 5)")
    ap.add_argument("--epoch-s", type=float, default=10.0)
    ap.add_argument("--placement", choices=["exchange", "partition"], default="exchange",
                    help="engine state placement (flows.config.Config.placement)")
    ap.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    ap.add_argument("--snapshots", action="store_true",
                    help="snapshot the engine's state at each epoch, as with `sentinelle run "
                         "--recovery` (default: off, as without it)")
    ap.add_argument("--gc-freeze-s", type=float, default=None,
                    help="period of flows.runner.freeze_gc in the flow (0: Python's default "
                         "GC; default: flows.runner.FREEZE_S)")
    ap.add_argument("--kafka", action="append", default=[], metavar="KEY=VALUE",
                    help="extra librdkafka setting for the flow's clients (repeatable)")
    ap.add_argument("--skip-s", type=float, default=3.0)
    ap.add_argument("--grace-s", type=float, default=2.0,
                    help="the reader keeps reading this long after the flow has read the "
                         "last live reading")
    ap.add_argument("--nice", type=int, default=0,
                    help="lower the nice value of this benchmark's processes (broker, flow, "
                         "load generator, reader) by N (needs root): the latency when other "
                         "work on a shared machine does not take their CPU")
    ap.add_argument("--bootstrap", default=None,
                    help="an existing Kafka (default: a fresh embedded broker per rate)")
    ap.add_argument("--out", default=str(common.RESULTS / "latency.md"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.gc_freeze_s is None:
        from flows.runner import FREEZE_S

        args.gc_freeze_s = FREEZE_S
    if args.child:
        _child(json.loads(args.child))
        return
    from flows.broker import Broker

    if args.nice:
        os.nice(-args.nice)  # inherited by the broker and the children started below
    m = common.machine()  # load average at the start
    runs = []
    rates = [int(x) for x in args.rates.split(",") if x]
    for run, rate in ((k + 1, rate) for k in range(args.repeat) for rate in rates):
        print(f"[latency] {rate} readings/s, run {run}...", file=sys.stderr, flush=True)
        if args.bootstrap:
            r = one_rate(args.bootstrap, rate, args, None)
        else:  # a fresh broker per rate: the embedded one slows down as topics grow
            with Broker() as b:
                r = one_rate(b.bootstrap, rate, args, b.proc.pid if b.proc else None)
        r["run"] = run
        print(f"[latency]   p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max "
              f"{r['max_ms']} ms over {r['alerts_matched']} alerts; cores {r['cores']}",
              file=sys.stderr, flush=True)
        runs.append(r)
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
