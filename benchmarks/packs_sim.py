"""False alerts of the rule packs on the simulated city, rule by rule.

Replays :class:`flows.sim.City` (seed 42, every kind, registry attributes on the
readings) through :class:`rules.engine.Engine` with all shipped packs, without Kafka:
each step's readings are grouped per state key (``Reading.subject``, as the flow keys
them) and processed in order with ``now`` = the step's event time, then every key whose
timer is due is ticked, so ``for:``, escalation and missing-data timers run as live.

The first week is clean history (``warmup_steps``: no injected anomaly starts in it), as
in ``sentinelle demo``. Per rule it reports:

- ``clean``: alerts (firing, counted once per alert id) that started in the clean week.
  They are false by construction, except for the rules listed in :data:`MODELLED`,
  whose condition the simulator genuinely produces (containers really fill up until
  their weekly collection; occupied rooms really exceed 800 ppm CO2);
- ``day1``: of those, how many started on the first day (detectors warming up);
- ``live``: alerts that started in the live part, ``matched`` to an injected anomaly of
  their sensor (``flows.sim.score``, slack 3 steps) or not.

Run: ``python -m benchmarks.packs_sim [--days 8] [--sensors 5] [--json]``; writes
``benchmarks/results/packs_sim.md`` (``--out`` to change, ``--out -`` for none).
``--before REV [--before-packs energy ...]`` adds the same counts for the packs of a git
revision, side by side; ``--extra`` repeats the count on a few other simulated cities
(other seeds, twice the sensors, two clean weeks), so a fix is not tuned to one city.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from flows.sim import City, score
from rules.alert import iso
from rules.engine import Engine

RESULTS = Path(__file__).resolve().parent / "results"
STEPS_PER_DAY = 288

#: Forecast rules checked against what followed: rule -> (kind, level reached, within s).
#: A ContainerFullSoon alert is right when its container reached 99 % within 24 h.
FORECASTS: dict[str, tuple[str, float, float]] = {"ContainerFullSoon": ("fill_pct", 99.0, 86400.0)}

#: Rules whose condition the simulator really produces on clean data, and why: their
#: alerts on the clean week are right, not false.
MODELLED: dict[str, str] = {
    "ContainerNeedsCollection": "containers fill by day and are emptied once a week "
    "(flows/sim.py fill_pct): many really pass 80 %",
    "ContainerOverflow": "fill is capped at 100 %, reached by the fastest-filling "
    "containers before their collection day",
    "Co2AirTheRoom": "occupied rooms reach 770-1370 ppm (420 + (350 + 600 u) occ^1.5, "
    "no airing modelled): above 800 ppm is the real condition",
}


#: Rules whose clean-history alerts are explained by the simulator, not by the rule.
SIM_GAPS: dict[str, str] = {
    "FillDropOutsideCollection": "the drops are the simulator's weekly collections "
    "(06:00-06:59 local on each container's own weekday), but its registry gives fill "
    "sensors no `collection` attribute, so the pack's default window (Monday and "
    "Thursday mornings) applies and Tuesday, Wednesday or Friday collections alert. The "
    "rule is right for a registry without collection windows; the simulated registry "
    "should carry them (flows/sim.py).",
    "WaterLeakAtNight": "the simulator gives every building a night flow of 5 % of its "
    "daytime use (1-15 L/h), which is what a leak looks like; the rule fires where the "
    "noise keeps it above 2 L/h for 3 h. Right for the flow modelled; a building without "
    "a leak should reach 0 L/h at night.",
    "CabinetIntrusion": "a maintenance visit that began before 17:00 and left the door "
    "open after the window (Mo-Fr 08:00-17:00) ended: the rule fires on a door open "
    "outside any window, whoever opened it (an unattended open cabinet is a risk too), "
    "though its summary then says 'opened'.",
}


def replay(days: int, sensors: int, seed: int = 42, packs: list[str] | None = None,
           warmup_days: int = 7) -> dict:
    """Run the engine over the city; return the alerts, the ground truth and timings."""
    city = City(seed=seed, sensors_per_commune=sensors, warmup_steps=warmup_days * 288,
                with_attrs=True)
    engine = Engine.from_paths(packs)
    states: dict = {}
    alerts = []
    steps = days * STEPS_PER_DAY
    t0 = time.perf_counter()
    n = 0
    kinds = {k for k, _, _ in FORECASTS.values()}
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for batch in city.steps(steps):
        now = batch[0].ts if batch else city.now
        groups: dict[str, list] = defaultdict(list)
        for r in batch:
            groups[r.subject].append(r)
            if r.kind in kinds:
                series[r.sensor].append((r.ts, r.value))
        n += len(batch)
        for key, rs in groups.items():
            st = states.get(key)
            if st is None:
                st = states[key] = engine.new_state()
            alerts.extend(engine.process(st, rs, now)[0])
        for st in states.values():
            for _ in range(10):  # timers due by now (a tick re-arms the next one)
                d = engine.deadline(st)
                if d is None or d > now:
                    break
                alerts.extend(engine.tick(st, now))
    return {"city": city, "alerts": alerts, "readings": n, "seconds":
            time.perf_counter() - t0, "live_start": city.start + warmup_days * 288 * city.step_s,
            "rules": sorted({(r.pack, r.name) for r in engine.rules.values()}),
            "engine": engine, "series": series}


def per_rule(run: dict) -> dict:
    """Per-rule counts (see the module docstring)."""
    city = run["city"]
    live_iso = iso(run["live_start"])
    day1_iso = iso(city.start + 86400)
    live_t = run["live_start"]
    truth = [a for a in city.anomalies if a.start >= live_t]
    watched: dict[str, set[str]] = defaultdict(set)
    for rule in run["engine"].rules.values():
        for s in city.sensors:
            if rule.match(s.id, s.kind, s.commune, s.site, s.attrs):
                watched[rule.name].add(s.id)
    slack = 3 * city.step_s
    seen: set[str] = set()
    by_rule: dict[str, list[dict]] = defaultdict(list)
    pack_of: dict[str, str] = {p_r[1]: p_r[0] for p_r in run["rules"]}
    for a in run["alerts"]:
        if a.status != "firing" or a.id in seen:
            continue
        seen.add(a.id)
        by_rule[a.rule].append({"id": a.id, "sensor": a.sensor, "commune": a.commune,
                                "site": a.site, "starts_at": a.starts_at,
                                "status": "firing"})
    rows = {}
    for rule in sorted(pack_of):
        al = by_rule.get(rule, [])
        clean = [a for a in al if a["starts_at"] < live_iso]
        right = len(clean) if rule in MODELLED else 0
        if rule in FORECASTS:
            _, level, within = FORECASTS[rule]
            for a in clean:
                t = datetime.fromisoformat(a["starts_at"]).timestamp()
                right += any(t <= ts <= t + within and v >= level
                             for ts, v in run["series"].get(a["sensor"], ()))
        live = [a for a in al if a["starts_at"] >= live_iso]
        s = score(live, [a for a in truth if a.sensor in watched[rule]], slack_s=slack)
        rows[rule] = {
            "pack": pack_of[rule], "clean": len(clean), "clean_false": len(clean) - right,
            "day1": sum(a["starts_at"] < day1_iso for a in clean),
            "clean_sensors": len({a["sensor"] for a in clean}),
            "modelled": rule in MODELLED, "live": len(live),
            "live_matched": s["alerts"] - s["false_alerts"], "live_unmatched": s["false_alerts"],
            "live_anomalies": s["anomalies"], "live_caught": s["caught"],
        }
    return rows


def hours_of(run: dict, rule: str) -> Counter:
    """Local hour of day (Europe/Paris) at which the rule's clean-week alerts started."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Paris")
    live_iso = iso(run["live_start"])
    c: Counter = Counter()
    seen = set()
    for a in run["alerts"]:
        if a.rule == rule and a.status == "firing" and a.id not in seen and \
                a.starts_at < live_iso:
            seen.add(a.id)
            c[datetime.fromisoformat(a.starts_at).astimezone(tz).strftime("%a %H")] += 1
    return c


