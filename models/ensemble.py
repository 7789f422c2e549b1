"""Ensemble: several detectors' calibrated likelihoods combined into one 0-1 score.

Each member is wrapped in :class:`models.calibrate.Likelihood` (unless it already is one,
or ``calibrate=False``), so every member speaks the same 0-1 language, and the ensemble
score is their ``max`` (alert when any detector is sure: most sensitive) or ``mean``
(alert when they agree: fewest false positives). Members see every reading; the
ensemble's own ``guard`` holds back learning in all members at once. ``update`` with
``how="min"`` (the anomaly pack's ``UnusualLevel``) scores each member once and then lets
each learn, without going through the generic ``score_one`` / ``learn_one`` path.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from models.base import BIG, Detector, ParamError, choice
from models.calibrate import Likelihood


class Ensemble(Detector):
    """Combine the (calibrated) scores of several detectors.

    Parameters
    ----------
    members
        The detectors to combine (owned and updated by the ensemble).
    how
        ``"max"`` (any member finds it odd), ``"mean"``, or ``"min"`` (every member must
        agree: e.g. a robust z-score *and* a seasonal profile, so a daily ramp that is
        normal for this hour does not alert); members still warming up are left out
        of ``"min"``, so a new sensor is watched by the members that are ready.
    calibrate
        Wrap each member that is not already a :class:`Likelihood` in one.
    guard
        Do not let any member learn values whose combined score is at or above this.
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> import random
    >>> from models.robust_z import RobustZ
    >>> from models.ewma import EWMA
    >>> rng = random.Random(0)
    >>> d = Ensemble([RobustZ(), EWMA()], how="max")
    >>> _ = [d.update(rng.gauss(0.0, 1.0)) for _ in range(1000)]
    >>> d.score_one(0.1) < 0.5 < 0.7 < d.score_one(9.0)
    True
    """

    __slots__ = ("members", "how", "calibrate")
    name: ClassVar[str] = "ensemble"

    def __init__(
        self,
        members: list[Detector] | tuple[Detector, ...],
        how: str = "max",
        calibrate: bool = True,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        choice("how", how, ("max", "mean", "min"))
        if not members or not all(isinstance(m, Detector) for m in members):
            raise ParamError(f"members={members!r} must be a non-empty list of Detectors")
        if calibrate:
            members = [m if isinstance(m, Likelihood) else Likelihood(m) for m in members]
        self.members = tuple(members)  # (a tuple: 64 bytes less than a list per sensor)
        self.how = how
        self.calibrate = bool(calibrate)

    @property
    def ready(self) -> bool:
        return any(m.ready for m in self.members)

    def expected(self, ts: float = 0.0) -> float | None:
        for m in self.members:
            e = m.expected(ts)
            if e is not None:
                return e
        return None

    def _combine(self, scores: list[float]) -> float:
        if self.how == "max":
            return max(scores)
        if self.how == "min":
            return min(scores)
        return sum(scores) / len(scores)

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self.how == "min":  # members still warming up have no say yet
            return min((m.score_one(x, ts) for m in self.members if m.ready), default=0.0)
        return self._combine([m.score_one(x, ts) for m in self.members])

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        for m in self.members:
            m.learn_one(x, ts)

    def update(self, x: float, ts: float = 0.0) -> float:
        if not -BIG < x < BIG:
            return 0.0
        if self.how == "min":  # score_one and learn_one, fused (the anomaly pack's case)
            s = None
            for m in self.members:
                if m.ready:
                    v = m.score_one(x, ts)
                    if s is None or v < s:  # min(): the first of equal values
                        s = v
            if s is None:
                s = 0.0
            if self.guard is None or self.admit(s):
                for m in self.members:
                    m.learn_one(x, ts)
            return s
        if self.guard is not None:
            return super().update(x, ts)
        return self._combine([m.update(x, ts) for m in self.members])

    def update_many(self, xs: np.ndarray, ts: np.ndarray | None = None) -> np.ndarray:
        if self.guard is not None or self.how == "min":
            return super().update_many(xs, ts)
        xs = np.asarray(xs, dtype=float)
        if not len(xs):
            return np.zeros(0)
        s = np.vstack([m.update_many(xs, ts) for m in self.members])
        if self.how == "max":
            return s.max(axis=0)
        return s.min(axis=0) if self.how == "min" else s.mean(axis=0)
