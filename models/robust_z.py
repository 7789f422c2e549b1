"""Robust rolling z-score: distance from the rolling median in robust standard deviations.

The scale is the rolling inter-quartile range / 1.349 (a consistent estimate of sigma
for Gaussian data) so a single spike neither moves the centre nor inflates the scale.
When more than half the window sits on one value (a water meter at 0 most of the time,
a quantised sensor) the IQR is 0; the scale then falls back to the window's standard
deviation (running sums, O(1)), so ordinary use is not scored in millions of sigmas.
The window is a ring of ``array('d')`` (8 bytes a value) with a sorted copy kept by
``bisect`` (O(log W) comparisons plus a C-level memmove per update); the sorted copy is
not pickled but rebuilt at load, so the state is about 8 bytes per window value.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from typing import ClassVar

import numpy as np

from models.base import BIG, Detector, check


class RobustZ(Detector):
    """Absolute robust z-score of each value against the last ``window`` values.

    Parameters
    ----------
    window
        Number of past values the median and IQR are taken over.
    min_samples
        Warm-up: the score is 0 until this many values have been learnt.
    min_scale
        Floor on the scale, absolute, so a flat series does not divide by zero.
    rel_scale
        Floor on the scale relative to ``|median|`` (e.g. 0.01 = 1 %).
    guard
        Do not learn values scoring at or above this (see :class:`models.base.Detector`).
    patience
        With ``guard``: after this many held-back values in a row, learn anyway, so a
        lasting change becomes the new normal (None: never).

    Examples
    --------
    >>> d = RobustZ(window=50, min_samples=10)
    >>> for i in range(50):
    ...     _ = d.update(10.0 + (i % 5) * 0.1)
    >>> d.score_one(10.2) < 3
    True
    >>> d.score_one(30.0) > 10
    True
    """

    __slots__ = (
        "window", "min_samples", "min_scale", "rel_scale", "_buf", "_i", "_sorted",
        "_k", "_s", "_ss", "_t",
    )  # fmt: skip
    name: ClassVar[str] = "robust_z"
    _transient: ClassVar[tuple[str, ...]] = ("_sorted",)
    #: ``centre_scale`` is this class's own (``update`` inlines it); False in subclasses
    #: that redefine it (:class:`models.mad.MAD`).
    _plain: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "centre_scale" in cls.__dict__:
            cls._plain = False

    def __init__(
        self,
        window: int = 96,
        min_samples: int = 24,
        min_scale: float = 1e-6,
        rel_scale: float = 0.01,
        guard: float | None = None,
        patience: int | None = None,
    ) -> None:
        super().__init__(guard, patience)
        check("window", window, lo=4, integer=True)
        check("min_samples", min_samples, lo=2, hi=window, integer=True)
        check("min_scale", min_scale, lo=0.0)
        check("rel_scale", rel_scale, lo=0.0)
        self.window = int(window)
        self.min_samples = int(min_samples)
        self.min_scale = float(min_scale)
        self.rel_scale = float(rel_scale)
        self._buf = array("d")  # the window, a ring once full: the oldest at _i
        self._i = 0
        self._sorted = array("d")  # the window, sorted
        self._k = 0.0  # running sums of (x - k) over the window: the fallback scale
        self._s = 0.0
        self._ss = 0.0
        self._t = 0  # updates since the sums were last recomputed

    @property
    def ready(self) -> bool:
        return len(self._buf) >= self.min_samples

    def expected(self, ts: float = 0.0) -> float | None:
        return self.centre_scale()[0] if self._sorted else None

    def centre_scale(self) -> tuple[float, float]:
        """The current (median, robust sigma)."""
        s = self._sorted
        n = len(s)
        med = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
        iqr = s[(3 * n) // 4] - s[n // 4]
        spread = iqr / 1.349 if iqr > 0 else self.std()
        return med, max(spread, self.min_scale, self.rel_scale * abs(med))

    def std(self) -> float:
        """Standard deviation of the window (the scale when the robust one is 0)."""
        n = len(self._buf)
        if not n:
            return 0.0
        m = self._s / n
        return math.sqrt(max(self._ss / n - m * m, 0.0))

    def _restore(self) -> None:
        buf = self._buf
        if len(buf) < 32:
            self._sorted = array("d", sorted(buf))
        else:  # numpy sorts a full window twice as fast
            self._sorted = srt = array("d")
            srt.frombytes(np.sort(np.frombuffer(buf), kind="stable").tobytes())

    def score_one(self, x: float, ts: float = 0.0) -> float:
        srt = self._sorted
        n = len(srt)
        if n < self.min_samples:
            return 0.0
        if self._plain:  # centre_scale, inlined
            h = n // 2
            med = srt[h] if n % 2 else 0.5 * (srt[h - 1] + srt[h])
            iqr = srt[(3 * n) // 4] - srt[n // 4]
            spread = iqr / 1.349 if iqr > 0 else self.std()
            return abs(x - med) / max(spread, self.min_scale, self.rel_scale * abs(med))
        med, scale = self.centre_scale()
        return abs(x - med) / scale

    def update(self, x: float, ts: float = 0.0) -> float:
        """``score_one`` then ``learn_one`` (with the guard inlined)."""
        if not -BIG < x < BIG:
            return 0.0
        s = self.score_one(x)
        g = self.guard
        if g is None or s < g:
            if self._held:
                self._held = 0
        elif not self.admit(s):
            return s
        self.learn_one(x)
        return s

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        buf = self._buf
        if not buf:
            self._k = x
        w = self.window
        if len(buf) >= w:  # replace the oldest value
            i = self._i
            old = buf[i]
            buf[i] = x
            self._i = i + 1 if i + 1 < w else 0
            if old != x or not x:  # (an equal non-zero value leaves the sorted copy as is)
                srt = self._sorted
                del srt[bisect_left(srt, old)]
                srt.insert(bisect_right(srt, x), x)
            o = old - self._k
            self._s -= o
            self._ss -= o * o
        else:
            buf.append(x)
            srt = self._sorted
            srt.insert(bisect_right(srt, x), x)
        d = x - self._k
        self._s += d
        self._ss += d * d
        t = self._t = self._t + 1
        if t >= w:  # re-anchor and recompute: no rounding drift
            self._k = x
            dev = np.frombuffer(buf) - x  # exact sums of the rounded deviations
            self._s = math.fsum(dev.tolist())
            self._ss = math.fsum((dev * dev).tolist())
            self._t = 0
