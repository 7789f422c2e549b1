"""Seasonal robust z-score: a robust rolling z-score of what the daily profile does not
explain.

A school's electricity jumps every morning; a road's noise every rush hour. Scored raw,
those ramps look like anomalies to a rolling z-score; scored against an hour-of-day
profile alone, a spike shortly after a ramp hides in the slot's variance. Here each
value is first compared with its hour's usual level (:class:`models.seasonal.Seasonal`,
local time, holidays as Sundays), and the *residual* is scored by a robust rolling
z-score (:class:`models.robust_z.RobustZ`) over the last ``window`` residuals. Both parts
are O(1) / O(log W) per value with bounded memory (24 or 168 slots + the window).
"""

from __future__ import annotations

from typing import ClassVar

from models.base import Detector, check
from models.robust_z import RobustZ
from models.seasonal import Seasonal


class SeasonalZ(Detector):
    """Robust z-score of ``x - profile(hour)``.

    Parameters
    ----------
    period
        ``"day"`` (24 hour slots) or ``"week"`` (168, falling back to the day profile).
    alpha
        Adaptation rate of each slot's level.
    window
        Residuals the robust z-score is taken over.
    min_samples
        Warm-up: residuals needed before scoring (a slot scores once it has seen 2 values).
    tz, country, subdiv
        Local time zone and public-holiday calendar of the profile.
    min_scale, rel_scale
        Floors of the residual scale: absolute, and relative to the hour's usual level.
    guard, patience
        See :class:`models.base.Detector`.

    Examples
    --------
    >>> d = SeasonalZ(min_samples=24)
    >>> t0 = 1_800_000_000 - 1_800_000_000 % 86400
    >>> for i in range(4 * 288):                       # 4 days, 5-minute steps
    ...     ts = t0 + i * 300
    ...     h = (ts % 86400) / 3600
    ...     _ = d.update((30.0 if 8 <= h < 17 else 4.0) + (i % 3) * 0.1, ts)
    >>> morning = t0 + 4 * 86400 + 8 * 3600             # the ramp: normal for 08:00
    >>> d.score_one(30.1, morning) < 3, d.score_one(55.0, morning + 4 * 3600) > 10
    (True, True)
    """

    __slots__ = ("profile", "z", "rel_scale")
    name: ClassVar[str] = "seasonal_z"

    def __init__(
        self,
        period: str = "day",
        alpha: float = 0.1,
        window: int = 96,
        min_samples: int = 24,
        tz: str = "Europe/Paris",
        country: str | None = "FR",
        subdiv: str | None = None,
        min_scale: float = 1e-6,
        rel_scale: float = 0.005,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("rel_scale", rel_scale, lo=0.0)
        self.profile = Seasonal(period=period, alpha=alpha, min_per_slot=2, min_samples=1,
                                tz=tz, country=country, subdiv=subdiv)
        self.z = RobustZ(window=window, min_samples=min_samples, min_scale=min_scale,
                         rel_scale=0.0)
        self.rel_scale = float(rel_scale)

    @property
    def ready(self) -> bool:
        return self.z.ready

    def expected(self, ts: float = 0.0) -> float | None:
        e = self.profile.expected(ts)
        if e is None or not self.z.ready:
            return e
        return e + self.z.centre_scale()[0]

    def score_one(self, x: float, ts: float = 0.0) -> float:
        e = self.profile.expected(ts)
        if e is None or not self.z.ready:
            return 0.0
        med, scale = self.z.centre_scale()
        return abs(x - e - med) / max(scale, self.rel_scale * abs(e))

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        e = self.profile.expected(ts)
        if e is not None:
            self.z.learn_one(x - e, ts)
        self.profile.learn_one(x, ts)