def _packs_at(rev: str, only: list[str] | None = None) -> Path:
    """The shipped packs as of git revision ``rev`` in a temporary directory; with
    ``only``, just those packs (names without ``.yaml``) from ``rev``, the others as
    they are now, so the comparison isolates a change to those packs."""
    root = RESULTS.parents[1]
    raw = subprocess.run(["git", "archive", rev, "rules/packs"], cwd=root, check=True,
                         capture_output=True).stdout
    tmp = Path(tempfile.mkdtemp(prefix="packs_sim_"))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        tf.extractall(tmp, filter="data")
    old = tmp / "rules" / "packs"
    if not only:
        return old
    mixed = tmp / "mixed"
    shutil.copytree(root / "rules" / "packs", mixed)
    for name in only:
        shutil.copy(old / f"{name}.yaml", mixed / f"{name}.yaml")
    return mixed


def _provenance() -> str:
    """The commit measured, and the pack files with uncommitted changes if any."""
    root = RESULTS.parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "rules/packs"], cwd=root,
                               check=True, capture_output=True, text=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "Packs: not in a git checkout."
    changed = [ln[3:] for ln in dirty if ln.strip()]
    return f"Packs: commit `{head}`" + (
        f", with uncommitted changes in {', '.join(changed)}." if changed else ".")


