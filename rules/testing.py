"""Rule tests as data, in the spirit of ``promtool test rules``.

Each pack ships test cases in ``tests/<pack>.yaml`` next to it: input series and the
alerts they must produce, in order, no more and no fewer::

    pack: ../lighting.yaml            # default: ../<this file's name>
    tests:
      - name: school light on at 23:00 local for 20 minutes
        start: 2026-11-24T22:00:00Z   # UTC, like the wire
        step: 5m
        series:
          - sensor: metz/ecole-jean-moulin/light-hall
            kind: light_on
            commune: metz
            site: ecole-jean-moulin
            attrs: {opening_hours: "Mo-Fr 08:00-18:00; PH off", nominal_power_kw: 0.8}
            values: "0 1x4 0"         # one value per step; see expand()
        expect:
          - {rule: LightOnOutsideOpeningHours, status: firing, at: 2026-11-24T22:15:00Z,
             impact: true}
          - {rule: LightOnOutsideOpeningHours, status: resolved}

Time is simulated: processing time equals event time (plus ``lag`` if given) and the
engine's timers (``tick``/``deadline``) run whenever they are due, up to ``until`` after
``start`` (default: the last reading), so missing-data and ``for:`` timers are tested too.
Expected fields: ``rule``, ``status``, ``severity``, ``sensor``, ``site``, ``commune``,
``pack``, ``at`` (when emitted), ``starts_at``, ``ends_at``, ``summary`` (a substring),
``labels`` (a subset), ``impact`` (``true``, or approximate ``kwh``/``eur``/... values).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from models.reading import Reading
from rules.alert import Alert
from rules.engine import Engine, KeyState
from rules.load import PackErrors, load_pack, pack_files
from rules.schema import seconds

_TERM = re.compile(r"^(_|-?\d+(?:\.\d+)?)(?:([+-]\d+(?:\.\d+)?)?x(\d+))?$")


def expand(text: str | list) -> list[float | None]:
    """Series notation: ``1 2 3``; ``AxN`` = A repeated, N+1 values; ``A+BxN`` = A, A+B,
    ... A+N*B; ``_`` = no reading at that step, ``_xN`` = N steps with no reading.

    >>> expand("0 1x2 _ 5+5x2 _x2")
    [0.0, 1.0, 1.0, 1.0, None, 5.0, 10.0, 15.0, None, None]
    """
    if isinstance(text, list):
        return [None if v in ("_", None) else float(v) for v in text]
    out: list[float | None] = []
    for tok in str(text).split():
        m = _TERM.match(tok)
        if not m:
            raise ValueError(f"bad series term {tok!r} (use e.g. 1, 1x3, 1+2x3, _, _x3)")
        a, b, n = m.groups()
        if a == "_":
            out.extend([None] * (int(n) if n else 1))
            continue
        base = float(a)
        if n is None:
            out.append(base)
            continue
        inc = float(b) if b else 0.0
        out.extend(base + i * inc for i in range(int(n) + 1))
    return out


def _ts(v: object) -> float:
    if isinstance(v, datetime):
        return v.timestamp()
    if isinstance(v, int | float):
        return float(v)
    return datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()


@dataclass
class Result:
    """The outcome of one test case."""

    file: str
    name: str
    ok: bool
    errors: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{'PASS' if self.ok else 'FAIL'} {self.file}: {self.name}"
        return head if self.ok else head + "".join(f"\n    {e}" for e in self.errors)


def readings(case: dict) -> list[Reading]:
    """The readings of one test case, in event-time order."""
    start = _ts(case["start"])
    step = seconds(case.get("step", "5m"))
    out: list[Reading] = []
    for s in case.get("series", []):
        s0 = _ts(s["start"]) if "start" in s else start
        st = seconds(s["step"]) if "step" in s else step
        common = dict(sensor=s["sensor"], kind=s.get("kind", ""), unit=s.get("unit", ""),
                      commune=s.get("commune", ""), site=s.get("site", ""),
                      attrs=s.get("attrs") or {})
        for i, v in enumerate(expand(s.get("values", []))):
            if v is not None:
                out.append(Reading(ts=s0 + i * st, value=v, **common))
        for pt in s.get("points", []):
            out.append(Reading(ts=_ts(pt[0]), value=float(pt[1]), **common))
    out.sort(key=lambda r: r.ts)
    return out


def simulate(engine: Engine, rs: list[Reading], until: float | None = None,
             lag: float = 0.0) -> list[Alert]:
    """Feed readings one by one (processing time = event time + ``lag``), running every
    key's timers when due, until ``until`` (default: the last reading)."""
    states: dict[str, KeyState] = {}
    out: list[Alert] = []
    end = max([until or -math.inf] + [r.ts + lag for r in rs])
    i = 0
    guard = 0
    clock = -math.inf  # processing time never goes back
    while True:
        nxt_r = rs[i].ts + lag if i < len(rs) else math.inf
        key, due = None, math.inf
        for k, st in states.items():
            d = engine.deadline(st)
            if d is not None and d < due:
                key, due = k, d
        if key is not None and due <= nxt_r and due <= end:
            guard += 1
            if guard > 100_000:
                raise RuntimeError("timers do not advance")
            clock = max(clock, due)
            out.extend(engine.tick(states[key], clock))
            nd = engine.deadline(states[key])
            if nd is not None and nd <= due:
                raise RuntimeError(f"timer at {due} did not advance for key {key}")
            continue
        if i >= len(rs) or nxt_r > end:
            break
        r = rs[i]
        i += 1
        st = states.get(r.subject)
        if st is None:
            st = states[r.subject] = engine.new_state()
        clock = max(clock, r.ts + lag)
        out.extend(engine.process(st, (r,), clock)[0])
    return out


