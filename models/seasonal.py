"""Seasonal baseline: a per-slot profile (hour of day or hour of week, local time).

Consumption follows the calendar: 3 kW at 3 am is odd in an office, 3 kW at 3 pm is not.
Each slot keeps an exponentially weighted mean and variance of the values seen in it; a
value is scored against its own slot: ``|x - mean_slot| / sd_slot``. With
``period="week"`` a slot of the week profile that has not yet seen ``min_per_slot``
values falls back to the hour-of-day profile, so a new sensor is useful after one day.
Public holidays (French by default, via the ``holidays`` package; ``subdiv="57"`` adds
Moselle's Good Friday and St Stephen's Day) count as Sundays in the week profile.
Slots are in local time (Europe/Paris by default, DST included); the UTC-hour -> slot map
is kept in one dict per (time zone, calendar) shared by every detector, so an update
costs a dict lookup and no datetime arithmetic. Memory: 24 (+ 168) slots, each a mean and
a variance in an ``array('d')`` and a count in an array of small unsigned integers (a
count stops at the first value where it no longer changes anything: ``1 / alpha`` and
``min_per_slot``; once every count is there, the counts are dropped: they can no longer
change). The week profile's slots are allocated a day of the week at a time,
when that day first has a value (a new sensor holds only the days it has seen): about
0.6 KB pickled with a day profile, 1.2 KB for a week profile after one day, 3.5 KB once
it has seen every day of the week. The compiled build (``setup.py``) reads and updates
the slots on the arrays' C buffers (``_z``, ``_ew``; the same arithmetic, checked
against the Python build by ``tests/models/test_compiled.py``).
"""

from __future__ import annotations

import math
from array import array
from datetime import datetime
from functools import lru_cache
from typing import ClassVar
from zoneinfo import ZoneInfo

import holidays

from models.base import Detector, ParamError, check, choice

try:
    import cython
except ImportError:  # plain Python
    from models import nocython as cython

if cython.compiled:  # C access to the profile's arrays (setup.py; never run as Python)
    from cython.cimports.cpython.array import array as carray
    from cython.cimports.libc.math import sqrt as c_sqrt


@lru_cache(maxsize=16)
def calendar(country: str, subdiv: str | None = None) -> holidays.HolidayBase:
    """The public holidays of ``country`` (and subdivision), years filled in lazily."""
    return holidays.country_holidays(country, subdiv=subdiv)


@lru_cache(maxsize=8192)
def slot_of_hour(
    utc_hour: int, tz: str, country: str | None = None, subdiv: str | None = None
) -> tuple[int, int]:
    """(hour of day, hour of week with Monday 00h = 0) in ``tz`` of an epoch hour index.

    Offsets in Europe change only on whole UTC hours, so one lookup per UTC hour is exact.
    With ``country``, a public holiday is slotted as a Sunday.

    Examples
    --------
    >>> slot_of_hour(1_800_000_000 // 3600, "Europe/Paris")  # 2027-01-15 08:00 UTC, a Friday
    (9, 105)
    >>> slot_of_hour(1_815_552_000 // 3600, "Europe/Paris", "FR")  # 2027-07-14 10:00, a Wed
    (10, 154)
    """
    t = datetime.fromtimestamp(utc_hour * 3600, ZoneInfo(tz))
    day = 6 if country and t.date() in calendar(country, subdiv) else t.weekday()
    return t.hour, day * 24 + t.hour


#: (tz, country, subdiv) -> {epoch hour (``ts // 3600``): (hour of day, day of week)}
_SLOTS: dict[tuple[str, str | None, str | None], dict[float, tuple[int, int]]] = {}
_MAX_HOURS = 50_000  # a map holding more (5.7 years of hours) is emptied and refilled


def slot_map(tz: str, country: str | None, subdiv: str | None) -> dict[float, tuple[int, int]]:
    """The shared epoch-hour -> (hour of day, day of week) map of one time zone and calendar
    (a public holiday is a Sunday, 6)."""
    return _SLOTS.setdefault((tz, country, subdiv), {})


def _count_type(cap: int) -> str:
    """The smallest unsigned array type code holding ``cap``."""
    for code in "BHILQ":
        if cap < 1 << (8 * array(code).itemsize):
            return code
    return "Q"  # pragma: no cover - cap is clamped to 2**64 - 1


