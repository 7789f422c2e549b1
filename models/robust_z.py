"""Robust rolling z-score: distance from the rolling median in robust standard deviations.

The scale is the rolling inter-quartile range / 1.349 (a consistent estimate of sigma
for Gaussian data) so a single spike neither moves the centre nor inflates the scale.
When more than half the window sits on one value (a water meter at 0 most of the time,
a quantised sensor) the IQR is 0; the scale then falls back to the window's standard
deviation (running sums, O(1)), so ordinary use is not scored in millions of sigmas.
The window is a ring in an ``array`` with a sorted copy kept by ``bisect`` (O(log W)
comparisons plus a C-level memmove per update); the sorted copy is not pickled but
rebuilt at load. Both hold the values exactly as scaled integers while every value is a
short decimal (``231.07`` -> ``23107``, 2 bytes; :mod:`models.exact`), else as doubles (8
bytes), and are trimmed to their exact size once the window is full: the state is 1 to
8 bytes per window value, the scores are the same bit for bit. In the compiled build
(``setup.py``) scoring and learning on a full window read and shift the arrays' C buffers
(``_zscore``, ``_step``, ``_swap``): the same searches and the same arithmetic in the same
order, about 3x faster; ``tests/models/test_compiled.py`` checks both builds agree value
for value in every window form.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from math import copysign
from typing import ClassVar

import numpy as np

from models.base import BIG, Detector, check
from models.exact import DOUBLES, SCALE, decode, encode, fit, floats

try:
    import cython
except ImportError:  # plain Python
    from models import nocython as cython

if cython.compiled:  # C access to the windows' arrays (setup.py; never run as Python)
    from cython.cimports.cpython.array import array as carray
    from cython.cimports.libc.math import copysign as c_copysign
    from cython.cimports.libc.math import fabs
    from cython.cimports.libc.math import round as c_round

#: ``_dec`` of a window widened to doubles by a value that was not a short decimal: it tries
#: to narrow back at each re-anchor (every ``window`` values learnt), so one odd reading
#: does not leave the window in doubles for ever (-1: doubles, never tried)
RETRY = -2


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
        "window", "min_samples", "min_scale", "rel_scale", "_buf", "_dec", "_i", "_sorted",
        "_k", "_s", "_ss", "_t",
    )  # fmt: skip
    name: ClassVar[str] = "robust_z"
    #: Own state layout (the window in the exact compact form, its decimals): one above
    #: the base's.
    version: ClassVar[int] = Detector.version + 1
    _transient: ClassVar[tuple[str, ...]] = ("_sorted", "_k")
    _arrays: ClassVar[tuple[str, ...]] = ("_buf",)
    #: Store the window as scaled integers when exact (False: always doubles, for
    #: subclasses that read ``_sorted`` as values, :class:`models.mad.MAD`).
    _compact: ClassVar[bool] = True
    #: ``centre_scale`` is this class's own (``update`` inlines it). A subclass that
    #: redefines it sets False (:class:`models.mad.MAD`; no ``__init_subclass__`` hook:
    #: a compiled class cannot have one, see ``setup.py``).
    _plain: ClassVar[bool] = True

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
        #: the window, a ring once full (the oldest at _i): integers scaled by 10 ** _dec,
        #: or doubles when _dec is -1 (models.exact)
        self._buf = array("b" if self._compact else "d")
        self._dec = 0 if self._compact else -1
        self._i = 0
        self._sorted = array(self._buf.typecode)  # the window, sorted, in the same form
        self._k = 0.0  # running sums of (x - k) over the window: the fallback scale
        self._s = 0.0
        self._ss = 0.0
        self._t = 0  # updates since the sums were last recomputed

    @property
    def ready(self) -> bool:
        return len(self._buf) >= self.min_samples

    def expected(self, ts: float = 0.0) -> float | None:
        return self.centre_scale()[0] if self._sorted else None

    def _med_iqr(self) -> tuple[float, float]:
        """Median and inter-quartile range of the window (not empty)."""
        s = self._sorted
        n = len(s)
        h = n // 2
        dec = self._dec
        if dec < 0:
            med = s[h] if n % 2 else 0.5 * (s[h - 1] + s[h])
            return med, s[(3 * n) // 4] - s[n // 4]
        sc = SCALE[dec]  # decode each value first: the same doubles, the same arithmetic
        med = s[h] / sc if n % 2 else 0.5 * (s[h - 1] / sc + s[h] / sc)
        return med, s[(3 * n) // 4] / sc - s[n // 4] / sc

    def centre_scale(self) -> tuple[float, float]:
        """The current (median, robust sigma)."""
        med, iqr = self._med_iqr()
        spread = iqr / 1.349 if iqr > 0 else self.std()
        return med, max(spread, self.min_scale, self.rel_scale * abs(med))

    def std(self) -> float:
        """Standard deviation of the window (the scale when the robust one is 0)."""
        n = len(self._buf)
        if not n:
            return 0.0
        m = self._s / n
        return math.sqrt(max(self._ss / n - m * m, 0.0))

    def values(self) -> list[float]:
        """The window, oldest first, exactly as learnt."""
        v = decode(self._buf, self._dec)
        i = self._i
        return v[i:] + v[:i]

    def _restore(self) -> None:
        buf = self._buf
        if len(buf) < 32:
            self._sorted = array(buf.typecode, sorted(buf))
        else:  # numpy sorts a full window twice as fast
            a = np.frombuffer(buf, dtype=buf.typecode)
            self._sorted = array(buf.typecode, np.sort(a, kind="stable").tobytes())[:]
        # the anchor of the running sums is in the window: its first value until the window
        # first fills (``_t`` is then its length), after that the value learnt at the last
        # re-anchor, ``_t`` learns ago (it is replaced by the learn that re-anchors)
        n = len(buf)
        if not n:
            self._k = 0.0
            return
        k = buf[0 if n < self.window else (self._i - 1 - self._t) % n]
        self._k = k if self._dec < 0 else k / SCALE[self._dec]

    def _widen(self, x: float) -> tuple[int | float, float]:
        """Re-encode the window in the narrowest exact form that holds ``x`` too; return
        ``x`` in that form and the form's scale (0.0 for doubles)."""
        old = self._dec
        vals = decode(self._buf, old)
        tc, dec = fit([x, *vals]) if self._compact else DOUBLES
        self._buf = encode(vals, tc, dec)
        self._sorted = encode(decode(self._sorted, old), tc, dec)
        self._dec = RETRY if dec < 0 else dec
        return (x, 0.0) if dec < 0 else (round(x * SCALE[dec]), SCALE[dec])

    def _narrow(self, x: float) -> None:
        """Doubles since a value that was not a short decimal (``_dec`` is :data:`RETRY`):
        back to the narrowest exact form if the whole window fits one now (else try again
        at the next re-anchor). ``x``, the newest value, is tried first: cheap when the
        series is not short decimals at all."""
        if fit((x,)) == DOUBLES or (form := fit(self._buf)) == DOUBLES:
            return
        tc, dec = form
        self._buf = encode(self._buf, tc, dec)
        self._sorted = encode(self._sorted, tc, dec)
        self._dec = dec

    def score_one(self, x: float, ts: float = 0.0) -> float:
        srt = self._sorted
        n = len(srt)
        if n < self.min_samples:
            return 0.0
        if self._plain:  # centre_scale, inlined
            h = n // 2
            dec = self._dec
            if cython.compiled and type(x) is float:  # the same, in C
                return self._zscore(x, n)
            if dec < 0:
                med = srt[h] if n % 2 else 0.5 * (srt[h - 1] + srt[h])
                iqr = srt[(3 * n) // 4] - srt[n // 4]
            else:  # as _med_iqr
                sc = SCALE[dec]
                med = srt[h] / sc if n % 2 else 0.5 * (srt[h - 1] / sc + srt[h] / sc)
                iqr = srt[(3 * n) // 4] / sc - srt[n // 4] / sc
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
        if cython.compiled and type(x) is float and self._step(x):  # the common case, in C
            return
        buf = self._buf
        if not buf:
            self._k = x
        dec = self._dec
        if dec < 0:
            q = x
            sc = 0.0
        else:  # x as stored (models.exact.scaled, inlined)
            sc = SCALE[dec]
            try:
                q = round(x * sc)
                if q / sc != x or not q and copysign(1.0, x) < 0.0:
                    q = None
            except (OverflowError, ValueError):  # inf, NaN (a direct learn_one)
                q = None
            if q is None:  # not exact in this form: re-encode the window
                q, sc = self._widen(x)
                buf = self._buf
        srt = self._sorted
        w = self.window
        if len(buf) >= w:  # replace the oldest value
            i = self._i
            try:
                old = buf[i]
                buf[i] = q
            except OverflowError:  # beyond the integer type: a wider one
                q, sc = self._widen(x)
                buf, srt = self._buf, self._sorted
                old = buf[i]
                buf[i] = q
            self._i = i + 1 if i + 1 < w else 0
            if old != q or not q:  # (an equal non-zero value leaves the sorted copy as is)
                del srt[bisect_left(srt, old)]
                srt.insert(bisect_right(srt, q), q)
            o = (old / sc if sc else old) - self._k  # (decoded: the value learnt)
            self._s -= o
            self._ss -= o * o
        else:
            try:
                buf.append(q)
            except OverflowError:
                q, sc = self._widen(x)
                buf, srt = self._buf, self._sorted
                buf.append(q)
            srt.insert(bisect_right(srt, q), q)
            if len(buf) == w:  # full: trim the arrays to size (they never grow again)
                buf = self._buf = buf[:]
                self._sorted = srt[:]
        d = x - self._k
        self._s += d
        self._ss += d * d
        t = self._t = self._t + 1
        if t >= w:  # re-anchor and recompute: no rounding drift
            self._k = x
            dev = floats(buf, self._dec) - x  # exact sums of the rounded deviations
            self._s = math.fsum(dev.tolist())
            self._ss = math.fsum((dev * dev).tolist())
            self._t = 0
            if self._dec == RETRY:  # doubles since an odd value: it may have left the window
                self._narrow(x)

    def _zscore(self, x: float, n: int) -> float:
        """Compiled build only: ``score_one(x)`` with ``n`` values learnt (at least
        ``min_samples``), the window read from the arrays' C buffers; the same arithmetic
        in the same order."""
        a = cython.cast(carray, self._sorted)
        tc = a.ob_descr.typecode
        dec = self._dec
        sc = SCALE[dec] if dec >= 0 else 1.0
        h = n // 2
        hi = _at(a, tc, h, sc)
        med = hi if n % 2 else 0.5 * (_at(a, tc, h - 1, sc) + hi)
        iqr = _at(a, tc, (3 * n) // 4, sc) - _at(a, tc, n // 4, sc)
        spread = iqr / 1.349 if iqr > 0 else self.std()
        return abs(x - med) / max(spread, self.min_scale, self.rel_scale * abs(med))

    def _step(self, x: float) -> bool:
        """Compiled build only: ``learn_one(x)`` in C where it is the common case: a
        window holding at least one value, x exact in the window's form, no re-anchor due
        (and not the value that fills the window: the arrays are trimmed then). The same
        searches and arithmetic in the same order as ``learn_one``; False (nothing done)
        otherwise."""
        w = self.window
        buf = self._buf
        n = len(buf)
        if not 0 < n <= w or self._t + 1 >= w or n + 1 == w or not -BIG < x < BIG:
            return False
        grow = n < w
        i = self._i
        dec = self._dec
        tc = cython.cast(carray, buf).ob_descr.typecode
        sc = 1.0
        if dec >= 0:
            sc = SCALE[dec]
            y = x * sc
            r = c_round(y)  # Python's round(): half to even
            if fabs(y - r) == 0.5:
                r = 2.0 * c_round(y / 2.0)
            if r / sc != x or (r == 0.0 and c_copysign(1.0, x) < 0.0):
                return False  # not exact in this form: learn_one widens
            if not (tc == "b" and -128.0 <= r < 128.0 or tc == "h" and -32768.0 <= r < 32768.0
                    or tc == "i" and -2147483648.0 <= r < 2147483648.0):
                return False  # beyond the integer type: learn_one widens
        elif tc != "d":
            return False
        if grow:  # append, and insert into the sorted copy at bisect_right
            if tc == "d":
                buf.append(x)
                self._sorted.append(x)
            else:
                q = cython.cast(cython.longlong, r)
                buf.append(q)
                self._sorted.append(q)
            srt = cython.cast(carray, self._sorted)
            if tc == "d":
                _insert(srt.data.as_doubles, n, x)
            elif tc == "h":
                _insert(srt.data.as_shorts, n, cython.cast(cython.short, r))
            elif tc == "b":
                _insert(srt.data.as_schars, n, cython.cast(cython.schar, r))
            else:
                _insert(srt.data.as_ints, n, cython.cast(cython.int, r))
        else:  # replace the oldest value (decoded: the value learnt)
            a = cython.cast(carray, buf)
            srt = cython.cast(carray, self._sorted)
            if tc == "d":
                od = _replace(a.data.as_doubles, srt.data.as_doubles, n, i, x)
            elif tc == "h":
                od = _replace(a.data.as_shorts, srt.data.as_shorts, n, i,
                              cython.cast(cython.short, r)) / sc
            elif tc == "b":
                od = _replace(a.data.as_schars, srt.data.as_schars, n, i,
                              cython.cast(cython.schar, r)) / sc
            else:
                od = _replace(a.data.as_ints, srt.data.as_ints, n, i,
                              cython.cast(cython.int, r)) / sc
            self._i = i + 1 if i + 1 < w else 0
            o = od - self._k
            self._s -= o
            self._ss -= o * o
        d = x - self._k
        self._s += d
        self._ss += d * d
        self._t += 1
        return True


def _at(a, tc, k: int, sc: float) -> float:
    """Compiled build only: value ``k`` of a window array, decoded (``/ sc``, or as is
    for doubles), as ``a[k] / sc`` in Python."""
    if tc == "d":
        return a.data.as_doubles[k]
    if tc == "h":
        return a.data.as_shorts[k] / sc
    if tc == "b":
        return a.data.as_schars[k] / sc
    return a.data.as_ints[k] / sc


def _replace(p, srt, n: int, i: int, q):
    """Ring slot ``i`` of ``p`` becomes ``q`` and the sorted copy ``srt[:n]`` follows, as
    ``learn_one`` does (an equal non-zero value leaves it as is); return the old value
    (compiled build: C pointers, the old value as a double)."""
    old = p[i]
    p[i] = q
    if old != q or not q:
        _swap(srt, n, old, q)
    return old


def _insert(p, n: int, q) -> int:
    """In ``p[:n + 1]``, whose first ``n`` values are sorted, put ``q`` where
    ``p[:n].insert(bisect_right(p[:n], q), q)`` would (compiled build: C pointers)."""
    lo = 0
    hi = n
    while lo < hi:  # bisect_right(p[:n], q)
        mid = (lo + hi) // 2
        if q < p[mid]:
            hi = mid
        else:
            lo = mid + 1
    k = n
    while k > lo:
        p[k] = p[k - 1]
        k -= 1
    p[lo] = q
    return 0


def _swap(p, n: int, old, q) -> int:
    """In the sorted ``p[:n]``, replace a value ``old`` by ``q`` and keep it sorted: the
    same result as ``del p[bisect_left(p, old)]`` then ``p.insert(bisect_right(p, q), q)``
    (the same searches, one shift instead of two). C pointers in the compiled build; any
    sequence in Python."""
    lo = 0
    hi = n
    while lo < hi:  # bisect_left(p, old)
        mid = (lo + hi) // 2
        if p[mid] < old:
            lo = mid + 1
        else:
            hi = mid
    i = lo
    if i >= n:
        raise IndexError("array assignment index out of range")
    lo = 0
    hi = n - 1
    while lo < hi:  # bisect_right(q) in p without p[i]
        mid = (lo + hi) // 2
        if q < p[mid + (mid >= i)]:
            hi = mid
        else:
            lo = mid + 1
    j = lo
    k = i
    if j >= i:
        while k < j:
            p[k] = p[k + 1]
            k += 1
    else:
        while k > j:
            p[k] = p[k - 1]
            k -= 1
    p[j] = q
    return 0