EXPECT_KEYS = frozenset({
    "rule", "status", "severity", "sensor", "site", "commune", "pack", "detector", "kind",
    "at", "starts_at", "ends_at", "summary", "labels", "impact", "value", "expected",
})


def _check(i: int, exp: dict, a: Alert) -> list[str]:
    errs = [f"alert {i}: unknown expectation {k!r} (known: {', '.join(sorted(EXPECT_KEYS))})"
            for k in exp if k not in EXPECT_KEYS]
    for k in ("rule", "status", "severity", "sensor", "site", "commune", "pack", "detector",
              "kind"):
        if k in exp and str(exp[k]) != getattr(a, k):
            errs.append(f"alert {i}: {k} is {getattr(a, k)!r}, expected {exp[k]!r}")
    for k, attr in (("at", "detected_at"), ("starts_at", "starts_at"), ("ends_at", "ends_at")):
        if k in exp:
            got = getattr(a, attr)
            if got is None or abs(_ts(got) - _ts(exp[k])) > 1e-3:
                errs.append(f"alert {i}: {attr} is {got}, expected {exp[k]}")
    if "summary" in exp and str(exp["summary"]) not in a.summary:
        errs.append(f"alert {i}: summary {a.summary!r} lacks {exp['summary']!r}")
    for k, v in (exp.get("labels") or {}).items():
        if a.labels.get(k) != str(v):
            errs.append(f"alert {i}: label {k}={a.labels.get(k)!r}, expected {v!r}")
    if "impact" in exp:
        im = exp["impact"]
        if im is True:
            if a.impact is None or not (a.impact.eur_per_h > 0 or a.impact.eur > 0):
                errs.append(f"alert {i}: expected an impact, got {a.impact}")
        elif im in (False, None):
            if a.impact is not None:
                errs.append(f"alert {i}: expected no impact, got {a.impact}")
        else:
            for k, v in im.items():
                got = getattr(a.impact, k, None) if a.impact else None
                if got is None or abs(got - float(v)) > max(1e-3, 0.02 * abs(float(v))):
                    errs.append(f"alert {i}: impact.{k} is {got}, expected about {v}")
    for k in ("value", "expected"):
        if k in exp:
            got = getattr(a, k)
            if got is None or abs(got - float(exp[k])) > 1e-6 * max(1.0, abs(float(exp[k]))):
                errs.append(f"alert {i}: {k} is {got}, expected {exp[k]}")
    return errs


def _short(a: Alert) -> str:
    return f"{a.status} {a.rule} {a.severity} {a.sensor} at {a.detected_at}"


def run_file(path: str | Path) -> list[Result]:
    """Run the test cases of one test file."""
    path = Path(path)
    file = str(path)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        return [Result(file, "(file)", False, [str(e).splitlines()[0]])]
    packs = doc.get("packs") or [doc.get("pack") or f"../{path.stem}.yaml"]
    try:
        loaded = [load_pack((path.parent / p).resolve()) for p in packs]
    except PackErrors as e:
        return [Result(file, "(pack)", False, [str(x) for x in e.errors])]
    results = []
    for n, case in enumerate(doc.get("tests") or []):
        name = case.get("name", f"test {n}")
        try:
            engine = Engine(loaded)
            rs = readings(case)
            until = _ts(case["start"]) + seconds(case["until"]) if "until" in case else None
            got = simulate(engine, rs, until, seconds(case.get("lag", 0)))
        except Exception as e:  # noqa: BLE001 - report the case as failed, go on
            results.append(Result(file, name, False, [f"{type(e).__name__}: {e}"]))
            continue
        exp = case.get("expect") or []
        errs: list[str] = []
        if len(got) != len(exp):
            errs.append(f"{len(got)} alert(s), expected {len(exp)}:")
            errs.extend("  got " + _short(a) for a in got)
        for i, (e, a) in enumerate(zip(exp, got, strict=False)):
            errs.extend(_check(i, e, a))
        results.append(Result(file, name, not errs, errs, got))
    if not results:
        results.append(Result(file, "(file)", False, ["no test cases"]))
    return results


def case_files(paths: list[str | Path] | None = None) -> list[Path]:
    """Test files for ``paths``: a pack file's ``tests/<stem>.yaml``, a directory's
    ``tests/*.yaml``, or a test file itself (a YAML file with a ``tests`` key)."""
    out: list[Path] = []
    for p in pack_files(paths):
        t = p.parent / "tests" / f"{p.stem}.yaml"
        if t.exists():
            out.append(t)
        elif p.exists() and p.parent.name == "tests":
            out.append(p)
    return sorted(set(out))


def run_tests(paths: list[str | Path] | None = None) -> list[Result]:
    """Run the test cases of every pack under ``paths`` (default: the shipped packs)."""
    results: list[Result] = []
    for f in case_files(paths):
        results.extend(run_file(f))
    return results
