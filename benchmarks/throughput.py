"""Throughput benchmark: the engine side by side with its stack's ceiling and a naive flow.

::

    python -m benchmarks.throughput [--json] [--n 1000000] [--sensors 10000]
        [--partitions 4] [--bootstrap HOST:PORT] [--naive-n 500]
        [--placement exchange|partition|both] [--scaling] [--state-memory] [--profile]

Pre-loads ``n`` simulated readings (:class:`flows.sim.City`, whole time steps of every
sensor, keyed by subject (site) over ``partitions`` partitions) into the embedded broker (or
``--bootstrap``), then runs one after another, each in its own child process (CPU
seconds from ``wait4``, peak RSS the child's own ``VmHWM``), on the same data:

- ``ceiling`` (:func:`flows.baselines.ceiling`): Kafka -> Kafka passthrough with our
  :class:`flows.source.KafkaBatchSource` (one item per poll), each value re-emitted as
  one ``KafkaSinkMessage`` to Bytewax's ``KafkaSink``: no decode, no processing.
  ``ceiling_bytewax`` (:func:`flows.baselines.ceiling_bytewax`) is the same passthrough
  with Bytewax's own ``KafkaSource`` (one Python message object per record), for
  reference; ratios use ``ceiling``, the faster of the two, run once before and once
  after the engine runs (``ceiling_after``): the ratios use the mean of the two, since
  the shared machine's speed drifts;
- ``engine``: the real flow (:func:`flows.city.build_flow`, default rule packs, tail off)
  to a fresh alerts topic. Its alerts are read back, scored against the simulator's
  ground truth (:func:`flows.sim.score`) and compared with an in-process replay of the
  same readings through the same engine (``expected_alerts_check``). With ``--placement
  both`` (the default) it runs twice: ``engine`` with the default state placement
  (``exchange``: state shards keyed by subject, readings routed to their worker) and
  ``engine_partition`` with ``partition`` placement (:mod:`flows.local`: the engine
  inside each input partition, no exchange), each checked the same way;
- ``naive``: :func:`flows.baselines.naive` on the first ``naive_n`` readings of the same
  stream (a river HalfSpaceTrees per sensor as ``stateful_map`` state is too slow for
  all).

``--scaling`` adds the engine as 1 and 2 Bytewax processes (``-i 0/1 -a ...``) on the
same data, for each placement; ``--state-memory`` the engine state per sensor at 10k and
100k sensors (pickled ``KeyState`` bytes and RSS); ``--profile`` one more engine run
under pyinstrument. Writes ``benchmarks/results/throughput.md`` (machine, command,
figures, profile); text between ``<!-- notes -->`` and ``<!-- /notes -->`` there is kept
across runs.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict

from benchmarks import common
from flows import topics
from flows.config import BATCH_SIZE, PLACEMENTS

MODULE = "benchmarks.throughput"
#: The passthrough ceiling's batch size: its fastest in alternating runs (larger batches
#: cost it CPU per message; the engine's default is larger, see flows.config.BATCH_SIZE).
CEILING_BATCH = 5000
SEED = 7
SLACK_STEPS = 2  # alerts count against an anomaly up to this many steps around it


# -- child side -------------------------------------------------------------------------


def _child(spec: dict) -> None:
    mode = spec["mode"]
    if mode == "state":
        common.emit(_state_child(spec))
        return
    from flows.runner import run

    bs = spec["bootstrap"]
    engine = None
    if mode == "ceiling":
        from flows.baselines import ceiling

        flow = ceiling(bs, spec["topic"], spec["out"], spec["batch_size"])
    elif mode == "ceiling_bytewax":
        from flows.baselines import ceiling_bytewax

        flow = ceiling_bytewax(bs, spec["topic"], spec["out"])
    elif mode == "engine":
        from flows.city import build_flow, make_engine

        cfg = _engine_cfg(spec)
        engine = make_engine(cfg)
        flow = build_flow(cfg, engine)
    elif mode == "naive":
        from flows.baselines import naive

        flow = naive(bs, spec["topic"], spec["out"])
    else:
        raise SystemExit(f"unknown mode {mode}")
    kw = {"epoch_s": spec.get("epoch_s", 10.0)}
    if spec.get("addresses"):
        kw.update(process_id=spec["process_id"], addresses=spec["addresses"])
    if spec.get("barrier"):
        common.barrier(spec["barrier"], spec["process_id"])
    prof = None
    if spec.get("profile"):
        from pyinstrument import Profiler

        prof = Profiler(interval=0.0005)
        prof.start()
    t0 = time.time()
    run(flow, **kw)
    t1 = time.time()
    res: dict = {"mode": mode, "start": t0, "end": t1, "wall_s": round(t1 - t0, 3)}
    if prof is not None:
        prof.stop()
        res["profile"] = _profile_summary(prof, spec["profile"])
    if mode == "engine":  # readings an engine shard received from another worker
        from prometheus_client import REGISTRY

        res["exchanged"] = int(REGISTRY.get_sample_value(
            "sentinelle_exchanged_readings_total") or 0)
    if engine is not None and hasattr(engine, "stats"):
        st = engine.stats
        res["engine_stats"] = {k: getattr(st, k) for k in ("readings", "late", "alerts")
                               if hasattr(st, k)}
    common.emit(res)


def _engine_cfg(spec: dict):
    from flows.config import Config

    return Config(bootstrap=spec["bootstrap"], inputs=((spec["topic"], "json"),),
                  alerts_topic=spec["out"], dlq_topic=spec["dlq"], tail=False,
                  batch_size=spec["batch_size"],
                  snapshots=spec.get("snapshots", False),
                  placement=spec.get("placement", "exchange"), kafka=spec.get("kafka", {}))


def _profile_summary(prof, path: str) -> dict:
    """Write the call tree to ``path``; self time per function (top 20) and per area."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(prof.output_text(unicode=False, color=False, show_all=False))
    root = prof.last_session.root_frame()
    by_fn: dict[str, float] = defaultdict(float)
    by_area: dict[str, float] = defaultdict(float)
    stack = [root]
    while stack:
        fr = stack.pop()
        stack.extend(fr.children)
        if fr.is_synthetic:
            continue
        t = fr.time - sum(c.time for c in fr.children if not c.is_synthetic)
        if t <= 0:
            continue
        fp = (fr.file_path or "").replace("\\", "/")
        name = f"{fr.function} ({fr.file_path_short}:{fr.line_no})"
        by_fn[name] += t
        by_area[_area(fp, fr.function)] += t
    total = root.time or 1.0
    top = sorted(by_fn.items(), key=lambda kv: -kv[1])[:20]
    return {
        "total_s": round(total, 3),
        "top_self": [[k, round(v, 3), round(100 * v / total, 1)] for k, v in top],
        "areas": {k: round(100 * v / total, 1)
                  for k, v in sorted(by_area.items(), key=lambda kv: -kv[1])},
    }