@lru_cache(maxsize=256)
def count_cap(alpha: float, min_per_slot: int) -> int:
    """The count after which a slot's count changes nothing: ``max(alpha, 1 / n) == alpha``
    and ``n >= min_per_slot`` hold for every larger ``n``.

    >>> count_cap(0.1, 3), count_cap(0.1, 30), count_cap(0.3, 2)
    (10, 30, 4)
    """
    n = max(1, math.ceil(1.0 / alpha))
    while 1.0 / n > alpha:
        n += 1
    while n > 1 and 1.0 / (n - 1) <= alpha:
        n -= 1
    return min(max(n, min_per_slot), (1 << 64) - 1)


class Seasonal(Detector):
    """Robust-ish z-score against an hour-of-day / hour-of-week profile in local time.

    Parameters
    ----------
    period
        ``"day"`` (24 slots) or ``"week"`` (168 slots, falling back to the day profile).
    alpha
        Adaptation rate of each slot's mean and variance (per value seen in that slot).
    min_per_slot
        A slot scores only after it has seen this many values (else 0).
    min_samples
        Warm-up: the score is 0 until this many values have been learnt in total.
    tz
        IANA time zone the profile is kept in.
    country
        ISO code of the country whose public holidays count as Sundays (None: no holidays).
    subdiv
        Subdivision of ``country`` with its own holidays (e.g. ``"57"``, Moselle).
    min_scale
        Floor on a slot's standard deviation, absolute.
    rel_scale
        Floor on a slot's standard deviation relative to ``|slot mean|``.
    guard
        Do not learn values scoring at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> d = Seasonal(period="day", min_per_slot=3)
    >>> t0 = 1_800_000_000 - 1_800_000_000 % 86400  # midnight UTC
    >>> for day in range(7):
    ...     for h in range(24):
    ...         _ = d.update(10.0 if 8 <= h < 18 else 1.0, t0 + day * 86400 + h * 3600)
    >>> night = t0 + 7 * 86400 + 2 * 3600
    >>> d.expected(night), d.score_one(10.0, night) > 10, d.score_one(1.0, night) < 1
    (1.0, True, True)
    """

    __slots__ = (
        "period", "alpha", "min_per_slot", "min_samples", "tz", "country", "subdiv",
        "min_scale", "rel_scale",
        "_n", "_cnt", "_mv", "_days", "_slots", "_cap",
    )  # fmt: skip
    name: ClassVar[str] = "seasonal"
    #: Own state layout (week slots allocated a day at a time): one above the base's.
    version: ClassVar[int] = Detector.version + 1
    _transient: ClassVar[tuple[str, ...]] = ("_slots", "_cap")
    _arrays: ClassVar[tuple[str, ...]] = ("_cnt", "_mv")

    def __init__(
        self,
        period: str = "week",
        alpha: float = 0.1,
        min_per_slot: int = 3,
        min_samples: int = 72,
        tz: str = "Europe/Paris",
        country: str | None = "FR",
        subdiv: str | None = None,
        min_scale: float = 1e-6,
        rel_scale: float = 0.01,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        choice("period", period, ("day", "week"))
        check("alpha", alpha, lo=1e-9, hi=0.999)
        check("min_per_slot", min_per_slot, lo=2, integer=True)
        check("min_samples", min_samples, lo=1, integer=True)
        check("min_scale", min_scale, lo=0.0)
        check("rel_scale", rel_scale, lo=0.0)
        try:
            ZoneInfo(tz)
        except Exception as e:  # ZoneInfoNotFoundError, ValueError, TypeError
            raise ParamError(f"tz={tz!r} is not a known time zone") from e
        if country is None and subdiv is not None:
            raise ParamError(f"subdiv={subdiv!r} needs a country")
        if country is not None:
            try:
                calendar(country, subdiv)
            except Exception as e:  # NotImplementedError for an unknown country/subdivision
                raise ParamError(f"country={country!r}, subdiv={subdiv!r}: {e}") from e
        self.period = period
        self.alpha = float(alpha)
        self.min_per_slot = int(min_per_slot)
        self.min_samples = int(min_samples)
        self.tz = tz
        self.country = country
        self.subdiv = subdiv
        self.min_scale = float(min_scale)
        self.rel_scale = float(rel_scale)
        self._n = 0  # values learnt, up to min_samples
        self._restore()
        # slot i < 24: hour of day i; slot 24 b + h: hour h of the day of the week whose
        # block is b (1-7, in the order the days were first seen; see _grow)
        #: counts, None once every one is at its cap (they never change again)
        self._cnt: array | None = array(_count_type(self._cap), [0]) * 24
        self._mv = array("d", [0.0]) * 48  # slot i: mean at 2 i, variance at 2 i + 1
        #: week profile: the block of each day of the week (Monday first), 0 while that
        #: day has no value yet; b"" for a day profile
        self._days = bytes(7) if period == "week" else b""

    def _restore(self) -> None:
        self._slots = slot_map(self.tz, self.country, self.subdiv)
        self._cap = count_cap(self.alpha, self.min_per_slot)

    def _slot_miss(self, hour: float) -> tuple[int, int]:
        h, w = slot_of_hour(int(hour), self.tz, self.country, self.subdiv)
        m = self._slots
        if len(m) >= _MAX_HOURS:
            m.clear()
        hd = m[hour] = (h, w // 24)
        return hd

    def _grow(self, day: int) -> int:
        """Allocate the 24 slots of ``day`` of the week (its first value); return its block."""
        cnt, mv = self._cnt, self._mv
        b = len(mv) // 48
        if cnt is None:  # every count was at its cap
            cnt = array(_count_type(self._cap), [self._cap]) * (24 * b)
        self._cnt = cnt + array(cnt.typecode, [0]) * 24  # (new arrays of the exact size)
        self._mv = mv + array("d", [0.0]) * 48
        days = self._days
        self._days = days[:day] + bytes((b,)) + days[day + 1 :]
        return b

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def _index(self, ts: float) -> int:
        """Index in ``_mv`` of the mean of the slot ``ts`` is scored against (the week
        slot if it has seen enough values, else the day slot), or -1 if neither has."""
        hour = ts // 3600
        h, d = self._slots.get(hour) or self._slot_miss(hour)
        cnt = self._cnt
        days = self._days
        if days:
            b = days[d]
            if b:
                w = 24 * b + h
                if cnt is None or cnt[w] >= self.min_per_slot:
                    return w + w
        if cnt is None or cnt[h] >= self.min_per_slot:  # (a cap is >= min_per_slot)
            return h + h
        return -1

    def _baseline(self, ts: float) -> tuple[float, float] | None:
        """(mean, sd) of the slot ``ts`` falls in, or None if that slot is not ready."""
        i = self._index(ts)
        if i < 0:
            return None
        m = self._mv[i]
        return m, max(math.sqrt(self._mv[i + 1]), self.min_scale, self.rel_scale * abs(m))

    def expected(self, ts: float = 0.0) -> float | None:
        b = self._baseline(ts)
        return None if b is None else b[0]

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        i = self._index(ts)
        if i < 0:
            return 0.0
        if cython.compiled and type(x) is float:
            return self._z(x, i)
        mv = self._mv
        m = mv[i]
        return abs(x - m) / max(math.sqrt(mv[i + 1]), self.min_scale, self.rel_scale * abs(m))

    def _z(self, x: float, i: int) -> float:
        """Compiled build only: ``score_one``'s last line, reading ``_mv``'s C buffer."""
        p = cython.cast(carray, self._mv).data.as_doubles
        m = p[i]
        return abs(x - m) / max(c_sqrt(p[i + 1]), self.min_scale, self.rel_scale * abs(m))

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        hour = ts // 3600
        h, d = self._slots.get(hour) or self._slot_miss(hour)
        n = self._n
        if n < self.min_samples:  # (counted up to the warm-up only: a small int)
            self._n = n + 1
        days = self._days
        if days:
            b = days[d] or self._grow(d)
            hw = (h, 24 * b + h)
        else:
            hw = (h,)
        for k in hw:
            self._learn_slot(x, k)

    def _learn_slot(self, x: float, k: int) -> None:
        """``learn_one``'s update of slot ``k``: :func:`models.ew.ew_step`, inlined; a count
        at its cap stays there (``a == alpha``). The compiled build updates the mean and
        variance on ``_mv``'s C buffer."""
        cnt = self._cnt
        alpha = self.alpha
        a = alpha
        if cnt is not None:
            cap = self._cap
            n = cnt[k]
            if n < cap:
                n += 1
                cnt[k] = n
                a = max(alpha, 1.0 / n)
                if n == cap and cnt.count(cap) == len(cnt):  # all at their cap
                    self._cnt = None
        if cython.compiled:
            _ew(cython.cast(carray, self._mv).data.as_doubles, k + k, x, a)
        else:
            _ew(self._mv, k + k, x, a)


def _ew(p, i: int, x: float, a: float) -> int:
    """Mean ``p[i]`` and variance ``p[i + 1]`` after ``x`` with weight ``a`` (an array, or
    its C buffer in the compiled build)."""
    m = p[i]
    d = x - m
    p[i] = m + a * d
    p[i + 1] = (1.0 - a) * (p[i + 1] + a * d * d)
    return 0
