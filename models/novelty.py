"""Context-novelty detector: how new is the recent shape of the series?

The value range seen so far is cut into ``bins`` levels; the last ``order`` levels form
contexts of length 1..``order``. A context never seen before is novel (score 1 for that
length), one seen ``c`` times scores ``1 / (1 + c) ** power``; the raw novelty is the mean
over lengths. ``grids`` quantisation grids, each shifted by a fraction of a level, are
kept and the minimum is taken, so a value jittering on a level boundary is not novel.

When a value leaves the known range the range grows (plus ``margin``) and the context
counts are re-derived from the last ``history`` values, so memory stays bounded: the
history ring, and at most one count per distinct context.

After a reported score of ``base`` or more the output is held at 0 for ``rest`` readings
(one alert per event, not one per reading), the refractory period NAB's reference
detectors use. Pure Python, O(order * grids) per reading plus a rare rebuild.

Designed on the NAB corpus (``benchmarks/nab.py``): about 70 standard on its own, and the
core of the best configuration there.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

import numpy as np

from models.base import Detector, check


class ContextNovelty(Detector):
    """Novelty of the recent quantised shape of a series, with a refractory period.

    Parameters
    ----------
    bins
        Levels the known value range is cut into.
    order
        Longest context (in readings) whose novelty is scored.
    power
        A context seen ``c`` times scores ``1 / (1 + c) ** power``.
    margin
        When the range grows, it grows by this fraction of its width beyond the value.
    tolerance
        A value beyond the known range by ``e`` scores ``min(1, e / (tolerance * width))``
        instead of 1: a new extreme just past the old one (a slightly warmer afternoon)
        is not fully novel. 0 (default): any new extreme scores 1.
    history
        Readings kept to re-derive the counts when the range grows.
    grids
        Quantisation grids, each shifted by ``1 / grids`` of a level; the score is the
        minimum over grids.
    rest
        Readings during which the output stays 0 after a reported score of ``base``.
    base
        Reported score that starts a refractory period.
    min_samples
        Warm-up: the score is 0 until this many values have been learnt.
    guard
        Do not learn values scoring at or above this.

    Examples
    --------
    >>> d = ContextNovelty(rest=0, min_samples=10)
    >>> for i in range(300):
    ...     _ = d.update(float(i % 10))
    >>> d.score_one(0.0) < 0.2  # 9 -> 0, as always
    True
    >>> d.score_one(3.0) > 0.5  # 9 -> 3 never happened
    True
    >>> d.score_one(100.0)  # beyond the range ever seen
    1.0
    """

    __slots__ = (
        "bins",
        "order",
        "power",
        "margin",
        "tolerance",
        "history",
        "grids",
        "rest",
        "base",
        "min_samples",
        "_lo",
        "_hi",
        "_vals",
        "_seen",
        "_ctx",
        "_since",
        "_n",
    )
    name: ClassVar[str] = "context_novelty"

    def __init__(
        self,
        bins: int = 8,
        order: int = 6,
        power: float = 2.0,
        margin: float = 0.1,
        tolerance: float = 0.0,
        history: int = 3000,
        grids: int = 2,
        rest: int = 30,
        base: float = 0.75,
        min_samples: int = 10,
        guard: float | None = None,
    ) -> None:
        super().__init__(guard)
        check("bins", bins, lo=2, hi=64)
        check("order", order, lo=1, hi=12)
        check("power", power, lo=0.0, hi=10.0)
        check("margin", margin, lo=0.0, hi=10.0)
        check("tolerance", tolerance, lo=0.0, hi=10.0)
        check("history", history, lo=order, hi=1_000_000)
        check("grids", grids, lo=1, hi=8)
        check("rest", rest, lo=0)
        check("base", base, lo=0.0)
        check("min_samples", min_samples, lo=1)
        self.bins = int(bins)
        self.order = int(order)
        self.power = float(power)
        self.margin = float(margin)
        self.tolerance = float(tolerance)
        self.history = int(history)
        self.grids = int(grids)
        self.rest = int(rest)
        self.base = float(base)
        self.min_samples = int(min_samples)
        self._lo = 0.0
        self._hi = 0.0
        self._vals: deque[float] = deque(maxlen=self.history)
        self._seen: list[dict[int, int]] = [{} for _ in range(self.grids)]
        self._ctx: list[list[int]] = [[] for _ in range(self.grids)]
        self._since = 0
        self._n = 0

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    # -- internals ----------------------------------------------------------------
    def _levels(self, x: float) -> list[int]:
        width = self._hi - self._lo
        step = width / (self.bins - 1) if width > 0 else 1.0
        pos = (x - self._lo) / step
        g = self.grids
        return [int(pos + j / g) for j in range(g)]

    def _keys(self, ctx: list[int], b: int) -> list[int]:
        """Integer keys of the contexts of length 1..order ending with level ``b``."""
        radix = self.bins + 2
        code = b
        keys = [code * 16 + 1]
        k = 1
        for prev in reversed(ctx):  # ctx holds at most order - 1 levels
            k += 1
            code = code * radix + prev
            keys.append(code * 16 + k)
        return keys

    def _outside(self, x: float) -> float:
        """Score of a value beyond the known range (see ``tolerance``)."""
        tol = self.tolerance * (self._hi - self._lo)
        if tol <= 0.0:
            return 1.0
        return min(1.0, max(self._lo - x, x - self._hi) / tol)

    def _raw(self, x: float) -> float:
        if x < self._lo or x > self._hi:
            return self._outside(x)
        p = self.power
        best = 1.0
        for seen, ctx, b in zip(self._seen, self._ctx, self._levels(x), strict=True):
            keys = self._keys(ctx, b)
            tot = 0.0
            for key in keys:
                c = seen.get(key, 0)
                tot += 1.0 if c == 0 else (1.0 + c) ** -p
            r = tot / len(keys)
            if r < best:
                best = r
        return best

    def _rebuild(self) -> None:
        """Re-derive every context count from the history under the current grid."""
        radix = self.bins + 2
        if len(self._vals) < 64 or 16 * radix**self.order >= 2**62:
            self._seen = [{} for _ in range(self.grids)]
            self._ctx = [[] for _ in range(self.grids)]
            for u in self._vals:
                self._count(u)
            return
        vals = np.fromiter(self._vals, dtype=float, count=len(self._vals))
        width = self._hi - self._lo
        pos = (vals - self._lo) / (width / (self.bins - 1) if width > 0 else 1.0)
        g = self.grids
        self._seen, self._ctx = [], []
        for j in range(g):
            lev = (pos + j / g).astype(np.int64)  # pos >= 0: truncation is floor
            keys = [lev * 16 + 1]
            code = lev
            for k in range(2, self.order + 1):
                code = code[1:] * radix + lev[: len(lev) - k + 1]
                keys.append(code * 16 + k)
            uniq, cnt = np.unique(np.concatenate(keys), return_counts=True)
            self._seen.append(dict(zip(uniq.tolist(), cnt.tolist(), strict=True)))
            self._ctx.append(lev[len(lev) - self.order + 1 :].tolist() if self.order > 1 else [])

    def _count(self, x: float) -> None:
        keep = self.order - 1
        for seen, ctx, b in zip(self._seen, self._ctx, self._levels(x), strict=True):
            for key in self._keys(ctx, b):
                seen[key] = seen.get(key, 0) + 1
            ctx.append(b)
            if len(ctx) > keep:
                del ctx[0]

    # -- protocol -----------------------------------------------------------------
    def _expand(self, x: float) -> None:
        if self._n == 0:
            self._lo = self._hi = x
            return
        width = self._hi - self._lo
        if x < self._lo:
            self._lo = x - self.margin * width
        if x > self._hi:
            self._hi = x + self.margin * width
        self._rebuild()

    def _out(self, r: float) -> float:
        return r if self._n >= self.min_samples and self._since >= self.rest else 0.0

    def score_one(self, x: float, ts: float = 0.0) -> float:
        if x - x != 0.0:  # NaN or infinite: no level to quantise
            return 0.0
        return self._out(self._raw(x) if self._n else 0.0)

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        if x - x != 0.0:
            return
        s = self.score_one(x, ts)
        self._since = 0 if s >= self.base else self._since + 1
        if self._n == 0 or x < self._lo or x > self._hi:
            self._expand(x)
        self._vals.append(x)
        self._count(x)
        self._n += 1

    def update(self, x: float, ts: float = 0.0) -> float:
        """``score_one`` then ``learn_one``, looking each context up once."""
        if x - x != 0.0:
            return 0.0
        if self.guard is not None:
            return super().update(x, ts)
        if self._n == 0 or x < self._lo or x > self._hi:
            s = self._out(self._outside(x) if self._n else 0.0)
            self._expand(x)
            self._count(x)
        else:
            width = self._hi - self._lo
            pos = (x - self._lo) / (width / (self.bins - 1) if width > 0 else 1.0)
            g = self.grids
            p = -self.power
            radix = self.bins + 2
            keep = self.order - 1
            best = 1.0
            for j in range(g):
                seen = self._seen[j]
                ctx = self._ctx[j]
                code = b = int(pos + j / g)
                c = seen.get(code * 16 + 1, 0)
                seen[code * 16 + 1] = c + 1
                tot = 1.0 if c == 0 else (1.0 + c) ** p
                k = 1
                for prev in reversed(ctx):
                    k += 1
                    code = code * radix + prev
                    key = code * 16 + k
                    c = seen.get(key, 0)
                    seen[key] = c + 1
                    tot += 1.0 if c == 0 else (1.0 + c) ** p
                tot /= k
                if tot < best:
                    best = tot
                ctx.append(b)
                if len(ctx) > keep:
                    del ctx[0]
            s = self._out(best)
        self._vals.append(x)
        self._since = 0 if s >= self.base else self._since + 1
        self._n += 1
        return s
