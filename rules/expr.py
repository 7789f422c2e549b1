"""Rule expressions: CEL (Common Expression Language), compiled once at pack load.

CEL is safe (no I/O, no attribute access on Python objects, always terminates) and the
``cel`` module compiles an expression to a reusable program (~1-2 us per evaluation).
Three things make it pleasant and fast here:

* integer literals become doubles (``100 - value`` would otherwise be a type error, as CEL
  never mixes int and double): readings, attributes and clock fields are all doubles;
* every name is checked at load time against the variables the rule may use, and unknown
  functions are refused, so a typo is a load error, never a run-time surprise;
* a *prefilter*: the top-level ``&&`` terms that compare a plain number (``value >= 80``,
  ``score >= 6``) run as Python comparisons first, so most readings, for which a rule is
  false, never reach CEL; an expression made only of such terms never does;
* *flags*: top-level terms that are a boolean variable or its negation (``open``,
  ``!maintenance``, ``ready``) are read from the evaluation context in Python: one false
  flag makes the whole ``&&`` false (CEL's ``&&`` is false when any side is, errors
  included), and an expression made only of prefilter terms and flags needs no CEL.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Iterable

import cel

#: Numbers known per reading without building a CEL context: their index in the "fast"
#: tuple ``(value, score, prev, dt, rate, delta, ts, attrs)``, or, from 8 on, 8 + their
#: index in the local clock fields ``(hour, minute, weekday)`` of ``ts``.
FAST = {"value": 0, "score": 1, "prev": 2, "dt": 3, "rate": 4, "delta": 5, "hour": 8,
        "minute": 9, "weekday": 10}
TS, ATTRS, CLOCK = 6, 7, 8

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
    "==": operator.eq, "!=": operator.ne,
}
_ATOM = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*"
                   r"(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|attrs\.([A-Za-z_]\w*))\s*$")
_HAS = re.compile(r"^\s*has\(\s*attrs\.([A-Za-z_]\w*)\s*\)\s*$")
_TOKEN = re.compile(
    r"(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')"  # 1: string literal
    r"|(\b\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+|\b\d+[eE][+-]?\d+|\b0[xX][0-9a-fA-F]+u?|\b\d+u\b)"
    r"|(\b\d+\b)"  # 3: integer literal
)
_FLAG = re.compile(r"^\s*(!?)\s*([A-Za-z_]\w*)\s*$")
_BOUND = re.compile(r"\.(?:exists_one|exists|all|map|filter)\(\s*([A-Za-z_]\w*)\s*,")

#: Functions CEL provides (non-operator names), plus the ones added here.
BUILTIN_FUNCS = frozenset({
    "size", "int", "uint", "double", "string", "bytes", "timestamp", "duration", "matches",
    "contains", "startsWith", "endsWith", "type", "dyn", "getFullYear", "getMonth",
    "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getHours", "getMinutes", "getSeconds",
})
EXTRA_FUNCS: dict[str, Callable] = {
    "abs": lambda x: abs(float(x)),
    "min": lambda *a: float(min(a)),
    "max": lambda *a: float(max(a)),
}


class ExprError(ValueError):
    """An expression does not compile or uses a name it may not use."""


def doubles(src: str) -> str:
    """Rewrite integer literals as doubles, except list indexes and inside strings.

    >>> doubles("100 - value > 5 && attrs.coords[0] > 1 && kind == 'pm10'")
    "100.0 - value > 5.0 && attrs.coords[0] > 1.0 && kind == 'pm10'"
    """
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(src):
        if m.group(3) is None:
            continue
        before = src[: m.start()].rstrip()
        if before.endswith("["):
            continue
        out.append(src[pos: m.end()])
        out.append(".0")
        pos = m.end()
    out.append(src[pos:])
    return "".join(out)


def _split_and(src: str) -> list[str] | None:
    """Top-level ``&&`` terms, or None if the top level also has ``||`` or ``?:``."""
    depth = 0
    quote = ""
    terms: list[str] = []
    start = 0
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            two = src[i: i + 2]
            if two == "&&":
                terms.append(src[start:i])
                start = i + 2
                i += 2
                continue
            if two == "||" or c == "?":
                return None
        i += 1
    terms.append(src[start:])
    return terms


class Expr:
    """A compiled expression: the CEL program, the names it reads, its prefilter and
    flags.

    ``bools``: names known to hold a boolean (schedules, ``ready``); a top-level ``&&``
    term that is one of them, or its negation, is a flag (:attr:`flags`)."""

    __slots__ = ("src", "program", "names", "funcs", "pre", "fast_only", "flags", "decided")

    def __init__(self, src: str, allowed: Iterable[str], bools: Iterable[str] = ()) -> None:
        self.src = src
        allowed = set(allowed)
        try:
            self.program = cel.compile(doubles(src))
        except (ValueError, RuntimeError, TypeError) as e:
            raise ExprError(f"does not compile: {str(e).splitlines()[0]}") from None
        bound = set(_BOUND.findall(src))
        names = [v for v in self.program.variables() if v not in bound]
        unknown = sorted(set(names) - allowed)
        if unknown:
            hints = []
            for u in unknown:
                near = difflib.get_close_matches(u, allowed, n=1)
                hints.append(f"{u} (did you mean {near[0]}?)" if near else u)
            raise ExprError(f"unknown name(s) {', '.join(hints)} in {src!r}; known: "
                            f"{', '.join(sorted(allowed))}")
        funcs = [f for f in self.program.functions() if f[:1].isalpha()]
        bad = sorted(f for f in funcs if f not in BUILTIN_FUNCS and f not in EXTRA_FUNCS)
        if bad:
            raise ExprError(f"unknown function(s) {', '.join(bad)} in {src!r}")
        self.names = tuple(names)
        self.funcs = tuple(f for f in funcs if f in EXTRA_FUNCS)
        # prefilter terms (i, op, c, key): fast[i] op c; clock field i - CLOCK op c;
        # with a key: fast[i] op attrs[key] (a number), or, for i == -1, has(attrs.key)
        pre: list[tuple[int, Callable, float, str | None]] = []
        terms = _split_and(src)
        fast_terms = 0
        bools = frozenset(bools)
        flags: list[tuple[str, bool]] = []
        for t in terms or ():
            m = _ATOM.match(t)
            h = _HAS.match(t)
            f = _FLAG.match(t)
            if m and m.group(1) in FAST and (m.group(4) is None or FAST[m.group(1)] < TS):
                key = m.group(4)
                pre.append((FAST[m.group(1)], _OPS[m.group(2)],
                            0.0 if key else float(m.group(3)), key))
                fast_terms += 1
            elif h:
                pre.append((-1, operator.contains, 0.0, h.group(1)))
                fast_terms += 1
            elif f and f.group(2) in bools:
                flags.append((f.group(2), not f.group(1)))
        # cheap terms first: reading numbers, attributes, then clock fields
        self.pre = tuple(sorted(pre, key=lambda t: (t[0] >= CLOCK, t[3] is not None)))
        self.fast_only = terms is not None and fast_terms == len(terms)
        #: (name, value the term needs): the boolean variables the && needs true or false
        self.flags = tuple(flags)
        #: every term is a prefilter term or a flag: CEL is never needed
        self.decided = terms is not None and fast_terms + len(flags) == len(terms)

    def prefilter(self, fast: tuple, clock: Callable[[float], tuple] | None = None) -> bool:
        """False when a cheap ``&&`` term is false (then the whole expression is).

        ``fast`` is ``(value, score, prev, dt, rate, delta, ts, attrs)``; ``clock(ts)``
        gives the local ``(hour, minute, weekday)`` (called only when a term needs it)."""
        for i, op, c, key in self.pre:
            if key is not None:
                attrs = fast[ATTRS]
                if i < 0:
                    if not attrs or key not in attrs:
                        return False
                    continue
                c = attrs.get(key) if attrs else None
                if c is None or c is True or c is False or not isinstance(c, int | float):
                    return False
                x = fast[i]
            elif i < TS:
                x = fast[i]
            elif clock is None:
                continue
            else:
                x = clock(fast[TS])[i - CLOCK]
            if x is None or not op(x, c):
                return False
        return True

    def flagged(self, env: dict) -> bool | None:
        """Whether the expression holds, from its flags in ``env`` (which holds them)
        once the prefilter has passed: False if a flag is off, True if the flags are on
        and nothing else is left, None when CEL must decide."""
        for name, want in self.flags:
            # a boolean (True / False); missing or wrongly typed, CEL errs: false too
            if env.get(name) is not want:
                return False
        return True if self.decided else None

    def run(self, ctx: dict) -> object:
        """Evaluate with ``ctx`` (a dict holding at least :attr:`names`)."""
        if self.funcs:
            for f in self.funcs:
                ctx[f] = EXTRA_FUNCS[f]
        return self.program.execute(ctx)

    def __repr__(self) -> str:
        return f"Expr({self.src!r})"