def _area(path: str, fn: str) -> str:
    if not path or path.startswith("<"):  # built-ins: by name
        if fn.startswith(("Consumer.", "Producer.")):
            return "kafka client (librdkafka calls)"
        if fn.startswith(("Decoder.", "Encoder.")):
            return "msgspec (JSON decode/encode)"
        if "pickle" in fn or fn in ("dumps", "loads"):
            return "pickle (snapshots)"
    for key, area in (("/flows/codecs/", "decode (codecs)"), ("/flows/source", "kafka source"),
                      ("/flows/city", "flow glue (flows/city.py)"), ("/rules/", "rules engine"),
                      ("/models/", "detectors (models/)"), ("/bytewax/", "bytewax python"),
                      ("/confluent_kafka/", "kafka client"), ("/msgspec/", "msgspec"),
                      ("prometheus_client", "metrics"), ("/flows/", "flows other")):
        if key in path:
            return area
    if fn in ("consume", "produce", "poll", "flush"):
        return "kafka client"
    if "run" in fn and "runner" in path:
        return "bytewax runtime (rust)"
    return "other"


def _state_child(spec: dict) -> dict:
    """Run the engine in-process over ``steps`` steps of ``sensors`` sensors; state size."""
    import pickle

    import psutil

    from flows.city import make_engine
    from flows.config import Config
    from flows.sim import City

    proc = psutil.Process()
    engine = make_engine(Config(bootstrap="unused:0"))
    # an engine process before any state: interpreter, Bytewax, Kafka client, numpy and
    # the compiled packs (the simulator built next is not part of an engine process)
    rss_base = proc.memory_info().rss
    city = City(seed=SEED, sensors_per_commune=math.ceil(spec["sensors"] / 24))
    states: dict = {}
    gen = city.steps(spec["steps"])
    first = next(gen)
    rss0 = proc.memory_info().rss
    n = 0
    t0 = time.perf_counter()
    for step in _chain1(first, gen):
        groups: dict[str, list] = defaultdict(list)
        for r in step:
            groups[r.subject].append(r)
        now = time.time()
        for k, rs in groups.items():
            st = states.get(k)
            if st is None:
                st = states[k] = engine.new_state()
            engine.process(st, rs, now)
        n += len(step)
    dt = time.perf_counter() - t0
    del first, step, groups, gen
    rss1 = proc.memory_info().rss
    pick = sum(len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in states.values())
    S = len(city.sensors)
    return {"mode": "state", "sensors": S, "keys": len(states), "steps": spec["steps"],
            "readings": n, "replay_readings_per_s": round(n / dt),
            "pickled_bytes_per_sensor": round(pick / S), "pickled_total_mb": round(pick / 2**20, 1),
            "rss_delta_mb": round((rss1 - rss0) / 2**20, 1),
            "rss_bytes_per_sensor": round((rss1 - rss0) / S),
            "rss_mb": round(rss1 / 2**20, 1),
            "engine_base_rss_mb": round(rss_base / 2**20, 1),
            "engine_rss_mb": round((rss_base + rss1 - rss0) / 2**20, 1)}


