"""The rule engine: per-key state in, alerts out; no Bytewax, so flows, replay, tests and
benchmarks all drive the same object.

A *key* is a site (``commune/site``) or, for readings without a site, a sensor
(:attr:`models.reading.Reading.subject`). The flow keeps one :class:`KeyState` per key
and calls :meth:`Engine.process` with that key's readings in arrival order,
:meth:`Engine.tick` on processing-time timers, and :meth:`Engine.deadline` to know when
the next timer is due.

Compiled rules live in the engine, never in the state: a :class:`KeyState` holds plain
numbers, the sensors' detectors and the active alerts, and pickles in microseconds. The
rules that apply to a sensor (by kind, commune, site, sensor and label patterns) are
worked out once, on its first reading, and cached in the engine (a *plan*); its detectors
are created once, on first sight, too.

Time: conditions, ``for:`` durations, escalation and ``keep_firing_for`` run on event
time (the readings' ``ts``). Timers run on processing time and only stand in for a
sensor's own missing readings: a rule state's timer is due when the *sensor's* event
time, extrapolated at wall-clock speed from its last reading, reaches the deadline (its
siblings on the key, or other keys, never advance it). In a replay, faster than real
time, the sensor's next reading always decides first, so the alerts do not depend on
scheduling or on how keys are spread over workers.

A sensor silent for longer than its expected period raises a ``no_data`` alert: after
that long in processing time (live), or once the stream's event time has passed the
deadline (replay, catching up). The stream's event time is the slowest input source's
progress when the flow reports it (:meth:`Engine.advance`, per Kafka partition: each
partition is read in order, so a sensor is silent only when every source, its own
included, has moved past its deadline), else a low quantile of the keys' newest event
times. A reading that arrives after a silence the timers missed raises and resolves the
same alert (same id), so the outcome does not depend on when the timers ran.
"""

from __future__ import annotations

import math
import operator
import string
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from models.base import Detector
from models.reading import Reading
from rules.alert import Alert, Impact
from rules.calendars import Calendar
from rules.expr import ATTRS, Expr
from rules.lifecycle import Lifecycle
from rules.load import READING_VARS, CRule, LoadedPack, load_packs
from rules.schema import Schedule

try:
    import cython
except ImportError:  # pragma: no cover - Cython absent: plain Python
    from models import nocython as cython

if cython.compiled:  # C reads of Reading's fields (setup.py; never run as Python)
    from cython.cimports.cpython.ref import PyObject

INF = math.inf


def _slots() -> tuple[int, int, int, int, int]:
    """Byte offsets of a :class:`Reading`'s ``sensor``, ``kind``, ``ts``, ``value`` and
    ``attrs`` fields in the object, for the compiled :meth:`Engine.process`; all 0 (use
    attribute reads) in plain Python or where they cannot be proven.

    Compiled code reads a msgspec field through the generic attribute lookup (the type's
    dict, then the member descriptor), which costs about as much as the rest of a
    reading's bookkeeping; the interpreter specialises the same read. msgspec keeps the
    fields as object pointers inside the instance: each offset is the one where a probe
    made of fresh objects holds that field's object, checked on a second probe, so
    another layout turns the fast path off rather than reading the wrong field.
    """
    if not cython.compiled:
        return (0, 0, 0, 0, 0)
    names = ("sensor", "kind", "ts", "value", "attrs")

    def probe(tag: str) -> Reading:
        return Reading(sensor=f"{tag}-s", ts=float(len(tag)) + 0.25,
                       value=float(len(tag)) + 0.5, kind=f"{tag}-k", unit=f"{tag}-u",
                       commune=f"{tag}-c", site=f"{tag}-i", attrs={tag: 1})

    a = probe("probe-a")
    found = []
    for name in names:
        want = getattr(a, name)
        found.append(next((o for o in range(16, type(a).__basicsize__ - 7, 8)
                           if _slot(a, o) is want), 0))
    b = probe("probe-bb")
    if 0 in found or any(_slot(b, o) is not getattr(b, n)
                         for o, n in zip(found, names, strict=True)):
        return (0, 0, 0, 0, 0)
    return tuple(found)  # type: ignore[return-value]


def _slot(r: object, off: int) -> object:
    """The object pointer at byte ``off`` of ``r`` (compiled only; see :func:`_slots`)."""
    if cython.compiled:
        at = cython.cast(cython.p_char, cython.cast(cython.pointer(PyObject), r)) + off
        return cython.cast(object, cython.cast(cython.pointer(cython.pointer(PyObject)), at)[0])
    raise RuntimeError("_slot is for the compiled engine only")


#: See :func:`_slots`.
O_SENSOR, O_KIND, O_TS, O_VALUE, O_ATTRS = _slots()


class RuleState:
    """One rule on one sensor while it is not idle (pending, firing or clearing)."""

    __slots__ = ("since", "n", "firing", "sev", "clear_since", "clear_n", "hold", "r",
                 "score")

    def __init__(self, since: float) -> None:
        self.since = since          # event time the condition began
        self.n = 0                  # consecutive readings the condition held
        self.firing = False
        self.sev = ""
        self.clear_since = -INF     # event time the clear condition began (while firing)
        self.clear_n = 0
        self.hold = 0.0             # seconds to keep firing once clear (set when it clears)
        self.r: Reading | None = None  # last reading seen while not idle (for timers)
        self.score: float | None = None

    def __getstate__(self) -> tuple:
        return (self.since, self.n, self.firing, self.sev, self.clear_since, self.clear_n,
                self.hold, self.r, self.score)

    def __setstate__(self, s: tuple) -> None:
        (self.since, self.n, self.firing, self.sev, self.clear_since, self.clear_n,
         self.hold, self.r, self.score) = s


