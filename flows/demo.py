"""``sentinelle demo``: embedded broker + simulated city + the real flow, alerts live.

The simulator first produces a week of clean history at once (the flow replays it,
learning each sensor's level and daily profile, as ``sentinelle run`` does from the
earliest offset), then live steps at a fixed pace (each step is one reading per sensor,
5 minutes of event time apart) with injected anomalies. Alerts are read back from the
alerts topic and the live ones printed as they arrive; at the end a summary compares the
anomaly pack's alerts with the simulator's ground truth.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import yaml
from bytewax.testing import run_main
from confluent_kafka import Producer
from rich.console import Console
from rich.table import Table

from flows import alerts_view
from flows.broker import connect, create_topics
from flows.city import build_flow
from flows.config import Config
from rules.alert import iso

BAD_MESSAGES = [
    b"{not json",
    b'{"sensor": "metz/mairie/elec-1", "value": 3.2}',
    b'{"sensor": "metz/mairie/elec-1", "ts": "yesterday", "value": 3.2}',
    b'{"sensor": "metz/mairie/elec-1", "ts": "2026-11-28T14:00:00Z", "value": "high"}',
]


def demo(*, bootstrap: str | None = None, seed: int = 42, sensors: int = 5,
         duration: float = 45.0, pace: float = 8.0, warmup_steps: int = 7 * 288,
         rules: tuple[str, ...] = (), out_dir: str = "runs/demo",
         console: Console | None = None) -> dict:
    """Run the demo; return the summary dict (also printed)."""
    from flows.sim import City, score

    console = console or Console(highlight=False, soft_wrap=True)
    city = City(seed=seed, sensors_per_commune=sensors, warmup_steps=warmup_steps)
    live_steps = max(1, int(duration * pace))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    registry = Path(out_dir) / "registry.yaml"
    with open(registry, "w", encoding="utf-8") as f:
        yaml.safe_dump({"devices": [{"id": row["sensor"], **row}
                                    for row in city.registry_rows()]}, f, sort_keys=False)
    with connect(bootstrap) as bs:
        topics = Config(bootstrap=bs).topics + ["alerts", "readings.dlq"]
        create_topics(bs, topics, partitions=2)
        cfg = Config(bootstrap=bs, rules=rules, batch_size=2000, registry=str(registry),
                     snapshots=False)  # no recovery store in the demo
        console.print(
            f"[bold]Sentinelle demo[/]: broker {bs}, {len(city.sensors)} sensors in "
            f"{len({s.commune for s in city.sensors})} communes, "
            f"{warmup_steps} warm-up steps then {live_steps} live steps at {pace:g}/s"
        )
        stop_flow = threading.Event()
        stop_view = threading.Event()
        seen: list[dict] = []
        produced = {"n": 0, "bad": 0, "history": 0}

        def produce() -> None:
            p = Producer({"bootstrap.servers": bs, "linger.ms": 5})
            steps = city.encoded_steps(warmup_steps + live_steps)
            for i, batch in enumerate(steps):
                for key, value in batch:
                    p.produce("readings", key=key, value=value)
                produced["n"] += len(batch)
                if i == warmup_steps + live_steps // 2:
                    for bad in BAD_MESSAGES:
                        p.produce("readings", value=bad)
                    produced["bad"] += len(BAD_MESSAGES)
                p.poll(0)
                if i == warmup_steps - 1:
                    produced["history"] = produced["n"]
                if i >= warmup_steps:
                    p.flush()
                    time.sleep(1.0 / pace)
            p.flush()

        def view() -> None:
            history = 0
            for a in alerts_view.consume(bs, "alerts", follow=True, stop=stop_view.is_set):
                seen.append(a)
                if a.get("starts_at", "") >= live_iso:
                    console.print(alerts_view.line(a))
                else:
                    history += 1
                    if history == 1:
                        console.print("[dim]replaying the history (alerts on it are "
                                      "counted, not printed)...[/]")

        live_iso = iso(city.start + warmup_steps * city.step_s)
        prod = threading.Thread(target=produce, name="producer", daemon=True)
        viewer = threading.Thread(target=view, name="viewer", daemon=True)
        t0 = time.monotonic()
        prod.start()
        viewer.start()

        def stopper() -> None:
            prod.join()
            time.sleep(2.0)  # let the flow drain the last readings
            stop_flow.set()

        threading.Thread(target=stopper, daemon=True).start()
        run_main(build_flow(cfg, stop=stop_flow), epoch_interval=timedelta(seconds=2))
        time.sleep(1.5)
        stop_view.set()
        viewer.join(5)
        elapsed = time.monotonic() - t0

    city.write_truth(Path(out_dir) / "truth.jsonl")
    live = [a for a in seen if a.get("starts_at", "") >= live_iso]
    watched = [a for a in live if a.get("pack") == "anomaly"]
    s = score(watched, city.anomalies, slack_s=3 * city.step_s)
    by_rule: dict[str, int] = {}
    for a in live:
        if a.get("status") == "firing":
            by_rule[a.get("rule", "?")] = by_rule.get(a.get("rule", "?"), 0) + 1
    summary = {
        "readings": produced["n"], "malformed_sent_to_dlq": produced["bad"],
        "alert_events": len(seen), "history_alert_events": len(seen) - len(live),
        "firing_by_rule": by_rule, "seconds": round(elapsed, 1),
        **s,
    }
    t = Table(title="Demo summary", title_justify="left")
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("readings produced (history + live)",
              f"{produced['n']} ({produced['history']} + {produced['n'] - produced['history']})")
    t.add_row("malformed messages (to readings.dlq)", str(produced["bad"]))
    t.add_row("alert events on the history (not printed)", str(len(seen) - len(live)))
    t.add_row("injected anomalies (live part)", str(s["anomalies"]))
    t.add_row("caught by the anomaly pack", f"{s['caught']} ({s['recall']:.0%})")
    for typ, d in sorted(s.get("by_type", {}).items()):
        t.add_row(f"  {typ}", f"{d['caught']} / {d['anomalies']}")
    t.add_row("missed", str(s["missed"]))
    t.add_row("anomaly-pack alerts", str(s["alerts"]))
    t.add_row("false anomaly-pack alerts", f"{s['false_alerts']} (precision "
              f"{s['precision']:.0%})")
    for rule, n in sorted(by_rule.items()):
        t.add_row(f"live firing: {rule}", str(n))
    t.add_row("ground truth", str(Path(out_dir) / "truth.jsonl"))
    console.print(t)
    return summary
