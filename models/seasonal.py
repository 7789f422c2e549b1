"""Seasonal baseline: a per-slot profile (hour of day or hour of week, local time).

Consumption follows the calendar: 3 kW at 3 am is odd in an office, 3 kW at 3 pm is not.
Each slot keeps an exponentially weighted mean and variance of the values seen in it; a
value is scored against its own slot: ``|x - mean_slot| / sd_slot``. With
``period="week"`` a slot of the week profile that has not yet seen ``min_per_slot``
values falls back to the hour-of-day profile, so a new sensor is useful after one day.
Public holidays (French by default, via the ``holidays`` package; ``subdiv="57"`` adds
Moselle's Good Friday and St Stephen's Day) count as Sundays in the week profile.
Slots are in local time (Europe/Paris by default, DST included); the UTC-hour -> slot map
is cached, so an update costs O(1) and no datetime arithmetic. Memory: 24 + 168 slots.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from typing import ClassVar
from zoneinfo import ZoneInfo

import holidays

from models.base import Detector, ParamError, check, choice
from models.ew import ew_step


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
        "_n", "_dn", "_dm", "_dv", "_wn", "_wm", "_wv",
    )  # fmt: skip
    name: ClassVar[str] = "seasonal"

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
        self._n = 0
        self._dn, self._dm, self._dv = [0] * 24, [0.0] * 24, [0.0] * 24
        w = 168 if period == "week" else 0
        self._wn, self._wm, self._wv = [0] * w, [0.0] * w, [0.0] * w

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def _baseline(self, ts: float) -> tuple[float, float] | None:
        """(mean, sd) of the slot ``ts`` falls in, or None if that slot is not ready."""
        h, w = slot_of_hour(int(ts // 3600), self.tz, self.country, self.subdiv)
        if self._wn and self._wn[w] >= self.min_per_slot:
            m, v = self._wm[w], self._wv[w]
        elif self._dn[h] >= self.min_per_slot:
            m, v = self._dm[h], self._dv[h]
        else:
            return None
        return m, max(math.sqrt(v), self.min_scale, self.rel_scale * abs(m))

    def expected(self, ts: float = 0.0) -> float | None:
        b = self._baseline(ts)
        return None if b is None else b[0]

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        b = self._baseline(ts)
        return 0.0 if b is None else abs(x - b[0]) / b[1]

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        self._n += 1
        h, w = slot_of_hour(int(ts // 3600), self.tz, self.country, self.subdiv)
        profiles = [(self._dn, self._dm, self._dv, h)]
        if self._wn:
            profiles.append((self._wn, self._wm, self._wv, w))
        for cnt, mean, var, i in profiles:
            n = cnt[i] = cnt[i] + 1
            mean[i], var[i] = ew_step(mean[i], var[i], x, n, self.alpha)