class SensorState:
    """What the engine remembers of one sensor (small; pickled at every snapshot)."""

    __slots__ = ("kind", "last_ts", "last_value", "last_now", "period", "dets", "rs", "nd")

    def __init__(self, kind: str, dets: dict[str, Detector] | None, nd: tuple[str, ...]) -> None:
        self.kind = kind
        self.last_ts = -INF
        self.last_value = 0.0
        self.last_now = 0.0
        self.period = 0.0           # expected seconds between readings (attr or learnt)
        self.dets = dets
        self.rs: dict[str, RuleState] | None = None
        self.nd = nd                # uids of the no_data rules watching this sensor

    def __getstate__(self) -> tuple:
        return (self.kind, self.last_ts, self.last_value, self.last_now, self.period,
                self.dets, self.rs, self.nd)

    def __setstate__(self, s: tuple) -> None:
        (self.kind, self.last_ts, self.last_value, self.last_now, self.period, self.dets,
         self.rs, self.nd) = s


class KeyState:
    """State of one key: its sensors, the latest value per kind, and its active alerts."""

    __slots__ = ("sensors", "life", "latest", "commune", "site", "lag", "due")

    def __init__(self) -> None:
        self.sensors: dict[str, SensorState] = {}
        self.life = Lifecycle()
        self.latest: dict[str, tuple[float, float]] = {}
        self.commune = ""
        self.site = ""
        self.lag = 0.0
        self.due: float | None = None

    def __getstate__(self) -> tuple:
        return (self.sensors, self.life, self.latest, self.commune, self.site, self.lag,
                self.due)

    def __setstate__(self, s: tuple) -> None:
        (self.sensors, self.life, self.latest, self.commune, self.site, self.lag,
         self.due) = s


@dataclass
class Stats:
    """Counters the flow exports as metrics."""

    readings: int = 0
    late: int = 0
    alerts: int = 0
    eval_errors: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)


class Plan:
    """The compiled rules and detectors for one sensor (engine-side cache)."""

    __slots__ = ("kind", "rules", "dets", "det_keys", "nd", "nd_attr")

    def __init__(self, kind: str, rules: tuple, dets: tuple, nd: tuple) -> None:
        self.kind = kind
        #: (rule, index in dets or -1, uid, the condition's gate: its first term when
        #: that is a plain comparison or has(attrs.x) (index, op, value; see _gate), and
        #: what an idle rule whose gate is false never needs: (condition, its prefilter
        #: terms, the term itself when it is the only one (see _single), then the single
        #: term of the clear condition when the rule has no escalation (a firing alert
        #: whose clear term is false needs nothing else)))
        self.rules: tuple[tuple, ...] = tuple(
            (r, di, r.uid, *_gate(r.when.pre),  # type: ignore[union-attr]
             (r.when, r.when.pre, *_single(r.when.pre),  # type: ignore[union-attr]
              *(_single(r.clear.pre) if r.clear is not None and r.clear.fast_only
                and not r.escalate else (-1, None, 0.0))))
            for r, di in rules)
        self.dets: tuple[tuple[str, object, str], ...] = dets  # (key, factory, name)
        self.det_keys = tuple(d[0] for d in dets)
        self.nd: tuple[CRule, ...] = nd
        self.nd_attr = nd[0].no_data[1] if nd else ""  # type: ignore[index]


def _single(pre: tuple) -> tuple:
    """``(index in the fast tuple, operator, number)`` of a lone plain comparison
    (``fast[i] op number``), else ``(-1, None, 0.0)``."""
    if len(pre) == 1 and pre[0][3] is None and 0 <= pre[0][0] < 6:
        return pre[0][0], pre[0][1], pre[0][2]
    return -1, None, 0.0


def _gate(pre: tuple) -> tuple:
    """The first prefilter term as ``(i, op, c)`` with ``op(fast[i], c)`` false exactly
    when the term is (so the whole condition is): a plain comparison, or ``has(attrs.k)``
    as ``k in attrs``; ``(-1, None, 0.0)`` when there is no such term."""
    if pre and pre[0][0] == -1 and pre[0][3] is not None:  # has(attrs.key)
        return ATTRS, operator.contains, pre[0][3]
    return _single(pre[:1])


