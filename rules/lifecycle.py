"""Alert lifecycle: one active alert per (commune, subject, rule); fire, update, resolve.

``firing`` is emitted once when a condition starts, again only when its severity
changes, and ``resolved`` when it clears. The alert ``id`` comes from the rule, the
subject and the start event time, so a replay re-emits the same ids. The lifecycle also
remembers recent starts per (rule, subject) for flapping suppression (:meth:`flapping`).
"""

from __future__ import annotations

import time

from rules.alert import Alert, Impact, alert_id, iso


class Active:
    """The state of one active alert (small, pickles fast)."""

    __slots__ = ("id", "starts_at", "severity", "last", "sensor", "kind", "value")

    def __init__(self, id: str, starts_at: float, severity: str, sensor: str, kind: str) -> None:
        self.id = id
        self.starts_at = starts_at
        self.severity = severity
        self.last = starts_at
        self.sensor = sensor
        self.kind = kind
        self.value: float | None = None

    def __getstate__(self) -> tuple:
        return (self.id, self.starts_at, self.severity, self.last, self.sensor, self.kind,
                self.value)

    def __setstate__(self, s: tuple) -> None:
        (self.id, self.starts_at, self.severity, self.last, self.sensor, self.kind,
         self.value) = s


class Lifecycle:
    """Active alerts of one state key, by (rule, subject), and their recent starts."""

    __slots__ = ("active", "starts")

    def __init__(self) -> None:
        self.active: dict[tuple[str, str], Active] = {}
        self.starts: dict[tuple[str, str], list[float]] = {}

    def __getstate__(self) -> tuple:
        return (self.active, self.starts)

    def __setstate__(self, s: tuple | dict) -> None:
        if isinstance(s, dict):  # state pickled before flapping history existed
            self.active, self.starts = s, {}
        else:
            self.active, self.starts = s

    def fire(
        self, *, rule: str, pack: str, severity: str, commune: str, site: str, sensor: str,
        kind: str, subject: str, ts: float, value: float | None, expected: float | None,
        score: float | None, detector: str | None, summary: str,
        impact: Impact | None = None, labels: dict[str, str] | None = None,
        starts_at: float | None = None, now: float | None = None, key: str | None = None,
    ) -> Alert | None:
        """Record that the condition holds at ``ts``; an Alert when it is new or escalated.

        ``key`` (default ``rule``) names the rule in the lifecycle and the id, so two packs
        may have rules of the same name.
        """
        k = (key or rule, subject)
        a = self.active.get(k)
        if a is not None:
            a.last = ts
            a.value = value
            if a.severity == severity:
                return None
            a.severity = severity
        else:
            start = ts if starts_at is None else starts_at
            a = Active(alert_id(key or rule, commune, subject, start), start, severity, sensor,
                       kind)
            a.value = value
            self.active[k] = a
        return Alert(
            id=a.id, status="firing", rule=rule, pack=pack, severity=severity,
            commune=commune, site=site, sensor=sensor, kind=kind,
            starts_at=iso(a.starts_at), ends_at=None,
            detected_at=iso(time.time() if now is None else now), value=value,
            expected=expected, score=score, detector=detector, summary=summary,
            impact=impact, labels=labels or {},
        )

    def resolve(
        self, *, rule: str, pack: str, commune: str, site: str, subject: str, ts: float,
        value: float | None, summary: str, impact: Impact | None = None,
        labels: dict[str, str] | None = None, now: float | None = None, key: str | None = None,
    ) -> Alert | None:
        """The condition cleared at ``ts``: a ``resolved`` Alert if one was active."""
        a = self.active.pop((key or rule, subject), None)
        if a is None:
            return None
        return Alert(
            id=a.id, status="resolved", rule=rule, pack=pack, severity=a.severity,
            commune=commune, site=site, sensor=a.sensor, kind=a.kind,
            starts_at=iso(a.starts_at), ends_at=iso(ts),
            detected_at=iso(time.time() if now is None else now), value=value,
            expected=None, score=None, detector=None, summary=summary, impact=impact,
            labels=labels or {},
        )

    def is_active(self, rule: str, subject: str) -> bool:
        return (rule, subject) in self.active

    # -- flapping -----------------------------------------------------------------------
    def started(self, key: str, subject: str, ts: float, window: float) -> None:
        """Remember that an alert of ``key`` on ``subject`` started at ``ts``."""
        k = (key, subject)
        lst = self.starts.get(k)
        if lst is None:
            self.starts[k] = [ts]
            return
        lo = ts - window
        lst[:] = [t for t in lst if t > lo]
        lst.append(ts)

    def flapping(self, key: str, subject: str, ts: float, max_starts: int,
                 window: float) -> bool:
        """Whether ``max_starts`` or more alerts started within ``window`` before ``ts``."""
        lst = self.starts.get((key, subject))
        if not lst or len(lst) < max_starts:
            return False
        lo = ts - window
        return sum(1 for t in lst if t > lo) >= max_starts

    def prune(self, ts: float, window: float) -> None:
        """Forget start histories with nothing newer than ``ts - window``."""
        lo = ts - window
        for k in [k for k, v in self.starts.items() if v[-1] <= lo]:
            del self.starts[k]
