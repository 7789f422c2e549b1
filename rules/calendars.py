"""Calendars for rules: local time, opening hours, public and school holidays.

Schedules are OpenStreetMap ``opening_hours`` texts evaluated by ``opening-hours-py`` in
Europe/Paris local time (DST included) with French public holidays (``PH``) and, for
``sunrise``/``sunset``, the site's coordinates. Evaluating a schedule costs ~2 us, so the
calendar caches, per (text, coordinates), the interval of constant state around the last
instant asked: later readings inside it cost one dict lookup and two comparisons.

Public holidays for the ``holiday`` variable come from the ``holidays`` package with the
Moselle subdivision (``57``: Good Friday and 26 December are holidays in Metz); school
holidays are data (``rules/packs/calendars/school_holidays_zone_b.yaml``, zone B).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import yaml
from opening_hours import OpeningHours, State

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")
#: Metz, the default place for sunrise/sunset when a reading carries no coordinates.
METZ = (49.1193, 6.1757)
SCHOOL_HOLIDAYS = Path(__file__).parent / "packs" / "calendars" / "school_holidays_zone_b.yaml"


def parse(text: str) -> OpeningHours:
    """Parse ``opening_hours`` text (raises ``opening_hours.ParserError`` / ``SyntaxError``)."""
    return OpeningHours(text, timezone=PARIS, country="FR", coords=METZ,
                        auto_country=False, auto_timezone=False)


def school_periods(path: Path = SCHOOL_HOLIDAYS) -> list[tuple[date, date, str]]:
    """School holiday periods ``(first day, last day, name)`` from the YAML data file."""
    data = yaml.safe_load(path.read_text()) or {}
    out = []
    for p in data.get("periods", []):
        out.append((date.fromisoformat(str(p["from"])), date.fromisoformat(str(p["to"])),
                    str(p.get("name", ""))))
    return sorted(out)


class Calendar:
    """Local-time facts about an instant (epoch seconds), cached for the hot path."""

    def __init__(self, tz: ZoneInfo = PARIS, subdiv: str = "57",
                 school: list[tuple[date, date, str]] | None = None,
                 coords: tuple[float, float] = METZ) -> None:
        self.tz = tz
        self.coords = coords
        self._ph = holidays.country_holidays("FR", subdiv=subdiv)
        self._school = school_periods() if school is None else school
        self._oh: dict[tuple, OpeningHours | None] = {}
        self._iv: dict[tuple, list] = {}
        self._off = [math.inf, -math.inf, 0.0]  # [lo, hi, utc offset s]
        self._days: dict[int, tuple[bool, bool]] = {}
        self._fts = math.nan
        self._fv = (0.0, 0.0, 0.0)

    # -- local time ---------------------------------------------------------------
    def offset(self, ts: float) -> float:
        """UTC offset (s) of local time at ``ts``; cached per hour of constant offset."""
        o = self._off
        if o[0] <= ts < o[1]:
            return o[2]
        lo = ts - ts % 3600.0
        off = datetime.fromtimestamp(lo, self.tz).utcoffset().total_seconds()  # type: ignore[union-attr]
        o[0], o[1], o[2] = lo, lo + 3600.0, off
        return off

    def local(self, ts: float) -> datetime:
        """The local (Europe/Paris) datetime of ``ts``."""
        return datetime.fromtimestamp(ts, self.tz)

    def fields(self, ts: float) -> tuple[float, float, float]:
        """Local (hour, minute, ISO weekday 1=Monday) of ``ts`` (the last one is cached)."""
        if ts == self._fts:
            return self._fv
        t = ts + self.offset(ts)
        day = t // 86400.0
        sec = t - day * 86400.0
        v = (float(int(sec // 3600)), float(int(sec % 3600 // 60)),
             float((int(day) + 3) % 7 + 1))
        self._fts, self._fv = ts, v
        return v

    def _day(self, ts: float) -> tuple[bool, bool]:
        t = ts + self.offset(ts)
        n = int(t // 86400.0)
        v = self._days.get(n)
        if v is None:
            d = date(1970, 1, 1) + timedelta(days=n)
            v = (d in self._ph, any(a <= d <= b for a, b, _ in self._school))
            if len(self._days) > 4096:
                self._days.clear()
            self._days[n] = v
        return v

    def holiday(self, ts: float) -> bool:
        """Whether the local date of ``ts`` is a public holiday (Moselle calendar)."""
        return self._day(ts)[0]

    def school_holiday(self, ts: float) -> bool:
        """Whether the local date of ``ts`` is in a school holiday period (zone B)."""
        return self._day(ts)[1]

    # -- opening_hours schedules -------------------------------------------------------
    def compiled(self, text: str, coords: tuple[float, float] | None = None) -> OpeningHours | None:
        """The parsed schedule, or None when ``text`` does not parse (cached either way)."""
        key = (text, coords)
        if key in self._oh:
            return self._oh[key]
        try:
            oh = OpeningHours(text, timezone=self.tz, country="FR", coords=coords or self.coords,
                              auto_country=False, auto_timezone=False)
        except Exception:  # noqa: BLE001 - bad text from a registry: unknown, not a crash
            oh = None
        if len(self._oh) > 65536:
            self._oh.clear()
            self._iv.clear()
        self._oh[key] = oh
        return oh

    def is_open(self, text: str, ts: float,
                coords: tuple[float, float] | None = None) -> bool | None:
        """Whether schedule ``text`` is open at ``ts``; None if the text does not parse."""
        key = (text, coords)
        iv = self._iv.get(key)
        if iv is not None and iv[0] <= ts < iv[1]:
            return iv[2]
        oh = self.compiled(text, coords)
        if oh is None:
            return None
        start, end, state, _ = next(oh.intervals(datetime.fromtimestamp(ts, UTC)))
        hi = math.inf if end is None else end.timestamp()
        iv = [ts, hi, state == State.OPEN]
        self._iv[key] = iv
        return iv[2]