#: Other cities for ``--extra``: (seed, sensors per commune, days, clean days).
EXTRA: list[tuple[int, int, int, int]] = [(7, 5, 8, 7), (42, 10, 8, 7), (3, 10, 15, 14)]


def extra_rows(args: argparse.Namespace, old: Path | None) -> list[tuple[str, dict, dict | None]]:
    """Per-rule counts on the :data:`EXTRA` cities, now and (with ``old``) before."""
    out = []
    for seed, n, days, clean in EXTRA:
        now = per_rule(replay(days, n, seed, args.rules, warmup_days=clean))
        was = per_rule(replay(days, n, seed, [str(old)], warmup_days=clean)) if old else None
        out.append((f"seed {seed}, {n * 24} sensors, {clean} clean days", now, was))
    return out


def extra_markdown(extra: list[tuple[str, dict, dict | None]]) -> list[str]:
    """The ``--extra`` table: false clean-history alerts per rule and city."""
    out = ["\n## Other simulated cities\n",
           "False alerts on the clean history (`before -> now` with `--before`); rules "
           "with none in either are left out.\n",
           "| city | rule | false | clean | live (matched) |", "|---|---|---:|---:|---:|"]
    for name, now, was in extra:
        for rule, r in sorted(now.items(), key=lambda kv: (kv[1]["pack"], kv[0])):
            b = (was or {}).get(rule)
            if not (r["clean"] or (b and b["clean"])):
                continue
            f = f"{b['clean_false']} -> {r['clean_false']}" if b else str(r["clean_false"])
            c = f"{b['clean']} -> {r['clean']}" if b else str(r["clean"])
            out.append(f"| {name} | {rule} | {f} | {c} | {r['live']} ({r['live_matched']}) |")
    return out