def _chain1(first, rest):
    yield first
    yield from rest


# -- parent side ------------------------------------------------------------------------


def _run(mode: str, bs: str, topic: str, out: str, **kw: object) -> dict:
    spec = {"mode": mode, "bootstrap": bs, "topic": topic, "out": out, **kw}
    return common.child(MODULE, spec, timeout=3600)


def _rate(res: dict, n: int) -> dict:
    res["n"] = n
    res["readings_per_s"] = round(n / res["wall_s"]) if res["wall_s"] > 0 else None
    res["cpu_us_per_reading"] = round(1e6 * res["cpu_s"] / n, 2)
    return res


def _replay(n: int, sensors_per_commune: int, now: float) -> dict:
    """The same readings through the same engine in-process, grouped per step and key."""
    from flows.city import make_engine
    from flows.config import Config
    from flows.sim import City

    city = City(seed=SEED, sensors_per_commune=sensors_per_commune)
    engine = make_engine(Config(bootstrap="unused:0"))
    states: dict = {}
    alerts = []
    spent = 0.0
    count = 0
    clock = time.process_time
    last = 0.0
    for step in city.steps(topics.steps_for(city, n)):
        groups: dict[str, list] = defaultdict(list)
        for r in step:
            groups[r.subject].append(r)
        count += len(step)
        t0 = clock()
        for k, rs in groups.items():
            st = states.get(k)
            if st is None:
                st = states[k] = engine.new_state()
            alerts.extend(engine.process(st, rs, now)[0])
        spent += clock() - t0
        last = step[-1].ts if step else last
    # the end of the data, as the flow's ShardLogic.on_eof: the stream's clock moves to
    # its newest event time and the silences that proves are raised
    if states:
        engine.advance("replay", last, now)
        engine.close(now)
        for st in states.values():
            alerts.extend(engine.tick(st, now))
    return {"alerts": [(a.id, a.status) for a in alerts],
            "process_us_per_reading": round(1e6 * spent / max(count, 1), 2),
            "rules": [a.rule for a in alerts], "truth": city.anomalies,
            "step_s": city.step_s}


def _check(bs: str, alerts_topic: str, n: int, spc: int, t_run: float,
           replays: dict) -> dict:
    """Alerts of the engine run vs ground truth and vs an in-process replay (computed
    once and kept in ``replays``: alert ids and statuses do not depend on ``t_run``)."""
    from flows.sim import score

    raw = topics.read_values(bs, alerts_topic)
    alerts = [json.loads(v) for v in raw]
    rep = replays.get("rep")
    if rep is None:
        rep = replays["rep"] = _replay(n, spc, t_run)
    sc = score(alerts, rep["truth"], slack_s=SLACK_STEPS * rep["step_s"])
    got = {(a["id"], a["status"]) for a in alerts}
    want = set(rep["alerts"])
    flow_by = Counter(a["rule"] for a in alerts)
    rep_by = Counter(rep["rules"])
    diff = {r: [flow_by[r], rep_by[r]] for r in sorted(set(flow_by) | set(rep_by))
            if flow_by[r] != rep_by[r]}
    return {
        "engine_process_only_us_per_reading": rep["process_us_per_reading"],
        "alert_events": len(alerts),
        "firing": sum(a["status"] == "firing" for a in alerts),
        "replay_alert_events": len(rep["alerts"]),
        "replay_match": got == want,
        "missing_vs_replay": len(want - got), "extra_vs_replay": len(got - want),
        "differing_rules_flow_vs_replay": diff,
        "anomalies": sc["anomalies"], "caught": sc["caught"],
        "recall": round(sc["recall"], 3), "precision": round(sc["precision"], 3),
        "slack_s": SLACK_STEPS * rep["step_s"],
        "by_type": sc["by_type"],
    }


