"""Load rule packs: YAML -> validated :class:`rules.schema.Pack` -> compiled rules.

Every error names the file, the line and the field (``packs/x.yaml:12: rules[0].when:
unknown name(s) valeu``): pydantic error locations and compile errors are mapped back to
YAML nodes via ``yaml.compose``. Expressions are compiled here, once.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import ValidationError

from models.base import Detector
from rules import detectors
from rules.calendars import parse as parse_hours
from rules.expr import Expr, ExprError
from rules.schema import Match, Pack, Rule, Schedule

#: The directory of the packs shipped with Sentinelle.
PACKS = Path(__file__).parent / "packs"

#: Variables every expression may use (see the README of rules/packs for their meaning).
READING_VARS = frozenset({
    "value", "prev", "dt", "rate", "delta", "ts", "kind", "sensor", "commune", "site_id", "site",
    "attrs", "hour", "minute", "weekday", "holiday", "school_holiday",
})
DETECTOR_VARS = frozenset({"score", "expected", "ready"})
#: Schedules every pack has unless it redefines them.
BUILTIN_SCHEDULES: dict[str, Schedule] = {
    "open": Schedule(attr="opening_hours", default="24/7"),
    "maintenance": Schedule(attr="maintenance", default=None),
    "daylight": Schedule(default="sunrise-sunset"),
}
TEMPLATE_EXTRA = frozenset({"rule", "pack", "severity", "duration_min", "kwh", "eur", "kg_co2e"})


class PackError(ValueError):
    """A pack does not load; ``str()`` is ``file:line: field: message``."""

    def __init__(self, file: str, line: int, field: str, msg: str) -> None:
        self.file, self.line, self.field, self.msg = file, line, field, msg
        super().__init__(f"{file}:{line}: {field}: {msg}")


class PackErrors(ValueError):
    """All the errors of one or more packs."""

    def __init__(self, errors: list[PackError]) -> None:
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


# -- YAML line mapping -------------------------------------------------------------------
def _node_at(root: yaml.Node | None, loc: Sequence[str | int]) -> tuple[yaml.Node | None, int]:
    """The deepest YAML node along ``loc`` and how many loc parts it consumed."""
    node = root
    used = 0
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part) or (part == "for_" and k.value == "for"):
                    nxt = v if used + 1 < len(loc) else k
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        used += 1
    return node, used


def _field(loc: Sequence[str | int]) -> str:
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            p = "for" if p == "for_" else p
            out += ("." if out else "") + p
    return out or "(pack)"


def _err(file: str, root: yaml.Node | None, loc: Sequence[str | int], msg: str) -> PackError:
    node, _ = _node_at(root, loc)
    line = node.start_mark.line + 1 if node is not None else 1
    return PackError(file, line, _field(loc), msg)


def _message(e: dict, loc: list[str | int]) -> str:
    """A readable message for one pydantic error (unknown keys get a suggestion)."""
    if e["type"] == "extra_forbidden" and loc:
        name = str(loc[-1])
        model = Rule if len(loc) == 3 and loc[0] == "rules" else Pack if len(loc) == 1 else None
        hint = ""
        if model is not None:
            known = [f.alias or k for k, f in model.model_fields.items()]
            near = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(known)}"
        return f"unknown field {name!r}{hint}"
    return e["msg"].removeprefix("Value error, ")


def _clean_loc(loc: Sequence) -> list[str | int]:
    # pydantic adds validator names (e.g. 'function-before[...]') to union locations
    return [p for p in loc if isinstance(p, int) or ("[" not in p and "(" not in p)]


# -- compiled form ----------------------------------------------------------------------
@dataclass(frozen=True)
class Matcher:
    """Compiled ``match`` sections (all must match)."""

    parts: tuple[Match, ...]

    def __call__(self, sensor: str, kind: str, commune: str, site: str, attrs: dict) -> bool:
        for m in self.parts:
            if m.kind and not any(fnmatchcase(kind, p) for p in m.kind):
                return False
            if m.not_kind and any(fnmatchcase(kind, p) for p in m.not_kind):
                return False
            if m.commune and not any(fnmatchcase(commune, p) for p in m.commune):
                return False
            if m.site and not any(fnmatchcase(site, p) for p in m.site):
                return False
            if m.sensor and not any(fnmatchcase(sensor, p) for p in m.sensor):
                return False
            for k, pat in m.labels.items():
                v = attrs.get(k)
                if v is None or not fnmatchcase(str(v), pat):
                    return False
        return True


@dataclass
class CRule:
    """A compiled rule: everything the engine needs, nothing per reading."""

    uid: str
    name: str
    pack: str
    file: str
    match: Matcher
    det_key: str | None
    det_name: str | None
    det_make: Callable[[], Detector] | None
    when: Expr | None
    clear: Expr | None
    for_s: float
    for_n: int
    keep_s: float
    keep_n: int
    severity: str
    escalate: tuple[tuple[float, str], ...]
    vars: dict[str, Expr]
    expected: Expr | float | None
    summary: str
    summary_resolved: str
    labels: dict[str, str]
    kw: Expr | float | None
    m3: Expr | float | None
    impact: tuple[float, float, float, float] | None  # eur/kWh, kg/kWh, eur/m3, kg/m3
    flap: tuple[int, float] | None
    no_data: tuple[float, str, float, float] | None  # factor, period_attr, default, min
    schedules: dict[str, Schedule]
    names: frozenset[str] = field(default_factory=frozenset)

    def severity_at(self, age: float) -> str:
        """Severity after the alert has been active ``age`` seconds."""
        sev = self.severity
        for after, s in self.escalate:
            if age >= after:
                sev = s
        return sev

    def next_escalation(self, sev: str) -> float | None:
        """Alert age (s) of the next severity change once at ``sev``, or None."""
        i = -1
        for j, (_, s) in enumerate(self.escalate):
            if s == sev:
                i = j
        for after, s in self.escalate[i + 1:]:
            if s != sev:
                return after
        return None


@dataclass
class LoadedPack:
    pack: Pack
    file: str
    rules: list[CRule]


def _check_template(text: str, allowed: set[str]) -> str | None:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        return f"bad template: {e}"
    for _, name, _, _ in parts:
        if name is None:
            continue
        if not name.isidentifier():
            return f"template field {{{name}}} must be a plain name"
        if name not in allowed:
            return f"unknown template field {{{name}}}; known: {', '.join(sorted(allowed))}"
    return None


def _compile_rule(pk: Pack, i: int, rule: Rule, file: str, root: yaml.Node | None,
                  errs: list[PackError]) -> CRule | None:
    base = ["rules", i]
    n0 = len(errs)

    def bad(loc: list, msg: str) -> None:
        errs.append(_err(file, root, base + loc, msg))

    scheds = dict(BUILTIN_SCHEDULES)
    scheds.update(pk.schedules)
    allowed = set(READING_VARS) | set(scheds)
    det_key = det_make = None
    if rule.detector is not None:
        try:
            det_make = detectors.factory(rule.detector.name, dict(rule.detector.params))
        except ValueError as e:
            bad(["detector"], str(e))
        raw = json.dumps([rule.detector.name, rule.detector.params], sort_keys=True)
        det_key = hashlib.blake2b(raw.encode(), digest_size=4).hexdigest()
        allowed |= DETECTOR_VARS

    # boolean variables: holidays, schedules, and `ready` with a detector (reading
    # variables, detector outputs and schedules never share a name: _check_schedules)
    bools = {"holiday", "school_holiday", *scheds} | (
        {"ready"} if rule.detector is not None else set())

    def expr(loc: list, src: str, names: set[str]) -> Expr | None:
        try:
            return Expr(src, names, bools)
        except ExprError as e:
            bad(loc, str(e))
            return None

    when = expr(["when"], rule.when, allowed) if rule.when is not None else None
    clear = expr(["clear"], rule.clear, allowed) if rule.clear is not None else None
    if rule.no_data is not None and (rule.clear or rule.for_ or rule.detector):
        bad(["no_data"], "a no_data rule takes no clear, for or detector")
    vars_: dict[str, Expr] = {}
    for k, src in rule.vars.items():
        if not k.isidentifier() or k in allowed:
            bad(["vars", k], f"variable name {k!r} must be a new plain name")
            continue
        e = expr(["vars", k], src, allowed)
        if e is not None:
            vars_[k] = e
    rich = allowed | set(vars_)
    expected: Expr | float | None = None
    if isinstance(rule.expected, str):
        expected = expr(["expected"], rule.expected, rich)
    elif rule.expected is not None:
        expected = float(rule.expected)
    kw = m3 = None
    rates = None
    if rule.impact is not None:
        im = rule.impact
        if isinstance(im.kw, str):
            kw = expr(["impact", "kw"], im.kw, rich)
        elif im.kw is not None:
            kw = float(im.kw)
        if isinstance(im.m3_per_h, str):
            m3 = expr(["impact", "m3_per_h"], im.m3_per_h, rich)
        elif im.m3_per_h is not None:
            m3 = float(im.m3_per_h)
        if im.kw is None and im.m3_per_h is None:
            bad(["impact"], "an impact needs kw or m3_per_h")
        rates = (im.eur_per_kwh, im.kg_co2e_per_kwh, im.eur_per_m3, im.kg_co2e_per_m3)
    tmpl = rich | TEMPLATE_EXTRA | ({"score", "expected"} if rule.detector is None else set())
    for key in ("summary", "summary_resolved"):
        msg = _check_template(getattr(rule, key), tmpl)
        if msg:
            bad([key], msg)
    for k, v in {**pk.labels, **rule.labels}.items():
        msg = _check_template(v, tmpl)
        if msg:
            if k in rule.labels:
                bad(["labels", k], msg)
            else:
                errs.append(_err(file, root, ["labels", k], msg))
    if len(errs) > n0:
        return None
    names: set[str] = set()
    for e in (when, clear, *vars_.values(), expected, kw, m3):
        if isinstance(e, Expr):
            names.update(e.names)
    for text in (rule.summary, rule.summary_resolved, *rule.labels.values()):
        names.update(n for _, n, _, _ in string.Formatter().parse(text)
                     if n and n not in TEMPLATE_EXTRA)
    parts = [pk.match]
    if rule.kind:
        parts.append(Match(kind=rule.kind))
    if rule.match is not None:
        parts.append(rule.match)
    fs = rule.for_
    kp = rule.keep_firing_for
    nd = rule.no_data
    return CRule(
        uid=f"{pk.name}/{rule.name}", name=rule.name, pack=pk.name, file=file,
        match=Matcher(tuple(parts)), det_key=det_key,
        det_name=rule.detector.name if rule.detector else None, det_make=det_make,
        when=when, clear=clear,
        for_s=fs.seconds if fs else 0.0, for_n=fs.readings if fs else 0,
        keep_s=kp.seconds if kp else 0.0, keep_n=kp.readings if kp else 0,
        severity=rule.severity, escalate=tuple((e.after, e.severity) for e in rule.escalate),
        vars=vars_, expected=expected,
        summary=rule.summary or f"{rule.name} at {{sensor}} (value {{value}})",
        summary_resolved=rule.summary_resolved or f"{rule.name} cleared at {{sensor}}",
        labels={**pk.labels, **rule.labels}, kw=kw, m3=m3, impact=rates,
        flap=(rule.flap.max_starts, rule.flap.window) if rule.flap else None,
        no_data=(nd.factor, nd.period_attr, nd.default_period, nd.min) if nd else None,
        schedules={k: v for k, v in scheds.items() if k in names},
        names=frozenset(names),
    )


def _check_schedules(pk: Pack, file: str, root: yaml.Node | None,
                     errs: list[PackError]) -> None:
    for name, sc in pk.schedules.items():
        if not name.isidentifier() or name in READING_VARS or name in DETECTOR_VARS:
            errs.append(_err(file, root, ["schedules", name],
                             f"schedule name {name!r} must be a new plain name"))
        if sc.default is not None:
            try:
                parse_hours(sc.default)
            except Exception as e:  # noqa: BLE001 - ParserError / SyntaxError
                errs.append(_err(file, root, ["schedules", name],
                                 f"bad opening_hours {sc.default!r}: "
                                 f"{' '.join(str(e).split())[:160]}"))


def load_pack(path: str | Path) -> LoadedPack:
    """Load, validate and compile one pack file; raise :class:`PackErrors`."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise PackErrors([PackError(file, 0, "(file)", str(e))]) from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise PackErrors([PackError(file, line, "(yaml)", str(e).splitlines()[0])]) from None
    if not isinstance(data, dict):
        raise PackErrors([PackError(file, 1, "(pack)", "a pack is a YAML mapping")])
    errs: list[PackError] = []
    try:
        pk = Pack.model_validate(data)
    except ValidationError as ve:
        bad_rules: set[int] = set()
        for e in ve.errors():
            loc = _clean_loc(e["loc"])
            errs.append(_err(file, root, loc, _message(e, loc)))
            if len(loc) > 1 and loc[0] == "rules" and isinstance(loc[1], int):
                bad_rules.add(loc[1])
        # also compile the rules that did validate, to report all errors at once
        good = [r for i, r in enumerate(data.get("rules") or []) if i not in bad_rules]
        try:
            pk = Pack.model_validate({**data, "rules": good})
        except ValidationError:
            raise PackErrors(errs) from None
        idx = [i for i in range(len(data.get("rules") or [])) if i not in bad_rules]
        _check_schedules(pk, file, root, errs)
        for i, r in zip(idx, pk.rules, strict=True):
            _compile_rule(pk, i, r, file, root, errs)
        raise PackErrors(sorted(errs, key=lambda x: x.line)) from None
    _check_schedules(pk, file, root, errs)
    seen: set[str] = set()
    rules = []
    for i, r in enumerate(pk.rules):
        if r.name in seen:
            errs.append(_err(file, root, ["rules", i, "name"], f"duplicate rule {r.name!r}"))
        seen.add(r.name)
        c = _compile_rule(pk, i, r, file, root, errs)
        if c is not None:
            rules.append(c)
    if errs:
        raise PackErrors(errs)
    return LoadedPack(pk, file, rules)


def pack_files(paths: Iterable[str | Path] | None = None) -> list[Path]:
    """Pack files named by ``paths`` (files, or directories: their ``*.yaml``, not
    recursive); the shipped packs when ``paths`` is None or empty."""
    out: list[Path] = []
    for p in list(paths or []) or [PACKS]:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        else:
            out.append(p)
    return out


def load_packs(paths: Iterable[str | Path] | None = None) -> list[LoadedPack]:
    """Load every pack under ``paths``; all errors of all files in one :class:`PackErrors`."""
    packs: list[LoadedPack] = []
    errs: list[PackError] = []
    names: dict[str, str] = {}
    for f in pack_files(paths):
        try:
            lp = load_pack(f)
        except PackErrors as e:
            errs.extend(e.errors)
            continue
        if lp.pack.name in names:
            first = names[lp.pack.name]
            errs.append(PackError(str(f), 1, "name",
                                  f"pack {lp.pack.name!r} already loaded from {first}"))
            continue
        names[lp.pack.name] = str(f)
        packs.append(lp)
    if errs:
        raise PackErrors(errs)
    return packs