def markdown(run: dict, rows: dict, args: argparse.Namespace,
             before: dict | None = None, extra: list | None = None) -> str:
    """The report: setup, then one row per rule (``before`` adds the other revision)."""
    city = run["city"]
    truth = [a for a in city.anomalies if a.start >= run["live_start"]]
    tot_clean = sum(r["clean"] for r in rows.values())
    tot_false = sum(r["clean_false"] for r in rows.values())
    cmd = f"python -m benchmarks.packs_sim --days {args.days} --sensors {args.sensors}"
    if args.clean_days != 7:
        cmd += f" --clean-days {args.clean_days}"
    if args.before:
        cmd += f" --before {args.before}"
        if args.before_packs:
            cmd += " --before-packs " + " ".join(args.before_packs)
    if args.extra:
        cmd += " --extra"
    out = [
        "# Rule packs on the simulated city: false alerts per rule\n",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}, {platform.machine()}. {_provenance()}\n",
        f"Command: `{cmd}`\n",
        f"City seed {args.seed}: {len(city.sensors)} sensors, {args.days} days of 5-minute "
        f"steps ({run['readings']:,} readings), "
        f"{'the packs of ' + ' '.join(args.rules) if args.rules else 'all shipped packs'}, "
        "no Kafka "
        f"({run['seconds']:.0f} s). The first {min(args.clean_days, args.days)} days are "
        "clean history "
        f"(no injected anomaly), the rest is live with {len(truth)} injected anomalies.\n",
        "- `clean`: alerts (once per id) that started in the clean history. They are false "
        "by construction, except for the rules marked *modelled*, whose condition the "
        "simulator really produces, and forecasts that came true (ContainerFullSoon: the "
        "container reached 99 % within 24 h); `false` is what is left, `day 1` how many "
        "of them started on the first day.",
        "- `live`: alerts that started in the live part; `matched`: those matching an "
        "injected anomaly of their sensor (slack 3 steps). A domain rule is not meant to "
        "catch every injected anomaly: `caught` is out of the live anomalies on the "
        "sensors the rule watches, for information.",
    ]
    if before is not None:
        which = (f"the {', '.join(args.before_packs)} packs" if args.before_packs
                 else "the packs")
        out.append(f"- `before`: the same run with {which} of git revision "
                   f"`{args.before}`.")
        out.append(f"\nClean history: {tot_clean} alerts, {tot_false} false "
                   f"(before: {sum(r['clean'] for r in before.values())} alerts, "
                   f"{sum(r['clean_false'] for r in before.values())} false).\n")
        out += ["| pack | rule | clean before | false before | live before (matched) "
                "| clean | false | day 1 | live | matched | caught |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    else:
        out.append(f"\nClean history: {tot_clean} alerts, {tot_false} false.\n")
        out += ["| pack | rule | clean | false | day 1 | live | matched | caught |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]
    for rule, r in sorted(rows.items(), key=lambda kv: (kv[1]["pack"], kv[0])):
        b = (before or {}).get(rule)
        if not (r["clean"] or r["live"] or (b and (b["clean"] or b["live"]))):
            continue
        name = f"{rule} (modelled)" if r["modelled"] else rule
        cells = [r["pack"], name]
        if before is not None:
            cells += [b["clean"], b["clean_false"], f"{b['live']} ({b['live_matched']})"] \
                if b else ["-", "-", "-"]
        cells += [r["clean"], r["clean_false"], r["day1"], r["live"], r["live_matched"],
                  f"{r['live_caught']}/{r['live_anomalies']}"]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    out.append("\nRules with no alert in either part are left out. Modelled conditions:\n")
    out += [f"- {k}: {v}" for k, v in MODELLED.items()]
    out.append("\nFalse by construction, but from a gap in the simulator:\n")
    out += [f"- {k}: {v}" for k, v in SIM_GAPS.items()]
    if extra:
        out += extra_markdown(extra)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=8, help="days simulated (clean + live)")
    p.add_argument("--sensors", type=int, default=5, help="sensors per commune (24 communes)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--clean-days", type=int, default=7,
                   help="days of clean history before the live part (default 7, as the demo)")
    p.add_argument("--rules", nargs="*", default=None,
                   help="pack files or directories (default: the shipped packs)")
    p.add_argument("--before", metavar="REV",
                   help="also run the shipped packs of git revision REV, side by side")
    p.add_argument("--before-packs", nargs="*", metavar="PACK",
                   help="with --before: only these packs from REV, the rest as now")
    p.add_argument("--extra", action="store_true",
                   help="also count false alerts on a few other simulated cities (slower)")
    p.add_argument("--hours", metavar="RULE",
                   help="also print when RULE fired on the clean history (local time)")
    p.add_argument("--json", action="store_true", help="print the per-rule counts as JSON")
    p.add_argument("--out", default=str(RESULTS / "packs_sim.md"),
                   help="Markdown report (- for none)")
    a = p.parse_args(argv)
    clean = min(a.clean_days, a.days)
    run = replay(a.days, a.sensors, a.seed, a.rules, warmup_days=clean)
    rows = per_rule(run)
    before = old = None
    if a.before:
        old = _packs_at(a.before, a.before_packs)
        before = per_rule(replay(a.days, a.sensors, a.seed, [str(old)], warmup_days=clean))
    extra = extra_rows(a, old) if a.extra else None
    if a.hours:
        print(sorted(hours_of(run, a.hours).items()), file=sys.stderr)
    if a.json:
        print(json.dumps({"after": rows, "before": before} if before else rows, indent=1))
    else:
        for rule, r in sorted(rows.items(), key=lambda kv: (kv[1]["pack"], kv[0])):
            b = (before or {}).get(rule)
            if r["clean"] or r["live"] or (b and (b["clean"] or b["live"])):
                was = f" (before {b['clean']:3} / {b['clean_false']:3})" if b else ""
                print(f"{r['pack']:16} {rule:28} clean {r['clean']:3} false "
                      f"{r['clean_false']:3}{was} live {r['live']:3} matched "
                      f"{r['live_matched']:3} caught {r['live_caught']}/{r['live_anomalies']}")
    if a.out != "-":
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(markdown(run, rows, a, before, extra), encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()