def _cluster(bs: str, topic: str, out: str, dlq: str, procs: int, **kw: object) -> dict:
    """The engine as ``procs`` Bytewax processes of one cluster (``-i``/``-a``).

    The processes start their flows in index order, released one by one past a
    barrier once all of them have imported and built it (:func:`common.release`):
    a process connects to those of lower index, and Timely retries a refused connection
    only after a second, so a process 1 that was ready a moment before process 0
    listened would add a second of waiting to the run. Retries that happen anyway are
    counted (``connect_retries``). The wall time runs from the first process start.
    """
    addrs = [f"127.0.0.1:{common_port()}" for _ in range(procs)]
    with tempfile.TemporaryDirectory(prefix="sentinelle-barrier-") as gate:
        ps = [common.spawn(MODULE, {"mode": "engine", "bootstrap": bs, "topic": topic,
                                    "out": out, "dlq": dlq, "process_id": i,
                                    "addresses": addrs, "barrier": gate, **kw})
              for i in range(procs)]
        common.release(gate, procs, ps)
        res = [common.reap(p, 1800) for p in ps]
    wall = max(r["end"] for r in res) - min(r["start"] for r in res)
    return {"processes": procs, "wall_s": round(wall, 3),
            "cpu_s": round(sum(r["cpu_s"] for r in res), 2),
            "peak_rss_mb": [r["peak_rss_mb"] for r in res],
            "connect_retries": sum(r["connect_retries"] for r in res),
            "exchanged": sum(r.get("exchanged", 0) for r in res)}


def common_port() -> int:
    from flows.broker import free_port

    return free_port()


def bench(args: argparse.Namespace) -> dict:
    from flows.broker import connect, create_topics
    from flows.sim import City

    spc = max(1, math.ceil(args.sensors / 24))
    tag = uuid.uuid4().hex[:6]
    t = {k: f"bench-{k}-{tag}" for k in (
        "readings", "ceiling", "ceiling-after", "ceiling-bx", "alerts", "dlq", "naive-in",
        "naive-out",
        "alerts-prof")} | {f"{k}-{pl}": f"bench-{k}-{pl}-{tag}" for k in (
        "alerts", "alerts-1p", "alerts-2p") for pl in PLACEMENTS}
    out: dict = {}
    with connect(args.bootstrap) as bs:
        create_topics(bs, [t["readings"], t["naive-in"]], args.partitions)
        create_topics(bs, [v for k, v in t.items() if k not in ("readings", "naive-in")], 1)
        city = City(seed=SEED, sensors_per_commune=spc)
        sensors = len(city.sensors)
        t0 = time.perf_counter()
        n = topics.load(bs, t["readings"], city, args.n)
        load_s = time.perf_counter() - t0
        log(f"loaded {n} readings of {sensors} sensors in {load_s:.1f} s")
        naive_n = min(args.naive_n, n)
        if naive_n:
            ncity = City(seed=SEED, sensors_per_commune=spc)
            p = topics.producer(bs)
            left = naive_n
            for step in ncity.encoded_steps(topics.steps_for(ncity, naive_n)):
                topics.produce_all(p, t["naive-in"], step[:left])
                left -= min(left, len(step))
            p.flush(60)
            del p  # its client threads stop now, not retrying once the broker is gone
        common_kw = {"epoch_s": args.epoch_s, "snapshots": args.snapshots,
                     "batch_size": args.batch_size}
        ceil_kw = {**common_kw, "batch_size": args.ceiling_batch_size}
        out["batch_size"] = {"engine": args.batch_size, "ceiling": args.ceiling_batch_size}
        log("ceiling (KafkaBatchSource passthrough)...")
        out["ceiling"] = _rate(_run("ceiling", bs, t["readings"], t["ceiling"], **ceil_kw), n)
        out["ceiling"]["out"] = topics.count(bs, t["ceiling"])
        log(f"  {out['ceiling']['readings_per_s']} readings/s")
        log("ceiling_bytewax (Bytewax KafkaSource passthrough)...")
        out["ceiling_bytewax"] = _rate(
            _run("ceiling_bytewax", bs, t["readings"], t["ceiling-bx"], **common_kw), n)
        out["ceiling_bytewax"]["out"] = topics.count(bs, t["ceiling-bx"])
        log(f"  {out['ceiling_bytewax']['readings_per_s']} readings/s")
        replays: dict = {}
        for pl in _placements(args.placement):
            name = _engine_key(pl, args.placement)
            log(f"{name} (placement {pl})...")
            t_run = time.time()
            dlq = f"{t['dlq']}-{pl}"
            eng = out[name] = _rate(_run("engine", bs, t["readings"], t[f"alerts-{pl}"],
                                         dlq=dlq, placement=pl, **common_kw), n)
            eng["placement"] = pl
            log(f"  {eng['readings_per_s']} readings/s; checking alerts...")
            chk = _check(bs, t[f"alerts-{pl}"], n, spc, t_run, replays)
            eng["alerts"] = chk["alert_events"]
            eng["dlq"] = topics.count(bs, dlq)
            eng["expected_alerts_check"] = chk
            only = chk["engine_process_only_us_per_reading"]
            eng["rules_engine_only_us_per_reading"] = only
            eng["rules_engine_share_of_cpu"] = round(only / eng["cpu_us_per_reading"], 2)
        # the ceiling again, right after the engine runs: the machine is shared and its
        # speed drifts, so the ratios use the mean of the two (both are reported)
        log("ceiling again, after the engine runs...")
        out["ceiling_after"] = _rate(
            _run("ceiling", bs, t["readings"], t["ceiling-after"], **ceil_kw), n)
        out["ceiling_after"]["out"] = topics.count(bs, t["ceiling-after"])
        log(f"  {out['ceiling_after']['readings_per_s']} readings/s")
        if naive_n:
            log(f"naive ({naive_n} readings)...")
            out["naive"] = _rate(_run("naive", bs, t["naive-in"], t["naive-out"],
                                      **common_kw), naive_n)
            out["naive"]["out"] = topics.count(bs, t["naive-out"])
            log(f"  {out['naive']['readings_per_s']} readings/s")
        if args.scaling:
            for pl in _placements(args.placement):
                key = "scaling" if _engine_key(pl, args.placement) == "engine" else (
                    "scaling_partition")
                out[key] = _scaling(bs, t, n, {**common_kw, "placement": pl}, pl,
                                    args.scaling_repeat)
        if args.profile:
            log("engine under pyinstrument...")
            prof = str(common.RESULTS / "profile_engine.txt")
            r = _run("engine", bs, t["readings"], t["alerts-prof"], dlq=t["dlq"] + "-p",
                     profile=prof, placement=_placements(args.placement)[-1], **common_kw)
            out["profile"] = {**r["profile"], "readings_per_s_profiled": round(n / r["wall_s"]),
                              "tree": "benchmarks/results/profile_engine.txt"}
    if args.state_memory:
        out["state_memory"] = []
        for s in (10_000, 100_000):
            log(f"state memory, {s} sensors...")
            out["state_memory"].append(common.child(
                MODULE, {"mode": "state", "sensors": s, "steps": args.state_steps}, 3600))
    c = round((out["ceiling"]["readings_per_s"] + out["ceiling_after"]["readings_per_s"]) / 2)
    out["ceiling_mean_readings_per_s"] = c
    e = out["engine"]["readings_per_s"]
    out["engine_over_ceiling"] = round(e / c, 3)
    if "engine_partition" in out:
        out["engine_partition_over_ceiling"] = round(
            out["engine_partition"]["readings_per_s"] / c, 3)
    if "naive" in out:
        out["engine_over_naive"] = round(e / out["naive"]["readings_per_s"], 1)
    out["setup"] = {"n": n, "sensors": sensors, "partitions": args.partitions,
                    "naive_n": naive_n, "epoch_s": args.epoch_s, "seed": SEED,
                    "snapshots": args.snapshots, "placement": args.placement,
                    "load_s": round(load_s, 1), "bootstrap": args.bootstrap or "embedded"}
    return out


