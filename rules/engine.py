"""The rule engine: per-key state in, alerts out; no Bytewax, so flows, replay, tests and
benchmarks all drive the same object.

A *key* is a site (``commune/site``) or, for readings without a site, a sensor
(:attr:`models.reading.Reading.subject`). The flow keeps one :class:`KeyState` per key
and calls :meth:`Engine.process` with that key's readings in arrival order,
:meth:`Engine.tick` on processing-time timers, and :meth:`Engine.deadline` to know when
the next timer is due.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from models.base import Detector
from models.reading import Reading
from models.robust_z import RobustZ
from rules.alert import Alert
from rules.lifecycle import Lifecycle

#: Kinds whose values are states (0/1, counts of discrete events), not levels to model.
DISCRETE_KINDS = frozenset({"light_on", "door_open", "heartbeat", "occupancy"})


class SensorState:
    """What the engine remembers of one sensor (small; pickled at every snapshot)."""

    __slots__ = ("det", "last_ts", "last_value", "calm")

    def __init__(self, det: Detector | None) -> None:
        self.det = det
        self.last_ts = float("-inf")
        self.last_value = 0.0
        self.calm = 0

    def __getstate__(self) -> tuple:
        return (self.det, self.last_ts, self.last_value, self.calm)

    def __setstate__(self, s: tuple) -> None:
        self.det, self.last_ts, self.last_value, self.calm = s


class KeyState:
    """State of one key: its sensors and its active alerts."""

    __slots__ = ("sensors", "life")

    def __init__(self) -> None:
        self.sensors: dict[str, SensorState] = {}
        self.life = Lifecycle()

    def __getstate__(self) -> tuple:
        return (self.sensors, self.life)

    def __setstate__(self, s: tuple) -> None:
        self.sensors, self.life = s


@dataclass
class Stats:
    """Counters the flow exports as metrics."""

    readings: int = 0
    late: int = 0
    alerts: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AnomalyRule:
    """Fire when a sensor's detector score reaches ``fire_at``; resolve after
    ``clear_n`` consecutive readings below ``clear_at`` (hysteresis)."""

    name: str = "Anomaly"
    pack: str = "default"
    fire_at: float = 6.0
    clear_at: float = 3.0
    clear_n: int = 1
    window: int = 96
    min_samples: int = 24

    def detector(self) -> RobustZ:
        return RobustZ(window=self.window, min_samples=self.min_samples, guard=self.fire_at)


class Engine:
    """Evaluate readings of one key against the rules; keep the alert lifecycle."""

    def __init__(self, anomaly: AnomalyRule | None = None) -> None:
        self.anomaly = anomaly or AnomalyRule()
        self.stats = Stats()

    def new_state(self) -> KeyState:
        return KeyState()

    def process(
        self, st: KeyState, readings: Iterable[Reading], now: float | None = None
    ) -> tuple[list[Alert], list[Reading]]:
        """Feed one key's readings; return (alerts, late readings not applied)."""
        now = time.time() if now is None else now
        out: list[Alert] = []
        late: list[Reading] = []
        rule = self.anomaly
        sensors = st.sensors
        n = 0
        for r in readings:
            n += 1
            s = sensors.get(r.sensor)
            if s is None:
                s = sensors[r.sensor] = SensorState(
                    None if r.kind in DISCRETE_KINDS else rule.detector()
                )
            if r.ts <= s.last_ts:
                late.append(r)
                continue
            s.last_ts = r.ts
            s.last_value = r.value
            det = s.det
            if det is None:
                continue
            if det.ready:
                expected, _ = det.centre_scale()  # type: ignore[attr-defined]
            else:
                expected = None
            score = det.update(r.value, r.ts)
            subj = r.sensor
            if score >= rule.fire_at:
                s.calm = 0
                a = st.life.fire(
                    rule=rule.name, pack=rule.pack, severity="warning", commune=r.commune,
                    site=r.site, sensor=r.sensor, kind=r.kind, subject=subj, ts=r.ts,
                    value=r.value, expected=expected, score=round(score, 3),
                    detector=det.name,
                    summary=f"{r.kind or 'value'} {r.value:g} at {r.sensor}, expected about "
                    f"{expected:g} (robust z {score:.1f})",
                    now=now,
                )
                if a is not None:
                    out.append(a)
            elif score < rule.clear_at and st.life.active and st.life.is_active(rule.name, subj):
                s.calm += 1
                if s.calm >= rule.clear_n:
                    a = st.life.resolve(
                        rule=rule.name, pack=rule.pack, commune=r.commune, site=r.site,
                        subject=subj, ts=r.ts, value=r.value,
                        summary=f"{r.kind or 'value'} back to normal at {r.sensor}", now=now,
                    )
                    if a is not None:
                        out.append(a)
        self.stats.readings += n
        self.stats.late += len(late)
        self.stats.alerts += len(out)
        return out, late

    def tick(self, st: KeyState, now: float) -> list[Alert]:
        """Processing-time timers (missing data, ``for:`` durations). None yet."""
        return []

    def deadline(self, st: KeyState) -> float | None:
        """Epoch seconds of the next timer this key needs, or None."""
        return None


def run(engine: Engine, readings: Sequence[Reading], now: float | None = None) -> list[Alert]:
    """Replay helper: route readings to per-key states in order, collect alerts."""
    states: dict[str, KeyState] = {}
    out: list[Alert] = []
    for r in readings:
        k = r.subject
        st = states.get(k)
        if st is None:
            st = states[k] = engine.new_state()
        out.extend(engine.process(st, (r,), now)[0])
    return out