def celify(v: object) -> object:
    """Attributes for CEL: numbers as doubles (CEL never mixes int and double)."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, dict):
        return {str(k): celify(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [celify(x) for x in v]
    return str(v)


class _Fmt(string.Formatter):
    def format_field(self, value: object, spec: str) -> str:
        if value is None:
            return "n/a"
        try:
            return format(value, spec)
        except (ValueError, TypeError):
            return str(value)


_fmt = _Fmt()


class Engine:
    """Evaluate readings of one key against compiled rule packs; keep the alert lifecycle.

    ``Engine()`` loads the packs shipped in ``rules/packs``; :meth:`from_paths` loads
    others (files or directories).
    """

    def __init__(self, packs: Sequence[LoadedPack] | None = None,
                 calendar: Calendar | None = None, site_max_age: float = 7200.0) -> None:
        self.packs = list(load_packs(None) if packs is None else packs)
        self.rules: dict[str, CRule] = {r.uid: r for p in self.packs for r in p.rules}
        self.cal = calendar or Calendar()
        self.site_max_age = site_max_age
        self.stats = Stats()
        self._plans: dict[str, Plan] = {}
        # plans are shared by sensors that no rule can tell apart: same kind, and same
        # commune / site / sensor name / label attributes only where a rule matches on
        # them (a new sensor of a known sort costs one dict lookup, not a match of
        # every rule)
        parts = [m for r in self.rules.values() for m in r.match.parts]
        self._by = (any(m.commune for m in parts), any(m.site for m in parts),
                    any(m.sensor for m in parts),
                    tuple(sorted({k for m in parts for k in m.labels})))
        self._shared: dict[tuple, Plan] = {}
        self._clock = self.cal.fields
        self._attrs: dict[str, tuple[dict, object]] = {}
        # the stream's event-time clock, shared by all keys of this engine: each key's
        # newest event time; a low quantile of them (so partitions or keys lagging behind,
        # and the silent sensors themselves, do not make others look silent) and when it
        # was taken; the newest event time seen; how many event seconds pass per
        # processing second (1 live, more when replaying or catching up)
        self.watermark_q = 0.1
        self._prog: dict[KeyState, float] = {}  # each key's newest event time
        # input sources' progress when the flow reports it (advance): source -> (newest
        # event time read from it, processing time then); the stream clock is then the
        # slowest source's, not a quantile of the keys'
        self._src: dict[object, tuple[float, float]] = {}
        self._wm = -INF
        self._wm_now = 0.0
        self._ev = -INF
        self._sp = (-INF, 0.0)
        self._calls = 0
        self.speed = 1.0

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path] | None = None, **kw: object) -> Engine:
        """An engine with the packs under ``paths`` (default: the shipped packs)."""
        return cls(load_packs(list(paths) if paths else None), **kw)  # type: ignore[arg-type]

    def new_state(self) -> KeyState:
        return KeyState()

    # -- plans --------------------------------------------------------------------------
    def _plan(self, r: Reading) -> Plan:
        commune, site, sensor, labels = self._by
        attrs = r.attrs
        sig = (r.kind, r.commune if commune else None, r.site if site else None,
               r.sensor if sensor else None,
               tuple(str(attrs.get(k)) if attrs and k in attrs else None for k in labels))
        p = self._shared.get(sig)
        if p is None:
            p = self._match(r)
            if len(self._shared) > 100_000:
                self._shared.clear()
            self._shared[sig] = p
        if len(self._plans) > 1_000_000:
            self._plans.clear()
        self._plans[r.sensor] = p
        return p

    def _match(self, r: Reading) -> Plan:
        rules = []
        dets: list[tuple[str, object, str]] = []
        nd = []
        for rule in self.rules.values():
            if not rule.match(r.sensor, r.kind, r.commune, r.site, r.attrs):
                continue
            if rule.no_data is not None:
                nd.append(rule)
                continue
            di = -1
            if rule.det_key is not None:
                keys = [d[0] for d in dets]
                if rule.det_key in keys:
                    di = keys.index(rule.det_key)
                else:
                    di = len(dets)
                    dets.append((rule.det_key, rule.det_make, rule.det_name or ""))
            rules.append((rule, di))
        return Plan(r.kind, tuple(rules), tuple(dets), tuple(nd))

    # -- expression context -----------------------------------------------------------
    def _sched(self, sc: Schedule, r: Reading, ts: float) -> bool:
        attrs = r.attrs
        text = attrs.get(sc.attr) if sc.attr and attrs else None
        c = attrs.get(sc.coords_attr) if attrs else None
        coords = (round(float(c[0]), 3), round(float(c[1]), 3)) if c else None
        cal = self.cal
        if isinstance(text, str) and text:
            v = cal.is_open(text, ts, coords)
            if v is not None:
                return v
        if sc.default is None:
            return False
        v = cal.is_open(sc.default, ts, coords)
        return bool(v)

    def _env(self, names: Iterable[str], rule: CRule, r: Reading, st: KeyState,
             fast: tuple, det: Detector | None, env: dict, base: dict) -> dict:
        """Fill ``env`` with the variables in ``names`` that it lacks. Reading variables
        are computed once per reading in ``base``; rule ones (detector outputs, schedules,
        ``vars``) in ``env``."""
        for n in names:
            if n in env:
                continue
            if n in READING_VARS:
                if n not in base:
                    self._reading_var(n, r, st, fast, base)
                env[n] = base[n]
            elif n == "score":
                env[n] = fast[1]
            elif n == "expected":
                env[n] = det.expected(r.ts) if det is not None else None
            elif n == "ready":
                env[n] = bool(det is not None and det.ready)
            elif n in rule.schedules:
                env[n] = self._sched(rule.schedules[n], r, r.ts)
            elif n in rule.vars:
                self._env(rule.vars[n].names, rule, r, st, fast, det, env, base)
                env[n] = self._run(rule.vars[n], env, None)
        return env

    def _reading_var(self, n: str, r: Reading, st: KeyState, fast: tuple, base: dict) -> None:
        if n == "value":
            base[n] = fast[0]
        elif n == "prev":
            base[n] = fast[2]
        elif n == "dt":
            base[n] = fast[3]
        elif n == "rate":
            base[n] = fast[4]
        elif n == "delta":
            base[n] = fast[5]
        elif n == "ts":
            base[n] = r.ts
        elif n == "kind":
            base[n] = r.kind
        elif n == "sensor":
            base[n] = r.sensor
        elif n == "commune":
            base[n] = r.commune
        elif n == "site_id":
            base[n] = r.site
        elif n == "site":
            lo = r.ts - self.site_max_age
            base[n] = {k: v for k, (t, v) in st.latest.items() if t >= lo}
        elif n == "attrs":
            c = self._attrs.get(r.sensor)
            if c is None or (c[0] is not r.attrs and c[0] != r.attrs):
                c = (r.attrs, celify(r.attrs))
                if len(self._attrs) > 1_000_000:
                    self._attrs.clear()
                self._attrs[r.sensor] = c
            base[n] = c[1]
        elif n in ("hour", "minute", "weekday"):
            base["hour"], base["minute"], base["weekday"] = self.cal.fields(r.ts)
        elif n == "holiday":
            base[n] = self.cal.holiday(r.ts)
        elif n == "school_holiday":
            base[n] = self.cal.school_holiday(r.ts)

    def _run(self, e: Expr, env: dict, default: object) -> object:
        try:
            return e.run({k: env[k] for k in e.names})
        except (RuntimeError, KeyError, TypeError, ValueError, IndexError):
            # a missing attribute / site value, or a type mismatch: the rule does not apply
            self.stats.eval_errors += 1
            return default

    def _test(self, e: Expr, rule: CRule, r: Reading, st: KeyState, fast: tuple,
              det: Detector | None, env: dict, base: dict) -> bool:
        if not e.prefilter(fast, self._clock):
            return False
        if e.fast_only:
            return True
        self._env(e.names, rule, r, st, fast, det, env, base)
        return self._holds(e, env)

    def _holds(self, e: Expr, env: dict) -> bool:
        """Whether condition ``e`` holds, its prefilter passed and ``env`` filled: from its
        flags when they decide (:meth:`Expr.flagged`), else CEL's answer."""
        v = e.flagged(env)
        if v is None:
            return self._run(e, env, False) is True
        return v

    # -- alerts -------------------------------------------------------------------------
    def _num(self, e: Expr | float | None, env: dict) -> float | None:
        if e is None or isinstance(e, float):
            return e
        v = self._run(e, env, None)
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None
        return float(v)

    def _explain(self, rule: CRule, rs: RuleState, r: Reading, st: KeyState, fast: tuple,
                 det: Detector | None, ts: float, end: float, sev: str,
                 env: dict, base: dict, resolved: bool = False
                 ) -> tuple[float | None, Impact | None, str, dict[str, str]]:
        """expected, impact, summary (the resolved one if ``resolved``) and labels for an
        alert."""
        names = set(rule.names) | set(rule.vars) | {"value", "sensor", "kind", "site_id",
                                                      "commune", "score", "expected"}
        self._env(names - {"score", "expected"} if det is None else names, rule, r, st, fast,
                  det, env, base)
        exp = self._num(rule.expected, env) if rule.expected is not None else (
            env.get("expected") if det is not None else None)
        impact = None
        hours = max(0.0, end - rs.since) / 3600.0
        if rule.impact is not None:
            kw = self._num(rule.kw, env) or 0.0
            m3h = self._num(rule.m3, env) or 0.0
            ek, ck, em, cm = rule.impact
            kwh, m3 = kw * hours, m3h * hours
            impact = Impact(kwh=round(kwh, 3), eur=round(kwh * ek + m3 * em, 2),
                            kg_co2e=round(kwh * ck + m3 * cm, 3), m3=round(m3, 3),
                            eur_per_h=round(kw * ek + m3h * em, 3))
        fields = dict(env)
        fields.setdefault("score", None)
        fields["expected"] = exp
        fields.update(rule=rule.name, pack=rule.pack, severity=sev,
                      duration_min=round(hours * 60.0, 1),
                      kwh=impact.kwh if impact else None, eur=impact.eur if impact else None,
                      kg_co2e=impact.kg_co2e if impact else None)
        summary = _fmt.vformat(rule.summary_resolved if resolved else rule.summary, (), fields)
        labels = {k: _fmt.vformat(v, (), fields) for k, v in rule.labels.items()}
        return exp, impact, summary, labels

    def _fire(self, rule: CRule, rs: RuleState, r: Reading, st: KeyState, fast: tuple,
              det: Detector | None, ts: float, now: float, env: dict, base: dict,
              sev: str | None = None) -> Alert | None:
        sev = sev or rule.severity_at(ts - rs.since)
        exp, impact, summary, labels = self._explain(rule, rs, r, st, fast, det, rs.since,
                                                     ts, sev, env, base)
        new = not rs.firing
        a = st.life.fire(
            rule=rule.name, pack=rule.pack, severity=sev, commune=r.commune, site=r.site,
            sensor=r.sensor, kind=r.kind, subject=r.sensor, ts=ts, value=r.value,
            expected=exp, score=None if rs.score is None else round(rs.score, 3),
            detector=rule.det_name, summary=summary, impact=impact, labels=labels,
            starts_at=rs.since, now=now, key=rule.uid,
        )
        rs.firing = True
        rs.sev = sev
        if new and rule.flap is not None:
            st.life.started(rule.uid, r.sensor, rs.since, rule.flap[1])
        return a

    def _resolve(self, rule: CRule, rs: RuleState, r: Reading, st: KeyState, fast: tuple,
                 det: Detector | None, end: float, now: float, env: dict, base: dict,
                 sensor: str) -> Alert | None:
        _, impact, summary, labels = self._explain(rule, rs, r, st, fast, det, rs.since,
                                                   end, rs.sev, env, base, resolved=True)
        if rule.flap is not None and rs.hold > rule.keep_s:  # was held for flapping
            labels = {**labels, "flapping": "true"}
        return st.life.resolve(
            rule=rule.name, pack=rule.pack, commune=r.commune, site=r.site, subject=sensor,
            ts=end, value=r.value, summary=summary, impact=impact, labels=labels, now=now,
            key=rule.uid,
        )

    def _hold(self, rule: CRule, st: KeyState, sensor: str, ts: float) -> float:
        """Seconds the alert keeps firing after clearing (longer while flapping)."""
        h = rule.keep_s
        if rule.flap is not None and st.life.flapping(rule.uid, sensor, ts, *rule.flap):
            h = max(h, rule.flap[1])
        return h

    # -- the hot path ---------------------------------------------------------------------
    def process(
        self, st: KeyState, readings: Iterable[Reading], now: float | None = None
    ) -> tuple[list[Alert], list[Reading]]:
        """Feed one key's readings; return (alerts, late readings not applied)."""
        now = time.time() if now is None else now
        out: list[Alert] = []
        late: list[Reading] = []
        sensors = st.sensors
        latest = st.latest
        plans = self._plans
        newest = -INF
        n = 0
        clock = self._clock
        full = False
        cand = INF
        slots = O_SENSOR != 0
        for r in readings:
            n += 1
            if slots and type(r) is Reading:  # the fields' slots (compiled; see _slots)
                name = _slot(r, O_SENSOR)
                kind = _slot(r, O_KIND)
                ts = _slot(r, O_TS)
                v = _slot(r, O_VALUE)
                attrs = _slot(r, O_ATTRS)
            else:
                name = r.sensor
                kind = r.kind
                ts = r.ts
                v = r.value
                attrs = r.attrs
            s = sensors.get(name)
            p = plans.get(name)
            if p is None or p.kind != kind:
                p = self._plan(r)
            if s is None or s.kind != kind:
                dets = {k: make() for k, make, _ in p.dets} if p.dets else None
                s = sensors[name] = SensorState(kind, dets, tuple([x.uid for x in p.nd]))
                st.commune, st.site = r.commune, r.site
                full = True
            last = s.last_ts
            if ts <= last:
                late.append(r)
                continue
            if last == -INF:
                prev, dt, rate = v, 0.0, 0.0
                delta = v - prev
            else:
                prev = s.last_value
                dt = ts - last
                delta = v - prev
                rate = delta * 3600.0 / dt
            s.last_ts = ts
            s.last_value = v
            s.last_now = now
            if ts > newest:
                newest = ts
            latest[kind] = (ts, v)
            if s.nd:
                p0 = s.period
                if s.rs or (attrs and p.nd_attr in attrs) or (
                        dt > p0 and dt >= self._gap(s)):  # a silence timers missed
                    full = self._seen(st, s, r, p, dt, now, out) or full
                elif dt > 0:  # EWMA of the gaps (see _seen; min(dt, 2 p0) spelt out)
                    if p0 == 0.0:
                        s.period = dt
                        full = True  # silence timers due earlier
                    else:
                        two = 2.0 * p0
                        s.period = q = p0 + 0.2 * ((two if two < dt else dt) - p0)
                        if q < 0.8 * p0:  # silence timers due earlier
                            full = True
            prules = p.rules
            if not prules:
                continue
            scores = None
            dets = s.dets
            if p.dets:
                scores = []
                try:
                    for k in p.det_keys:  # a plain loop: cheaper than a comprehension
                        scores.append(dets[k].update(v, ts))  # type: ignore[index]
                except (KeyError, TypeError):  # the plan gained detectors: build them
                    if dets is None:
                        dets = s.dets = {}
                    for key, make, _ in p.dets:
                        if key not in dets:
                            dets[key] = make()  # type: ignore[operator]
                    for k in p.det_keys[len(scores):]:
                        scores.append(dets[k].update(v, ts))
            base: dict | None = None
            rsd = s.rs
            fast0 = (v, None, prev, dt, rate, delta, ts, attrs)
            for rule, di, uid, gi, gop, gc, more in prules:
                rs = rsd.get(uid) if rsd else None
                if rs is None and gi >= 0:
                    # idle, and the condition starts with a plain comparison (or a
                    # has(attrs.x)) that is false: the commonest case of all
                    x = scores[di] if gi == 1 and di >= 0 else fast0[gi]  # type: ignore[index]
                    if x is None or not gop(x, gc):
                        continue
                w, pre, si, sop, sc, ci, cop, cc = more
                fast = fast0 if di < 0 else (v, scores[di], prev, dt, rate, delta, ts, attrs)  # type: ignore[index]
                if rs is not None:
                    if rs.firing:
                        if ci >= 0 and rs.clear_since == -INF:
                            x = fast[ci]
                            if x is None or not cop(x, cc):  # still firing, nothing changes
                                rs.n += 1
                                rs.r = r
                                rs.score = fast[1]
                                continue
                    elif w.fast_only and rs.n > 0 and not rs.clear_n:
                        # pending: still true and not long enough yet -> nothing to do
                        if si >= 0:
                            x = fast[si]
                            holds = x is not None and sop(x, sc)
                        else:
                            holds = w.prefilter(fast, clock)
                        n1 = rs.n + 1
                        if holds and ((rule.for_n and n1 < rule.for_n)
                                      or (rule.for_s and ts - rs.since < rule.for_s)):
                            rs.n = n1
                            rs.r = r
                            rs.score = fast[1]
                            continue
                if rs is None:
                    # idle: only the condition's prefilter, mostly (a single comparison
                    # has been tested above as the gate)
                    if si < 0 and pre and not w.prefilter(fast, clock):
                        continue
                    if base is None:
                        base = {}
                    det = dets[p.dets[di][0]] if di >= 0 else None  # type: ignore[index]
                    if not w.fast_only:
                        env = self._env(w.names, rule, r, st, fast, det, {}, base)
                        if not self._holds(w, env):
                            continue
                    rs = RuleState(ts)
                    if rsd is None:
                        rsd = s.rs = {}
                    rsd[uid] = rs
                if base is None:
                    base = {}
                det = dets[p.dets[di][0]] if di >= 0 else None  # type: ignore[index]
                a = self._step(rule, rs, r, st, fast, det, ts, now, base)
                if a is not None:
                    out.append(a)
                if rs.since != INF:
                    d = _rs_due(rule, rs, now - ts)  # the sensor just reported
                    if d is not None and d < cand:
                        cand = d
                else:  # back to idle
                    del rsd[uid]  # type: ignore[union-attr]
                    if not rsd:
                        rsd = s.rs = None
        if newest > -INF:
            lag = now - newest
            full = full or lag < st.lag - 1.0  # timers are due earlier than computed
            st.lag = lag
            self._prog[st] = newest
            if newest > self._ev:
                self._ev = newest
            ev0, now0 = self._sp
            self._calls += 1
            # at most once a second, and (unless 10 s passed) every 64 batches: when a
            # replay's "now" jumps with event time, not at every batch
            if now - now0 >= 1.0 and (self._calls >= 64 or now - now0 >= 10.0):
                self._calls = 0
                if ev0 > -INF:
                    sp = (self._ev - ev0) / (now - now0)
                    self.speed = max(1.0, 0.5 * self.speed + 0.5 * sp)
                self._sp = (self._ev, now)
                self._watermark(now)
        self.stats.readings += n
        if late:
            self.stats.late += len(late)
        if out:
            self._count(out)
        # timers: a full recompute when sensors appear or the lag shrinks; otherwise only
        # earlier deadlines are taken in (a deadline that moved later, e.g. a sensor that
        # reported again, just wakes the key early: tick() then recomputes them all)
        if full:
            st.due = self._due(st, now)
        elif cand < INF and (st.due is None or cand < st.due):
            st.due = cand
        return out, late

    def _step(self, rule: CRule, rs: RuleState, r: Reading, st: KeyState, fast: tuple,
              det: Detector | None, ts: float, now: float, base: dict) -> Alert | None:
        """One reading for a rule that is not idle (or has just become true).

        Sets ``rs.since = INF`` when the rule goes back to idle."""
        env: dict = {}
        rs.r = r
        rs.score = fast[1]
        if not rs.firing:
            if rs.n > 0 or rs.clear_n:  # already pending: does the condition still hold?
                if not self._test(rule.when, rule, r, st, fast, det, env, base):  # type: ignore[arg-type]
                    rs.since = INF
                    return None
            rs.n += 1
            if (rule.for_n and rs.n < rule.for_n) or (rule.for_s and ts - rs.since < rule.for_s):
                return None
            return self._fire(rule, rs, r, st, fast, det, ts, now, env, base)
        # firing: cleared? (hysteresis: a separate clear condition, else "not when")
        if rule.clear is not None:
            cleared = self._test(rule.clear, rule, r, st, fast, det, env, base)
        else:
            cleared = not self._test(rule.when, rule, r, st, fast, det, env, base)  # type: ignore[arg-type]
        if not cleared:
            if rs.clear_since > -INF and rs.hold > rule.keep_s and rule.flap is not None:
                # back while held for flapping: it would have been a new alert, so it
                # counts as a start and keeps the flapping state alive
                st.life.started(rule.uid, r.sensor, ts, rule.flap[1])
            rs.clear_since = -INF
            rs.clear_n = 0
            rs.n += 1
            sev = rule.severity_at(ts - rs.since)
            if sev != rs.sev:
                return self._fire(rule, rs, r, st, fast, det, ts, now, env, base)
            return None
        if rs.clear_since == -INF:
            rs.clear_since = ts
            # decided once, when clearing starts: flapping alerts are held longer
            rs.hold = self._hold(rule, st, r.sensor, ts)
        rs.clear_n += 1
        hold = rs.hold
        if rule.keep_n and rs.clear_n < rule.keep_n:
            return None
        if hold and ts - rs.clear_since < hold:
            return None
        a = self._resolve(rule, rs, r, st, fast, det, rs.clear_since, now, env, base,
                          r.sensor)
        rs.since = INF
        return a

    # -- missing data -----------------------------------------------------------------------
    def _silence(self, rule: CRule, s: SensorState) -> float:
        factor, _, default, lo = rule.no_data  # type: ignore[misc]
        return max(lo, factor * (s.period or default))

    def _gap(self, s: SensorState) -> float:
        """The shortest silence that raises one of the sensor's no-data alerts."""
        g = INF
        for uid in s.nd:
            rule = self.rules.get(uid)
            if rule is not None:
                sil = self._silence(rule, s)
                if sil < g:
                    g = sil
        return g

    def _seen(self, st: KeyState, s: SensorState, r: Reading, p: Plan, dt: float,
              now: float, out: list[Alert]) -> bool:
        """A reading arrived: raise the no-data alerts of a silence (``dt`` since the
        previous reading) that the timers did not report in time; update the sensor's
        period; resolve its no-data alerts. True if an alert was resolved (timers need a
        full recompute)."""
        done = False
        if dt > 0:  # a silence is judged with the period known before it
            for uid in s.nd:
                rule = self.rules.get(uid)
                if rule is None or (s.rs and uid in s.rs):
                    continue
                sil = self._silence(rule, s)
                if dt < sil:
                    continue
                # what tick() would have raised: same start, hence the same alert id
                rs = RuleState(r.ts - dt + sil)
                rs.r = Reading(sensor=r.sensor, ts=r.ts - dt, value=r.value, kind=r.kind,
                               commune=r.commune, site=r.site)
                if s.rs is None:
                    s.rs = {}
                s.rs[uid] = rs
                fast = (r.value, None, r.value, 0.0, 0.0, 0.0, r.ts, r.attrs)
                a = self._fire(rule, rs, rs.r, st, fast, None, rs.since, now, {}, {})
                if a is not None:
                    out.append(a)
        attr = p.nd_attr
        given = r.attrs.get(attr) if attr and r.attrs else None
        p0 = s.period
        if isinstance(given, int | float) and not isinstance(given, bool) and given > 0:
            s.period = float(given)
            done = s.period < 0.8 * p0 or p0 == 0.0
        elif dt > 0:
            # EWMA of the gaps; a gap longer than twice the period is an outage, not a new
            # period: it counts as twice the period (a slower sensor still adapts)
            s.period = dt if p0 == 0.0 else p0 + 0.2 * (min(dt, 2.0 * p0) - p0)
            done = s.period < 0.8 * p0 or p0 == 0.0
        if s.rs:
            for uid in s.nd:
                rs = s.rs.get(uid)
                rule = self.rules.get(uid)
                if rs is None or rule is None:
                    continue
                fast = (r.value, None, r.value, 0.0, 0.0, 0.0, r.ts, r.attrs)
                a = self._resolve(rule, rs, r, st, fast, None, r.ts, now, {}, {}, r.sensor)
                if a is not None:
                    out.append(a)
                del s.rs[uid]
                done = True
            if not s.rs:
                s.rs = None
        return done

    # -- timers -------------------------------------------------------------------------------
    def tick(self, st: KeyState, now: float) -> list[Alert]:
        """Processing-time timers: missing data, ``for:`` durations reached with no new
        reading, escalation, ``keep_firing_for`` and flapping holds ending."""
        out: list[Alert] = []
        for name, s in st.sensors.items():
            # the sensor's own clock: its event time moves on at wall-clock speed from its
            # last reading (never from its siblings' or other keys' readings)
            lag = s.last_now - s.last_ts if s.last_ts > -INF else st.lag
            for uid in s.nd:
                rule = self.rules.get(uid)
                if rule is None or (s.rs and uid in s.rs) or s.last_ts == -INF:
                    continue
                sil = self._silence(rule, s)
                if now >= s.last_now + sil or self.event_now(now) >= s.last_ts + sil:
                    rs = RuleState(s.last_ts + sil)
                    r = Reading(sensor=name, ts=s.last_ts, value=s.last_value, kind=s.kind,
                                commune=st.commune, site=st.site)
                    rs.r = r
                    if s.rs is None:
                        s.rs = {}
                    s.rs[uid] = rs
                    est = max(rs.since, now - lag)
                    fast = (r.value, None, r.value, 0.0, 0.0, 0.0, r.ts, r.attrs)
                    a = self._fire(rule, rs, r, st, fast, None, est, now, {}, {})
                    if a is not None:
                        out.append(a)
            if not s.rs:
                continue
            for uid, rs in list(s.rs.items()):
                rule = self.rules.get(uid)
                if rule is None:  # the pack was removed since the snapshot
                    del s.rs[uid]
                    continue
                if rule.no_data is not None or rs.r is None:
                    continue
                due = self._rule_due(rule, rs, st, name, lag)
                if due is None or now < due:
                    continue
                r = rs.r
                fast = (r.value, rs.score, r.value, 0.0, 0.0, 0.0, r.ts, r.attrs)
                det = s.dets.get(rule.det_key) if (s.dets and rule.det_key) else None
                if not rs.firing:
                    a = self._fire(rule, rs, r, st, fast, det, rs.since + rule.for_s, now,
                                   {}, {})
                elif rs.clear_since > -INF:
                    a = self._resolve(rule, rs, r, st, fast, det, rs.clear_since, now, {}, {},
                                      name)
                    del s.rs[uid]
                else:  # escalation with no new reading
                    nxt = rule.next_escalation(rs.sev) or 0.0
                    est = max(now - lag, rs.since + nxt)
                    a = self._fire(rule, rs, r, st, fast, det, est, now, {}, {},
                                   sev=rule.severity_at(max(est - rs.since, nxt)))
                if a is not None:
                    out.append(a)
            if not s.rs:
                s.rs = None
        if st.life.starts:
            st.life.prune(now - st.lag, max((r.flap[1] for r in self.rules.values() if r.flap),
                                            default=3600.0))
        if out:
            self._count(out)
        st.due = self._due(st, now)
        return out

    def _rule_due(self, rule: CRule, rs: RuleState, st: KeyState, sensor: str,
                  lag: float) -> float | None:
        """Processing time at which a timer must look at this rule state, or None: when
        the sensor's own event time, moving on at wall-clock speed from its last reading,
        reaches the deadline (``lag``, the key's, only for a sensor never seen)."""
        s = st.sensors.get(sensor)
        if s is not None and s.last_ts > -INF:
            lag = s.last_now - s.last_ts
        return _rs_due(rule, rs, lag)

    def advance(self, source: object, ts: float, now: float) -> None:
        """The flow has fed every reading of ``source`` (e.g. a Kafka partition, read in
        order) up to event time ``ts`` to this engine: the stream clock becomes the
        slowest source's progress (see :meth:`event_now`)."""
        src = self._src
        old = src.get(source)
        if old is not None and ts <= old[0]:
            return
        src[source] = (ts, now)
        if old is None or old[0] <= self._wm:  # the slowest source may have moved
            self._wm, self._wm_now = min(src.values())

    def close(self, now: float) -> None:
        """The flow's input has ended (a replay's end): every source has been read to the
        end, so the stream clock moves to the newest event time read (silences up to the
        end of the data are then proven; see :meth:`advance`)."""
        if self._src and self._ev > self._wm:
            for k in self._src:
                self._src[k] = (self._ev, now)
            self._wm, self._wm_now = self._ev, now

    def event_now(self, now: float) -> float:
        """Event time of the stream at processing time ``now``.

        With sources (:meth:`advance`): the slowest source's progress, exactly (live
        silence is the processing-time timers' job). Without: a low quantile of the keys'
        newest event times, plus the processing time since it was taken (never faster
        than the wall clock); -inf before two keys have been seen."""
        if self._src:
            return self._wm
        return self._wm + max(0.0, now - self._wm_now)

    def _watermark(self, now: float) -> None:
        if self._src:  # the sources' clock, kept up to date by advance()
            return
        prog = self._prog
        if len(prog) < 2:
            return
        if len(prog) > 1_000_000:
            prog.clear()
            return
        v = sorted(prog.values())
        self._wm = v[int(self.watermark_q * (len(v) - 1))]
        self._wm_now = now

    def _due(self, st: KeyState, now: float) -> float | None:
        """The key's next timer (processing time): the earliest of its sensors' silence
        deadlines and of its rule states' (:func:`_rs_due`), or None.

        A sensor silent for ``sil`` is due after that long in processing time, or once
        the stream's event time ``ev`` has passed its last reading by ``sil`` (in a
        replay the rest of the city moves on much faster): at ``now + max(0, last_ts +
        sil - ev) / speed``, a non-decreasing function of ``last_ts + sil``, so the
        earliest of those is that of the smallest ``last_ts + sil`` (exactly)."""
        due = INF
        ev_due = INF  # the smallest last_ts + sil
        rules = self.rules
        for s in st.sensors.values():
            rsd = s.rs
            last_ts = s.last_ts
            if last_ts > -INF:
                lag = s.last_now - last_ts
                for uid in s.nd:
                    if rsd and uid in rsd:
                        continue
                    rule = rules.get(uid)
                    if rule is not None:
                        # as _silence (max(a, b) spelt `b if b > a else a`, the same)
                        factor, _, default, lo = rule.no_data  # type: ignore[misc]
                        sil = factor * (s.period or default)
                        if not sil > lo:
                            sil = lo
                        d = s.last_now + sil
                        if d < due:
                            due = d
                        d = last_ts + sil
                        if d < ev_due:
                            ev_due = d
            else:
                lag = st.lag
            if rsd:
                for uid, rs in rsd.items():
                    rule = rules.get(uid)
                    if rule is None or rule.no_data is not None:
                        continue
                    d = _rs_due(rule, rs, lag)  # type: ignore[assignment]
                    if d is not None and d < due:
                        due = d
        if ev_due < INF:
            gap = ev_due - self.event_now(now)
            d = now + max(0.0, gap) / self.speed
            if d < due:
                due = d
        return None if due == INF else due

    def deadline(self, st: KeyState) -> float | None:
        """Epoch seconds (processing time) of the next timer this key needs, or None."""
        return st.due

    def _count(self, out: list[Alert]) -> None:
        self.stats.alerts += len(out)
        br = self.stats.by_rule
        for a in out:
            br[a.rule] = br.get(a.rule, 0) + 1


def _rs_due(rule: CRule, rs: RuleState, lag: float) -> float | None:
    """Processing time at which a timer must look at a rule state, or None, for a sensor
    whose event time runs ``lag`` seconds behind processing time."""
    if not rs.firing:
        return rs.since + rule.for_s + lag if rule.for_s else None
    if rs.clear_since > -INF:
        if rule.keep_n and rs.clear_n < rule.keep_n:
            return None
        return rs.clear_since + rs.hold + lag
    nxt = rule.next_escalation(rs.sev)
    return None if nxt is None else rs.since + nxt + lag


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
