"""The rule-pack schema: what a pack YAML file may say, validated with pydantic.

A pack names the readings it applies to (``match``), optional named ``schedules`` in
OpenStreetMap ``opening_hours`` syntax, and ``rules``. Unknown keys are errors, so a typo
(``whne:``) fails at load time; :mod:`rules.load` turns each error into
``file:line: field: message``.

Example (a complete pack)::

    name: lighting
    description: Lights left on while the building is closed.
    match: {kind: light_on}
    rules:
      - name: LightOnOutsideOpeningHours
        when: value >= 0.5 && !open
        for: 10m
        summary: Light on at {site_id} outside opening hours
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

SEVERITIES = ("info", "warning", "critical")
Severity = Literal["info", "warning", "critical"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DUR = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_READINGS = re.compile(r"^\s*(\d+)\s+readings?\s*$")


def seconds(text: str | float | int) -> float:
    """Parse a duration (``90s``, ``15m``, ``2h``, ``1h30m``, ``1d``) into seconds.

    >>> seconds("1h30m"), seconds("15m"), seconds(10)
    (5400.0, 900.0, 10.0)
    """
    if isinstance(text, bool):
        raise ValueError("a duration such as '15m' or '2h' is required")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration must not be negative")
        return float(text)
    s = text.strip().replace(" ", "")
    pos, total = 0, 0.0
    for m in _DUR.finditer(s):
        if m.start() != pos:
            break
        n, u = m.groups()
        total += float(n) * (0.001 if u == "ms" else _UNITS[u])
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 15m, 2h, 1h30m, 1d)")
    return total


def _dur(v: object) -> float:
    return seconds(v)  # type: ignore[arg-type]


Duration = Annotated[float, BeforeValidator(_dur)]


def _hold(v: object) -> object:
    """``for`` / ``keep_firing_for``: a duration (``10m``) or ``N readings``."""
    if isinstance(v, str):
        m = _READINGS.match(v)
        if m:
            return {"readings": int(m.group(1))}
        return {"seconds": seconds(v)}
    if isinstance(v, bool):
        raise ValueError("use a duration ('10m') or a count ('3 readings')")
    if isinstance(v, int | float):
        raise ValueError(f"ambiguous {v!r}: write a duration ('{v}s') or a count ('{v} readings')")
    return v


def _strlist(v: object) -> object:
    if isinstance(v, str):
        return [v]
    return v


StrList = Annotated[list[str], BeforeValidator(_strlist)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Hold(Strict):
    """How long a condition must hold: ``seconds`` of event time or ``readings`` in a row."""

    seconds: float = 0.0
    readings: int = 0


HoldSpec = Annotated[Hold, BeforeValidator(_hold)]


class Match(Strict):
    """Which readings a pack (or a rule) applies to; each list holds glob patterns and an
    empty list means "any". ``labels`` match string attributes (``attrs``) by glob."""

    kind: StrList = Field(default_factory=list)
    not_kind: StrList = Field(default_factory=list)
    commune: StrList = Field(default_factory=list)
    site: StrList = Field(default_factory=list)
    sensor: StrList = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class Schedule(Strict):
    """A named schedule: ``opening_hours`` text from a reading attribute (``attr``),
    falling back to ``default`` (also ``opening_hours`` text) when the attribute is absent."""

    attr: str | None = None
    default: str | None = None
    coords_attr: str = "coords"


def _schedule(v: object) -> object:
    if isinstance(v, str):
        return {"default": v}
    return v


ScheduleSpec = Annotated[Schedule, BeforeValidator(_schedule)]


class DetectorSpec(Strict):
    """A detector from :mod:`models`, by registered name, with its parameters."""

    name: str
    #: scalars, or nested detector specs (``members: [{name: robust_z}, ...]``)
    params: dict[str, JsonValue] = Field(default_factory=dict)


class Escalation(Strict):
    """Raise the severity once the alert has been active for ``after``."""

    after: Duration
    severity: Severity


class ImpactSpec(Strict):
    """Estimated cost while the condition holds. ``kw`` (energy) and ``m3_per_h``
    (water) are numbers or expressions (e.g. ``attrs.nominal_power_kw``, ``value``)."""

    kw: str | float | None = None
    m3_per_h: str | float | None = None
    eur_per_kwh: float = 0.25
    kg_co2e_per_kwh: float = 0.052
    eur_per_m3: float = 4.5
    kg_co2e_per_m3: float = 0.3


class NoData(Strict):
    """Raise when a sensor is silent for ``factor`` x its period (attribute
    ``period_attr`` in seconds, else learnt from its readings, else ``default_period``),
    and never sooner than ``min``."""

    factor: float = Field(3.0, gt=0)
    period_attr: str = "period_s"
    default_period: Duration = 900.0
    min: Duration = 0.0


class Flap(Strict):
    """Flapping suppression: after ``max_starts`` alerts within ``window``, the alert is
    held firing until the condition has stayed clear for a whole ``window``."""

    max_starts: int = Field(3, ge=1)
    window: Duration = 3600.0


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class Rule(Strict):
    """One rule. Exactly one of ``when`` (an expression) or ``no_data`` is given."""

    name: str
    description: str = ""
    kind: StrList = Field(default_factory=list)
    match: Match | None = None
    detector: DetectorSpec | None = None
    when: str | None = None
    no_data: NoData | None = None
    clear: str | None = None
    for_: HoldSpec | None = Field(None, alias="for")
    keep_firing_for: HoldSpec | None = None
    severity: Severity = "warning"
    escalate: list[Escalation] = Field(default_factory=list)
    vars: dict[str, str] = Field(default_factory=dict)
    expected: str | float | None = None
    summary: str = ""
    summary_resolved: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    impact: ImpactSpec | None = None
    flap: Flap | None = Field(default_factory=Flap)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"rule name {v!r} must be a word (letters, digits, _)")
        return v

    @field_validator("escalate")
    @classmethod
    def _esc(cls, v: list[Escalation]) -> list[Escalation]:
        return sorted(v, key=lambda e: e.after)

    @model_validator(mode="after")
    def _one(self) -> Rule:
        if (self.when is None) == (self.no_data is None):
            raise ValueError("a rule needs exactly one of 'when' or 'no_data'")
        return self


class Pack(Strict):
    """A rule pack: one use case in one YAML file."""

    name: str
    description: str = ""
    match: Match = Field(default_factory=Match)
    schedules: dict[str, ScheduleSpec] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9_-]*$", v):
            raise ValueError(f"pack name {v!r} must be lower-case letters, digits, _ or -")
        return v
