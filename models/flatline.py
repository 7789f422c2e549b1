"""Flatline / stuck value: how long the series has repeated the same value.

A frozen sensor or a stuck meter keeps sending its last value. The score is the length of
the current run of equal values (within ``tol`` or ``rel_tol`` of the run's first value),
counting the value being scored, divided by ``run``: 1.0 means "stuck for ``run``
readings", so a threshold of 1 reads naturally. O(1), 3 numbers.
"""

from __future__ import annotations

from typing import ClassVar

from models.base import BIG, Detector, check


class Flatline(Detector):
    """Length of the current run of (nearly) equal values, in units of ``run``.

    Parameters
    ----------
    run
        Run length (in readings) that scores 1.0.
    tol
        Absolute tolerance: values within it of the run's first value continue the run.
    rel_tol
        Tolerance relative to ``|first value of the run|``.
    min_samples
        Warm-up: the score is 0 until this many values have been learnt.
    guard
        Do not learn values scoring at or above this (rarely wanted here).
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> d = Flatline(run=5, min_samples=5)
    >>> [round(d.update(v), 1) for v in [1, 2, 3, 4, 5, 7, 7, 7, 7, 7, 7, 8]]
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 0.2]
    """

    __slots__ = ("run", "tol", "rel_tol", "min_samples", "_n", "_first", "_len")
    name: ClassVar[str] = "flatline"

    def __init__(
        self,
        run: int = 12,
        tol: float = 0.0,
        rel_tol: float = 0.0,
        min_samples: int = 12,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("run", run, lo=1, integer=True)
        check("tol", tol, lo=0.0)
        check("rel_tol", rel_tol, lo=0.0)
        check("min_samples", min_samples, lo=1, integer=True)
        self.run = int(run)
        self.tol = float(tol)
        self.rel_tol = float(rel_tol)
        self.min_samples = int(min_samples)
        self._n = 0
        self._first = 0.0
        self._len = 0

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def expected(self, ts: float = 0.0) -> float | None:
        return None

    def _same(self, x: float) -> bool:
        return self._len > 0 and abs(x - self._first) <= max(
            self.tol, self.rel_tol * abs(self._first)
        )

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if self._n < self.min_samples:
            return 0.0
        return (self._len + 1 if self._same(x) else 1) / self.run

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        self._n += 1
        if self._same(x):
            self._len += 1
        else:
            self._first, self._len = x, 1

    def update(self, x: float, ts: float = 0.0) -> float:
        """``score_one`` then ``learn_one`` (with the guard), in one call."""
        if not -BIG < x < BIG:
            return 0.0
        n = self._len
        if n:  # as _same: |x - first| <= max(tol, rel_tol * |first|), max spelt out
            f = self._first
            d = abs(x - f)
            same = d <= self.tol or d <= self.rel_tol * abs(f)
        else:
            same = False
        seen = self._n
        s = 0.0 if seen < self.min_samples else (n + 1 if same else 1) / self.run
        if self.guard is None or self.admit(s):
            self._n = seen + 1
            if same:
                self._len = n + 1
            else:
                self._first = x
                self._len = 1
        return s
