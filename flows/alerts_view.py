"""Read the alerts topic and print it: one line per alert event, or the active alerts
per commune (folded by :mod:`rules.view`).

Used by ``sentinelle alerts`` and by the demo's live printer.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

import msgspec
from confluent_kafka import Consumer, KafkaError, TopicPartition
from rich.console import Console

_COLOURS = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def line(a: dict) -> str:
    """One human line for an alert event (rich markup)."""
    status = a.get("status", "?")
    sev = a.get("severity", "?")
    colour = "green" if status == "resolved" else _COLOURS.get(sev, "white")
    when = (a.get("ends_at") if status == "resolved" else a.get("starts_at")) or ""
    imp = a.get("impact") or {}
    cost = f" ~{imp.get('eur', 0):.2f} EUR" if imp and imp.get("eur") else ""
    return (
        f"[{colour}]{status.upper():8}[/] {sev:8} {when[:19]:19} "
        f"{a.get('commune', ''):18} {a.get('rule', ''):28} {a.get('sensor', '')}"
        f"  [dim]{a.get('summary', '')}{cost}[/]"
    )


def consume(bootstrap: str, topic: str, *, follow: bool = False, idle_s: float = 1.0,
            stop: Callable[[], bool] | None = None) -> Iterator[dict]:
    """Yield alert dicts from the start of ``topic``; with ``follow``, keep waiting."""
    c = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "sentinelle-alerts-view",
        "enable.auto.commit": "false", "enable.partition.eof": "true",
    })
    md = c.list_topics(topic, timeout=10).topics.get(topic)
    if md is None or md.error is not None:
        c.close()
        raise SystemExit(f"error: topic {topic!r} not found on {bootstrap}")
    parts = sorted(md.partitions)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    dec = msgspec.json.Decoder()
    at_end: set[int] = set()
    last = time.monotonic()
    try:
        while True:
            if stop is not None and stop():
                return
            msgs = c.consume(500, 0.2)
            for m in msgs:
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(m.partition())
                    continue
                at_end.discard(m.partition())
                last = time.monotonic()
                try:
                    yield dec.decode(m.value())
                except msgspec.DecodeError:
                    yield {"status": "?", "summary": f"undecodable alert {m.value()[:80]!r}"}
            if not follow and len(at_end) == len(parts) and time.monotonic() - last > idle_s:
                return
    finally:
        c.close()


def print_active(groups: dict[str, list[dict]], console: Console | None = None) -> None:
    """Active alerts grouped by commune (from :func:`rules.view.active_by_commune`)."""
    from rich.table import Table

    console = console or Console()
    if not groups:
        console.print("no active alerts")
        return
    for commune in sorted(groups):
        t = Table(title=f"{commune}: {len(groups[commune])} active", title_justify="left")
        for col in ("severity", "since", "rule", "sensor", "summary"):
            t.add_column(col)
        for a in groups[commune]:
            t.add_row(a.get("severity", ""), a.get("starts_at", "")[:19], a.get("rule", ""),
                      a.get("sensor", ""), a.get("summary", ""))
        console.print(t)


def main_alerts(bootstrap: str, topic: str, follow: bool, show_active: bool,
                commune: str | None, as_json: bool) -> int:
    console = Console(highlight=False, soft_wrap=True)
    events = consume(bootstrap, topic, follow=follow and not show_active)
    if show_active:
        from rules.view import active_by_commune

        groups = active_by_commune(events, commune)
        if as_json:
            sys.stdout.write(msgspec.json.encode(groups).decode() + "\n")
        else:
            print_active(groups, console)
        return 0
    if commune:
        events = (a for a in events if a.get("commune") == commune)
    try:
        for a in events:
            if as_json:
                sys.stdout.write(msgspec.json.encode(a).decode() + "\n")
                sys.stdout.flush()
            else:
                console.print(line(a))
    except KeyboardInterrupt:
        pass
    return 0