def _placements(arg: str) -> list[str]:
    return list(PLACEMENTS) if arg == "both" else [arg]


def _engine_key(placement: str, arg: str) -> str:
    """Result key of an engine run: ``engine`` for the default placement (or the only
    one asked for), ``engine_partition`` for the partition placement next to it."""
    return "engine_partition" if arg == "both" and placement == "partition" else "engine"


def _scaling(bs: str, t: dict, n: int, kw: dict, pl: str, repeat: int = 1) -> dict:
    """1 then 2 processes, ``repeat`` times alternately; the speed-up compares the
    fastest run of each (the machine is shared: a run can only be slowed down by other
    work, never sped up), and every run's alerts are checked rule by rule."""
    from flows.broker import create_topics

    runs: dict[int, list[dict]] = {1: [], 2: []}
    ref: Counter | None = None  # the first run's event counts per rule
    diff: dict = {}
    for i in range(repeat):
        for procs in (1, 2):
            out = f"{t[f'alerts-{procs}p-{pl}']}-{i}"
            create_topics(bs, [out], 1)
            log(f"scaling ({pl}), run {i + 1}: engine, {procs} process(es)...")
            r = _cluster(bs, t["readings"], out, f"{t['dlq']}-{procs}p-{pl}-{i}", procs, **kw)
            rules = Counter(json.loads(v)["rule"] for v in topics.read_values(bs, out))
            r["readings_per_s"] = round(n / r["wall_s"])
            r["alerts"] = sum(rules.values())
            log(f"  {r['readings_per_s']} readings/s, {r['alerts']} alert events")
            runs[procs].append(r)
            ref = rules if ref is None else ref  # every run against the first one
            diff.update({f"{k} ({procs}p run {i + 1})": [ref[k], rules[k]]
                         for k in sorted(set(ref) | set(rules)) if ref[k] != rules[k]})
    one = min(runs[1], key=lambda r: r["wall_s"])
    two = min(runs[2], key=lambda r: r["wall_s"])
    return {"placement": pl, "one": one, "two": two, "runs_1p": runs[1], "runs_2p": runs[2],
            "speedup": round(one["wall_s"] / two["wall_s"], 2),
            "speedups_per_pair": [round(a["wall_s"] / b["wall_s"], 2)
                                  for a, b in zip(runs[1], runs[2], strict=True)],
            "same_alert_count": len({r["alerts"] for r in runs[1] + runs[2]}) == 1,
            "differing_rules_1p_vs_2p": diff}


