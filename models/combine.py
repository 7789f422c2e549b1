"""Combine detectors on a 0-1 scale: any (max) or all (min) of them, weighted, with a
refractory period so one event gives one detection (as NAB rewards, and as the alert
lifecycle does)."""

from __future__ import annotations

from typing import ClassVar

from models.base import BIG, Detector, ParamError, check, choice
from models.novelty import ContextNovelty  # noqa: F401  (used by the doctest)


class Combine(Detector):
    """Weighted members combined by max (any) or min (all), with a refractory period.

    Each member is updated on every reading; the combined score is
    ``max(weight_i * score_i)`` (``how="max"``: alert when any member is sure) or
    ``min(...)`` (``how="min"``: only when all agree), reported as 0 for ``rest``
    readings after a reported score of ``base`` or more (one detection per event, as NAB
    rewards and as the alert lifecycle does). Members should be on a 0-1 scale
    (calibrated, or novelty).

    Parameters
    ----------
    members
        The detectors combined (owned and updated by this one).
    weights
        One weight per member (default all 1).
    how
        ``"max"`` or ``"min"``.
    rest
        Readings during which the output stays 0 after a reported score of ``base``.
    base
        Reported score that starts a refractory period.
    min_samples
        Warm-up: the score is 0 until this many values have been learnt.
    guard
        Do not let members learn values whose combined score is at or above this.

    Examples
    --------
    >>> d = Combine([ContextNovelty(rest=0)], rest=5)
    >>> s = [d.update(v) for v in [1.0, 2.0] * 100 + [9.0, 1.0, 2.0]]
    >>> s[200], s[201:]
    (1.0, [0.0, 0.0])
    """

    __slots__ = ("members", "weights", "how", "rest", "base", "min_samples", "_since", "_n")
    name: ClassVar[str] = "combine"

    def __init__(
        self,
        members: list[Detector] | tuple[Detector, ...],
        weights: list[float] | tuple[float, ...] | None = None,
        how: str = "max",
        rest: int = 30,
        base: float = 0.75,
        min_samples: int = 10,
        guard: float | None = None,
    ) -> None:
        super().__init__(guard)
        if not members or not all(isinstance(m, Detector) for m in members):
            raise ParamError(f"members={members!r} must be a non-empty list of Detectors")
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members):
            raise ParamError(f"weights={weights!r} must have one weight per member")
        for w in weights:
            check("weights[i]", w, lo=0.0)
        choice("how", how, ("max", "min"))
        check("rest", rest, lo=0)
        check("base", base, lo=0.0)
        check("min_samples", min_samples, lo=1)
        self.members = list(members)
        self.weights = weights
        self.how = how
        self.rest = int(rest)
        self.base = float(base)
        self.min_samples = int(min_samples)
        self._since = 0
        self._n = 0

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def _out(self, r: float) -> float:
        return r if self._n >= self.min_samples and self._since >= self.rest else 0.0

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if not -BIG < x < BIG:
            return 0.0
        agg = max if self.how == "max" else min
        return self._out(
            agg(w * m.score_one(x, ts) for m, w in zip(self.members, self.weights, strict=True))
        )

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        if not -BIG < x < BIG:
            return
        s = self.score_one(x, ts)
        for m in self.members:
            m.update(x, ts)
        self._since = 0 if s >= self.base else self._since + 1
        self._n += 1

    def update(self, x: float, ts: float = 0.0) -> float:
        """Update every member once and combine their scores."""
        if not -BIG < x < BIG:
            return 0.0
        if self.guard is not None:
            return super().update(x, ts)
        agg = max if self.how == "max" else min
        # A list, not a generator: every member must learn even if min/max could stop.
        r = agg([w * m.update(x, ts) for m, w in zip(self.members, self.weights, strict=True)])
        s = self._out(r)
        self._since = 0 if s >= self.base else self._since + 1
        self._n += 1
        return s
