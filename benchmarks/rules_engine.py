"""Throughput of the rule engine alone: ``Engine.process`` with all shipped packs.

Readings come from the city simulator (:class:`flows.sim.City`, every kind, sensor
attributes included as the registry would add them). They are generated first, then
grouped per key in batches the way the flow's ``stateful_batch`` hands them over, and
only ``Engine.process`` (plus ``deadline``) is timed, single core. The first pass over
each sensor (plan and detector creation) is part of the timing.

Run: ``.venv/bin/python -m benchmarks.rules_engine [--sensors-per-commune 40] [--steps 300]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

from flows.sim import City
from rules.engine import Engine


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sensors-per-commune", type=int, default=40)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=1000, help="readings per flow batch")
    p.add_argument("--warm", type=int, default=12,
                   help="steps fed before timing (sensors seen, plans and detectors built)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    p.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    a = p.parse_args(argv)
    city = City(seed=7, sensors_per_commune=a.sensors_per_commune, with_attrs=True,
                anomaly_rate=0.002)
    t0 = time.perf_counter()
    batches = list(city.steps(a.steps))
    gen_s = time.perf_counter() - t0
    # the flow's view: each batch of readings split per key, in arrival order
    def split(flat: list) -> list:
        work = []
        for i in range(0, len(flat), a.batch):
            groups: dict[str, list] = defaultdict(list)
            for r in flat[i:i + a.batch]:
                groups[r.subject].append(r)
            work.append(list(groups.items()))
        return work

    warm = split([r for b in batches[:a.warm] for r in b])
    flat = [r for b in batches[a.warm:] for r in b]
    work = split(flat)

    def feed(engine: Engine, states: dict, work: list) -> int:
        alerts = 0
        for groups in work:
            for k, rs in groups:
                st = states.get(k)
                if st is None:
                    st = states[k] = engine.new_state()
                out, _ = engine.process(st, rs, rs[-1].ts)
                alerts += len(out)
                engine.deadline(st)
        return alerts

    best = None
    for _ in range(a.repeat):
        engine = Engine()
        states: dict = {}
        c0 = time.process_time()
        feed(engine, states, warm)
        cold = time.process_time() - c0
        prof = None
        if a.profile:
            from pyinstrument import Profiler
            prof = Profiler()
            prof.start()
        t0 = time.perf_counter()
        c0 = time.process_time()
        alerts = feed(engine, states, work)
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        if prof is not None:
            prof.stop()
            print(prof.output_text(unicode=False, color=False, show_all=False))
        if best is None or cpu < best[1]:
            best = (dt, cpu, cold, alerts, engine, states)
    dt, cpu, cold, alerts, engine, states = best  # type: ignore[misc]
    n_warm = sum(len(rs) for g in warm for _, rs in g)
    kinds = sorted({r.kind for r in flat})
    res = {
        "readings": len(flat), "sensors": len(city.sensors), "keys": len(states),
        "kinds": len(kinds), "rules": len(engine.rules), "alerts": alerts,
        "wall_s": round(dt, 3), "cpu_s": round(cpu, 3),
        "readings_per_s": round(len(flat) / dt), "readings_per_cpu_s": round(len(flat) / cpu),
        "us_per_reading_cpu": round(cpu / len(flat) * 1e6, 2), "generate_s": round(gen_s, 2),
        "first_sight_us_per_reading_cpu": round(cold / max(1, n_warm) * 1e6, 2),
        "eval_errors": engine.stats.eval_errors,
    }
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
