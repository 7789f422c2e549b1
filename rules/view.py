"""The active alerts per commune, from a stream of alert events (``sentinelle alerts
--active``).

An alert is active from its first ``firing`` event until the ``resolved`` event with the
same ``id``; later ``firing`` events of the same ``id`` (severity changes) update it, and
repeated events (at-least-once delivery, replays) change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

_SEV = {"critical": 0, "warning": 1, "info": 2}


class ActiveView:
    """Fold alert events (dicts in the contract's shape) into the active alerts."""

    def __init__(self) -> None:
        self.active: dict[str, dict] = {}
        self.resolved: set[str] = set()

    def add(self, alert: dict) -> None:
        """Apply one alert event."""
        aid = alert.get("id")
        if not aid:
            return
        if alert.get("status") == "resolved":
            self.active.pop(aid, None)
            self.resolved.add(aid)
        elif aid not in self.resolved:  # a re-delivered firing after its resolution
            old = self.active.get(aid)
            self.active[aid] = {**old, **alert} if old else dict(alert)

    def by_commune(self, commune: str | None = None) -> dict[str, list[dict]]:
        """Active alerts grouped by commune, most severe then oldest first."""
        out: dict[str, list[dict]] = {}
        for a in self.active.values():
            c = a.get("commune") or "-"
            if commune is None or c == commune:
                out.setdefault(c, []).append(a)
        for lst in out.values():
            lst.sort(key=lambda a: (_SEV.get(a.get("severity", ""), 3), a.get("starts_at", "")))
        return dict(sorted(out.items()))


def active_by_commune(alerts: Iterable[dict], commune: str | None = None) -> dict[str, list[dict]]:
    """Active alerts per commune after the events ``alerts`` (in topic order).

    >>> evs = [{"id": "a", "status": "firing", "commune": "metz", "severity": "warning"},
    ...        {"id": "b", "status": "firing", "commune": "woippy", "severity": "info"},
    ...        {"id": "a", "status": "resolved", "commune": "metz"}]
    >>> {c: [a["id"] for a in v] for c, v in active_by_commune(evs).items()}
    {'woippy': ['b']}
    """
    v = ActiveView()
    for a in alerts:
        v.add(a)
    return v.by_commune(commune)


def render(groups: dict[str, list[dict]]) -> str:
    """Plain-text table of :func:`active_by_commune` output."""
    if not groups:
        return "no active alerts"
    lines = []
    for commune, lst in groups.items():
        lines.append(f"{commune} ({len(lst)} active)")
        for a in lst:
            im = a.get("impact") or {}
            cost = f" ~{im.get('eur_per_h', 0):.2f} EUR/h" if im.get("eur_per_h") else ""
            lines.append(f"  {a.get('severity', ''):8} {a.get('rule', ''):28} "
                         f"{a.get('sensor', '')}  since {a.get('starts_at', '')}{cost}")
            if a.get("summary"):
                lines.append(f"           {a['summary']}")
    return "\n".join(lines)