def _count(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def log(msg: str) -> None:
    print(f"[throughput] {msg}", file=sys.stderr, flush=True)


# -- report -----------------------------------------------------------------------------


def _row(name: str, r: dict, what: str) -> str:
    return (f"| {name} | {what} | {r['n']:,} | {r['wall_s']:.2f} | {r['readings_per_s']:,} | "
            f"{r['cpu_s']:.1f} | {r['cpu_us_per_reading']:.1f} | {r['peak_rss_mb']:.0f} |")


def report(out: dict, cmd: str, m: dict) -> str:
    from flows.source import CONSUMER_CONF

    s = out["setup"]
    chk = out["engine"]["expected_alerts_check"]
    lines = [
        "# Throughput", "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with:", "",
        f"    {cmd}", "",
        common.machine_md(m),
        f"Data: {s['n']:,} simulated readings (`flows.sim.City`, seed {s['seed']}) of "
        f"{s['sensors']:,} sensors, whole 5-minute steps, JSON contract, key = subject (site), "
        f"{s['partitions']} partitions; loaded in {s['load_s']} s. Each run is a child "
        f"process (`python -m bytewax`-equivalent `cli_main`, 1 worker, epoch "
        f"{s['epoch_s']:g} s, state snapshots "
        f"{'on, as with `--recovery`' if s.get('snapshots') else 'off, as without `--recovery`'}"
        f") reading the topic from the beginning to its end "
        f"(`tail=False`); CPU s from `wait4`, peak RSS the child's own `VmHWM` (wait4's "
        "maxrss would count the parent's RSS at the fork), the broker's CPU not included.",
        "", "| run | what | readings | wall s | readings/s | CPU s | CPU µs/reading | "
        "peak RSS MB |", "|---|---|---:|---:|---:|---:|---:|---:|",
        _row("ceiling", out["ceiling"], "KafkaBatchSource -> KafkaSink passthrough, no decode"),
        _row("ceiling_after", out["ceiling_after"], "the same, again after the engine runs"),
        _row("ceiling_bytewax", out["ceiling_bytewax"],
             "Bytewax KafkaSource -> KafkaSink passthrough"),
        _row("engine", out["engine"], "`flows.city.build_flow`, default rule packs, "
             f"placement {out['engine'].get('placement', 'exchange')}"),
    ]
    if "engine_partition" in out:
        lines.append(_row("engine_partition", out["engine_partition"],
                          "the same, placement partition (`flows.local`: the engine inside "
                          "each input partition, no exchange)"))
    if "naive" in out:
        lines.append(_row("naive", out["naive"],
                          "json.loads, key_on, river HalfSpaceTrees per sensor in "
                          "stateful_map, json.dumps"))
    eng = out["engine"]
    lines += [
        "", f"- **engine / ceiling = {out['engine_over_ceiling']}** (target >= 0.5)"
        + (f"; placement partition: **{out['engine_partition_over_ceiling']}**"
           if "engine_partition_over_ceiling" in out else "")
        + f". The ceiling is the mean of its runs before and after the engine runs "
        f"({out['ceiling']['readings_per_s']:,} and {out['ceiling_after']['readings_per_s']:,}"
        f" -> {out['ceiling_mean_readings_per_s']:,} readings/s): the shared machine's "
        "speed drifts during a benchmark",
        f"- the rule engine and its detectors alone (`Engine.process` on the same readings "
        f"in-process, no Kafka, no Bytewax, CPU time): **{eng['rules_engine_only_us_per_reading']}"
        f" µs/reading**, i.e. at most {round(1e6 / eng['rules_engine_only_us_per_reading']):,} "
        f"readings/s on one core, and {round(100 * eng['rules_engine_share_of_cpu'])} % of the "
        "engine run's CPU per reading",
    ]
    if "engine_over_naive" in out:
        lines.append(f"- **engine / naive = {out['engine_over_naive']}** per reading "
                     f"(target >= 20; naive on the first {s['naive_n']:,} readings of the "
                     "same stream)")
    lines += [
        f"- passthrough outputs: ceiling {out['ceiling']['out']:,}, ceiling_after "
        f"{out['ceiling_after']['out']:,}, ceiling_bytewax "
        f"{out['ceiling_bytewax']['out']:,} messages (= readings)",
        "", "## Engine alerts (nothing skipped)", "",
        f"The engine run wrote {chk['alert_events']:,} alert events ({chk['firing']:,} "
        f"firing) and {out['engine']['dlq']:,} DLQ records. An in-process replay of the same "
        f"readings through the same engine (no Kafka, no Bytewax) gives "
        f"{chk['replay_alert_events']:,} events: identical (id, status) sets: "
        f"**{chk['replay_match']}** (missing {chk['missing_vs_replay']}, extra "
        f"{chk['extra_vs_replay']}; rules whose event counts differ, flow vs replay: "
        f"{chk['differing_rules_flow_vs_replay'] or 'none'}; the replay runs no "
        "processing-time timers, groups readings per step and raises the silences "
        "proven at the end of the data, as the flow does). Against the simulator's "
        "ground truth "
        f"(`flows.sim.score`, slack {chk['slack_s']:g} s): {chk['caught']}/"
        f"{chk['anomalies']} anomalies caught (recall {chk['recall']}), precision "
        f"{chk['precision']}.", "",
        "| anomaly type | injected | caught |", "|---|---:|---:|",
    ]
    for k, v in chk["by_type"].items():
        lines.append(f"| {k} | {v['anomalies']} | {v['caught']} |")
    if "engine_partition" in out:
        cp = out["engine_partition"]["expected_alerts_check"]
        lines += ["", f"The `engine_partition` run wrote {cp['alert_events']:,} alert events "
                  f"({cp['firing']:,} firing) and {out['engine_partition']['dlq']:,} DLQ "
                  f"records; identical (id, status) sets with the replay: "
                  f"**{cp['replay_match']}** (missing {cp['missing_vs_replay']}, extra "
                  f"{cp['extra_vs_replay']}); {cp['caught']}/{cp['anomalies']} anomalies "
                  f"caught, precision {cp['precision']}."]
    for key in ("scaling", "scaling_partition"):
        if key not in out:
            continue
        sc = out[key]
        lines += ["", f"## Scaling: 1 and 2 Bytewax processes, placement "
                  f"{sc.get('placement', 'exchange')}", "",
                  "The engine as a cluster of 1 and of 2 processes (`flows.runner.run` with "
                  "`process_id`/`addresses`, like `python -m bytewax.run -i0 -a ...`), one "
                  "worker each, same data; wall time from the first process start to the "
                  "last end; 1 and 2 processes alternately, "
                  f"{len(sc.get('runs_1p', [1]))} time(s) each. The processes start their "
                  "flows in index order past a barrier, "
                  f"{common.STAGGER_S * 1000:.0f} ms apart (counted in the wall time), so "
                  "that none meets Timely's one-second retry of a refused cluster "
                  "connection; retries are counted all the same. *Exchanged*: readings an "
                  "engine shard received from another worker "
                  "(`sentinelle_exchanged_readings_total`, summed over the processes; "
                  "placement partition has no shards to route).", "",
                  "| processes | run | wall s | readings/s | CPU s (sum) | peak RSS MB | "
                  "alerts | connect retries | exchanged |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for procs in (1, 2):
            for i, r in enumerate(sc.get(f"runs_{procs}p", [sc["one" if procs == 1 else "two"]])):
                lines.append(f"| {r['processes']} | {i + 1} | {r['wall_s']:.2f} | "
                             f"{r['readings_per_s']:,} | {r['cpu_s']:.1f} | {r['peak_rss_mb']} "
                             f"| {r['alerts']:,} | {r.get('connect_retries', '')} "
                             f"| {_count(r.get('exchanged'))} |")
        pairs = sc.get("speedups_per_pair")
        lines += ["", f"**Speed-up: {sc['speedup']}x** (fastest 2-process run over fastest "
                  f"1-process run; target >= 1.6)"
                  + (f"; run by run: {', '.join(f'{x}x' for x in pairs)}" if pairs else "")
                  + f". Same alert count in every run: {sc['same_alert_count']}; rules whose "
                  f"event counts differ: {sc.get('differing_rules_1p_vs_2p') or 'none'}."]
    if "state_memory" in out:
        lines += ["", "## State memory per sensor", "",
                  "The engine in-process (default packs) over "
                  f"{out['state_memory'][0]['steps']} steps (every window full: the rolling "
                  "z-score's 96 readings and the novelty detector's 300-reading history), "
                  "then the "
                  "pickled `KeyState` of every key (what Bytewax snapshots) and the RSS "
                  "growth while the states were built. *Engine RSS* = the process's RSS "
                  "once the engine is imported and its packs compiled (before the "
                  "simulator is built) plus that growth: what an engine process holding "
                  "these sensors needs; *process RSS* also holds the simulator of all "
                  "the sensors.", "",
                  "| sensors | keys | readings | pickled B/sensor | RSS growth B/sensor | "
                  "RSS growth MB | engine RSS MB | process RSS MB | peak RSS MB |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in out["state_memory"]:
            lines.append(f"| {r['sensors']:,} | {r['keys']:,} | {r['readings']:,} | "
                         f"{r['pickled_bytes_per_sensor']:,} | {r['rss_bytes_per_sensor']:,} | "
                         f"{r['rss_delta_mb']} | {r.get('engine_rss_mb', '')} | "
                         f"{r['rss_mb']} | {r['peak_rss_mb']} |")
    if "profile" in out:
        p = out["profile"]
        lines += ["", "## Where the time goes (pyinstrument, engine run)", "",
                  f"One more engine run under pyinstrument (main thread, sampling 0.5 ms; "
                  f"{p['readings_per_s_profiled']:,} readings/s while profiled, "
                  f"{p['total_s']} s sampled). Full call tree: `{p['tree']}`.", "",
                  "Self time by area:", "", "| area | % |", "|---|---:|"]
        for k, v in p["areas"].items():
            lines.append(f"| {k} | {v} |")
        lines += ["", "Top functions by self time:", "", "| function | s | % |",
                  "|---|---:|---:|"]
        for name, sec, pct in p["top_self"]:
            lines.append(f"| `{name}` | {sec} | {pct} |")
    bsz = out["batch_size"]
    lines += ["", "## Settings", "",
              f"- `KafkaBatchSource`: `batch_size` {bsz['engine']:,} messages per poll at most "
              f"for the engine runs (the product default, `flows.config.BATCH_SIZE`) and "
              f"{bsz['ceiling']:,} for the `KafkaBatchSource` passthrough (its fastest: "
              "alternating runs at 2,000, 5,000, 10,000 and 20,000 gave 190-226k, "
              "201-228k, 192-204k and 188-210k readings/s), `poll_s` 0.002, "
              "idle re-poll 2 ms, `fetch.wait.max.ms` 5, "
              f"`queued.min.messages` {CONSUMER_CONF['queued.min.messages']}, `assign()` "
              "(no group).",
              "- State (placement exchange): Bytewax keys by one of 256 shards (crc32 of the "
              "subject), named so that each is routed to the worker that reads its "
              "subjects' partition when the input is keyed by subject "
              "(`flows/shards.py`); a shard holds the `KeyState` of each of its subjects "
              "(site or sensor).",
              "- `KafkaSink`: Bytewax's, `linger.ms` 2 (it flushes after each batch anyway).",
              ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.throughput",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--n", type=int, default=1_000_000, help="readings to load")
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--bootstrap", default=None, help="existing Kafka (default: embedded)")
    ap.add_argument("--naive-n", type=int, default=500,
                    help="readings for the naive reference (0: skip it)")
    ap.add_argument("--epoch-s", type=float, default=10.0, help="Bytewax epoch interval")
    ap.add_argument("--snapshots", action="store_true",
                    help="engine runs snapshot their state at each epoch, as with "
                         "`sentinelle run --recovery` (default: off, as without it)")
    ap.add_argument("--placement", choices=[*PLACEMENTS, "both"], default="both",
                    help="engine state placement (flows.config.Config.placement); both "
                    "(default): an engine run with each, side by side")
    ap.add_argument("--scaling", action="store_true", help="also 1 vs 2 Bytewax processes")
    ap.add_argument("--scaling-repeat", type=int, default=2,
                    help="1- and 2-process runs alternately this many times each (default "
                    "2); the speed-up compares the fastest of each")
    ap.add_argument("--state-memory", action="store_true",
                    help="also state per sensor at 10k and 100k sensors")
    ap.add_argument("--state-steps", type=int, default=310,
                    help="steps per sensor before measuring (default 310: every detector "
                         "window full, the novelty history of 300 included)")
    ap.add_argument("--profile", action="store_true", help="also profile an engine run")
    ap.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                    help="messages per poll at most, engine runs (default: the product's, "
                         "%(default)s)")
    ap.add_argument("--ceiling-batch-size", type=int, default=CEILING_BATCH,
                    help="messages per poll at most, the KafkaBatchSource passthrough "
                         "(default %(default)s: its fastest, see the results' settings)")
    ap.add_argument("--out", default=str(common.RESULTS / "throughput.md"),
                    help="results file ('' to skip)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return
    m = common.machine()
    out = bench(args)
    out["machine"] = m
    argv_s = sys.argv[1:] if argv is None else argv
    cmd = "python -m benchmarks.throughput " + " ".join(shlex.quote(a) for a in argv_s)
    out["command"] = cmd.strip()
    if args.out:
        from pathlib import Path

        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(common.keep_notes(report(out, out["command"], m), path), encoding="utf-8")
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"ceiling {out['ceiling_mean_readings_per_s']:,}/s  engine "
              f"{out['engine']['readings_per_s']:,}/s  naive "
              f"{out.get('naive', {}).get('readings_per_s', 'n/a')}/s  "
              f"engine/ceiling {out['engine_over_ceiling']}  engine/naive "
              f"{out.get('engine_over_naive', 'n/a')}")


if __name__ == "__main__":
    main()
