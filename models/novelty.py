"""Context-novelty detector: how new is the recent shape of the series?

The value range seen so far is cut into ``bins`` levels; the last ``order`` levels form
contexts of length 1..``order``. A context never seen before is novel (score 1 for that
length), one seen ``c`` times scores ``1 / (1 + c) ** power``; the raw novelty is the mean
over lengths. ``grids`` quantisation grids, each shifted by a fraction of a level, are
kept and the minimum is taken, so a value jittering on a level boundary is not novel.

When a value leaves the known range the range grows (plus ``margin``) and the context
counts are re-derived from the last ``history`` values (plus that value), so memory stays
bounded: the history ring, and one count per possible context. The re-count waits until
the counts are next needed, so a run of new extremes (a morning ramp) costs one.

After a reported score of ``base`` or more the output is held at 0 for ``rest`` readings
(one alert per event, not one per reading), the refractory period NAB's reference
detectors use. O(order * grids) per reading plus a rare re-count (numpy once the history
is long); in the compiled build (``setup.py``) the one-grid update counts and pushes on
the arrays' C buffers (``_level1``, ``_push_c``; the same arithmetic, checked against the
Python build by ``tests/models/test_compiled.py``).

State, kept small (one detector per sensor): the history is a ring in an ``array``; a
sensor's readings usually have a few decimals (``21.37``), so they are stored exactly as
scaled integers (``2137``, 2 bytes) while every value round-trips bit for bit, else as
doubles. The counts are a dense ``array('I')`` indexed by context (``bins + bins**2 + ...
+ bins**order`` slots, 584 for 8 bins and order 3) when that is small, else a dict; the
previous levels are one small int per grid. The pickled state keeps the history's bytes
and only the non-zero counts: about 1 KB for the anomaly pack's settings once the history
is full (3.2 KB before this layout), scores unchanged bit for bit.

Designed on the NAB corpus (``benchmarks/nab.py``): about 70 standard on its own, and the
core of the best configuration there.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from functools import lru_cache
from typing import ClassVar, NamedTuple

import numpy as np

from models.base import BIG, Detector, check, pack_array, unpack_array

try:
    import cython
except ImportError:  # plain Python
    from models import nocython as cython

if cython.compiled:  # C access to the counts and history (setup.py; never run as Python)
    from cython.cimports.cpython.array import array as carray
    from cython.cimports.libc.math import fabs
    from cython.cimports.libc.math import pow as c_pow
    from cython.cimports.libc.math import round as c_round

#: Counts are a dense array when ``grids * (bins + ... + bins**order)`` is at most this.
DENSE = 1 << 14
#: Histories shorter than this are re-counted in Python, longer ones with numpy.
NUMPY_FROM = 24
#: ``1 / (1 + c) ** power`` is tabulated for counts below this.
TABLE = 1024
#: Decimals tried to store the history as exact scaled integers.
DECIMALS = 6
_SCALE = tuple(10.0**k for k in range(DECIMALS + 1))
#: Integer typecodes of the history, narrowest first, with their ranges.
_INTS = (("h", 1 << 15), ("i", 1 << 31))


class Plan(NamedTuple):
    """Constants shared by every detector with the same parameters (see :func:`plan`)."""

    radix: int
    dense: int  # contexts per grid when the counts are a dense array, else 0
    size: int  # contexts per grid: radix + radix**2 + ... + radix**order
    shifts: tuple[float, ...]  # j / grids, added to the level position of grid j
    table: tuple[float, ...]  # 1 / (1 + c) ** power for c < TABLE (1.0 for c = 0)
    p: float  # -power
    keep: int  # order - 1: previous levels kept per grid
    zeros: array | None  # a dense array of zero counts (16-bit, see WIDE), copied
    top: int  # radix ** keep: context codes are below it
    runs: tuple[tuple[int, ...], ...]  # runs[L]: L items, to loop L times


@lru_cache(maxsize=256)
def plan(bins: int, order: int, grids: int, power: float) -> Plan:
    """The :class:`Plan` of these parameters, built once.

    A context of levels ``b`` (newest), ``p1``, ``p2``, ... has the index ``b``,
    ``(b + 1) * bins + p1``, ``((b + 1) * bins + p1 + 1) * bins + p2``, ...: a bijective
    numeration, so lengths 1..order fill ``0 .. bins + ... + bins**order - 1`` (levels are
    in ``0 .. bins - 1``), one block per grid.
    """
    size = sum(bins**k for k in range(1, order + 1))
    dense = size if grids * size <= DENSE else 0
    p = -power
    table = tuple(1.0 if c == 0 else (1.0 + c) ** p for c in range(TABLE))
    zeros = array("H", bytes(2 * grids * dense)) if dense else None
    shifts = tuple(j / grids for j in range(grids))
    runs = tuple(tuple(range(k)) for k in range(order))
    return Plan(bins, dense, size, shifts, table, p, order - 1, zeros, bins ** (order - 1), runs)


#: Dense counts are 16-bit while fewer than this many values were learnt: a value adds
#: at most 1 to any context's count (the lengths and grids have separate index ranges)
#: and a re-count counts learnt values only, so no count exceeds the values learnt.
#: At this many (~227 days of 5-minute readings) they widen to 32-bit, once.
WIDE = 0xFFFF


def _counts(items=()) -> defaultdict[int, int]:
    """Sparse counts (too many possible contexts for a dense array): a lookup in
    ``update`` inserts the 0 it is about to increment; ``_raw`` uses ``get``."""
    return defaultdict(int, items)


def _code(levels: list[int], radix: int) -> int:
    """``levels`` (oldest first) as one number, the newest as its last digit."""
    c = 0
    for b in levels:
        c = c * radix + b
    return c


class _Lookup:
    """``counts[key]`` without inserting missing keys (0), for pure scoring."""

    __slots__ = ("get",)

    def __init__(self, counts: dict) -> None:
        self.get = counts.get

    def __getitem__(self, key: int) -> int:
        return self.get(key, 0)


def _step(width: float, bins: int) -> float:
    """Width of one level (1.0 for an empty range, or one too narrow to divide)."""
    step = width / (bins - 1) if width > 0 else 1.0
    return step if step > 0 else 1.0


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
        "_dec",
        "_pos",
        "_seen",
        "_ctx",
        "_since",
        "_n",
        "_step",
        "_k",
    )
    name: ClassVar[str] = "context_novelty"
    #: Own state layout (history ring, packed counts): one above the base's.
    version: ClassVar[int] = Detector.version + 1
    #: Derived slots, not pickled: the level width and the shared constants.
    _transient: ClassVar[tuple[str, ...]] = ("_step", "_k")

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
        #: the history (history + 1 values), a ring once full (oldest at _pos): integers
        #: scaled by 10 ** _dec, or doubles when _dec is -1
        self._vals = array("h")
        self._dec = 0
        self._pos = 0
        #: per grid, the previous min(_n, order - 1) levels as one number, the newest as its
        #: last digit in base bins (a small int, cached by Python, for 8 bins and order 3)
        self._ctx: tuple[int, ...] = (0,) * self.grids
        self._since = 0
        self._n = 0
        self._restore()
        self._seen: array | defaultdict | None = self._zeros()  # None: re-count when needed

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    # -- internals ----------------------------------------------------------------
    def _restore(self) -> None:
        """Recompute the transient slots (after ``__init__`` and after loading)."""
        self._k = plan(self.bins, self.order, self.grids, self.power)
        width = self._hi - self._lo
        self._step = _step(width, self.bins)

    def _zeros(self) -> array | defaultdict:
        z = self._k.zeros
        if z is None:
            return _counts()
        return z[:] if self._n < WIDE else array("I", z)

    def _widen(self) -> None:
        """16-bit dense counts -> 32-bit, once ``WIDE`` values were learnt."""
        seen = self._seen
        if isinstance(seen, array) and seen.typecode == "H":
            self._seen = array("I", seen)

    def _outside(self, x: float) -> float:
        """Score of a value beyond the known range (see ``tolerance``)."""
        tol = self.tolerance * (self._hi - self._lo)
        if tol <= 0.0:
            return 1.0
        return min(1.0, max(self._lo - x, x - self._hi) / tol)

    def _raw(self, x: float) -> float:
        """Novelty of ``x`` in range (no change to the counts)."""
        if self._seen is None:
            self._recount()
        radix, _, size, shifts, table, p, keep, _, _, runs = self._k
        pos = (x - self._lo) / self._step
        seen = self._seen
        if isinstance(seen, dict):  # a lookup must not insert
            seen = _Lookup(seen)
        run = runs[min(self._n, keep)]
        best = 1.0
        off = 0
        for ctx, sh in zip(self._ctx, shifts, strict=True):
            i = int(pos + sh)
            c = seen[off + i]
            tot = table[c] if c < TABLE else (1.0 + c) ** p
            for _ in run:
                i = (i + 1) * radix + ctx % radix
                ctx //= radix
                c = seen[off + i]
                tot += table[c] if c < TABLE else (1.0 + c) ** p
            r = tot / (len(run) + 1)
            if r < best:
                best = r
            off += size
        return best

    def _count(self, x: float) -> None:
        """Count the contexts ending with ``x`` (in range) and push its levels."""
        if self._seen is None:
            self._recount()
        radix, _, size, shifts, _, _, keep, _, top, runs = self._k
        pos = (x - self._lo) / self._step
        seen = self._seen
        run = runs[min(self._n, keep)]
        ctxs = []
        off = 0
        for ctx, sh in zip(self._ctx, shifts, strict=True):
            i = b = int(pos + sh)
            seen[off + b] += 1
            ctxs.append((b + ctx * radix) % top)
            for _ in run:
                i = (i + 1) * radix + ctx % radix
                ctx //= radix
                seen[off + i] += 1
            off += size
        self._ctx = tuple(ctxs)

    def _ring(self) -> array:
        """The history array, oldest first."""
        v = self._vals
        pos = self._pos
        return v[pos:] + v[:pos] if pos else v

    def _values(self) -> list[float]:
        """The history, oldest first, as the values learnt (bit for bit)."""
        v = self._ring()
        if self._dec < 0:
            return v.tolist()
        sc = _SCALE[self._dec]
        return [q / sc for q in v]

    def _push(self, x: float) -> None:
        """Append ``x`` to the history ring (exactly: as a scaled integer if it can be)."""
        v = self._vals
        dec = self._dec
        q = x
        if dec >= 0:
            sc = _SCALE[dec]
            try:
                q = round(x * sc)
                ok = q / sc == x
            except OverflowError:  # x * sc is infinite
                ok = False
            if not ok:
                self._recode(x)
                return
        size = len(v)
        try:
            if size <= self.history:
                v.append(q)
            else:
                pos = self._pos
                v[pos] = q
                pos += 1
                self._pos = 0 if pos == size else pos
        except OverflowError:  # beyond the integer typecode
            self._recode(x)

    def _recode(self, x: float) -> None:
        """Re-encode the history plus ``x`` in the narrowest exact form."""
        vals = self._values()
        vals.append(x)
        if len(vals) > self.history + 1:
            del vals[0]
        for k, sc in enumerate(_SCALE):
            try:
                qs = [round(u * sc) for u in vals]
            except OverflowError:
                break
            if all(q / sc == u for q, u in zip(qs, vals, strict=True)):
                top = max(max(qs), -min(qs) - 1)
                for tc, lim in _INTS:
                    if top < lim:
                        self._vals, self._dec, self._pos = array(tc, qs), k, 0
                        return
                break  # more decimals only make larger integers
        self._vals, self._dec, self._pos = array("d", vals), -1, 0

    def _recount(self) -> None:
        """Derive every context count from the history under the current grid.

        The history holds the value that grew the range last and the ``history`` values
        before it (nothing was learnt since: a value in range re-counts first), which is
        what an immediate re-count before counting that value would have seen.
        """
        if cython.compiled and self._recount_c():
            return
        radix, dense, size, shifts, _, _, keep, _, _, _ = self._k
        if len(self._vals) >= NUMPY_FROM and (dense or self.grids * size < 2**62):
            self._recount_np()
            return
        seen = self._zeros()
        v = self._ring()
        lo, step = self._lo, self._step
        dec = self._dec
        ctxs = []
        for j, sh in enumerate(shifts):
            if dec >= 0:
                sc = _SCALE[dec]
                lev = [int((q / sc - lo) / step + sh) for q in v]
            else:
                lev = [int((u - lo) / step + sh) for u in v]
            off = j * size
            cur = lev
            for b in lev:
                seen[off + b] += 1
            for _ in range(keep):
                cur = [(a + 1) * radix + b for a, b in zip(cur[1:], lev)]  # noqa: B905
                for i in cur:
                    seen[off + i] += 1
            ctxs.append(_code(lev[max(len(lev) - keep, 0) :], radix))
        self._seen = seen
        self._ctx = tuple(ctxs)

    def _recount_np(self) -> None:
        radix, dense, size, shifts, _, _, keep, _, _, _ = self._k
        v = self._vals
        a = np.frombuffer(v, dtype=v.typecode)
        pos = self._pos
        if pos:
            a = np.concatenate((a[pos:], a[:pos]))
        if self._dec >= 0:
            a = a / _SCALE[self._dec]  # exactly the values learnt (see _push)
        at = (a - self._lo) / self._step
        parts, ctxs = [], []
        for j, sh in enumerate(shifts):
            lev = (at + sh if sh else at).astype(np.int64)  # at >= 0: truncation is floor
            cur = lev
            parts.append(lev + j * size if j else lev)
            for _ in range(keep):
                cur = (cur[1:] + 1) * radix + lev[: len(cur) - 1]
                parts.append(cur + j * size if j else cur)
            ctxs.append(_code(lev[max(len(lev) - keep, 0) :].tolist(), radix))
        keys = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if dense:
            cnt = np.bincount(keys, minlength=self.grids * dense)
            t = "H" if self._n < WIDE else "I"
            self._seen = array(t, cnt.astype(np.uint16 if t == "H" else np.uint32).tobytes())
        else:
            uniq, cnt = np.unique(keys, return_counts=True)
            self._seen = _counts(zip(uniq.tolist(), cnt.tolist(), strict=True))
        self._ctx = tuple(ctxs)

    def _expand(self, x: float) -> None:
        """Grow the range to ``x`` (the first value: start it); the counts go stale."""
        if self._n == 0:
            self._lo = self._hi = x
            self._step = 1.0
        else:
            width = self._hi - self._lo
            if x < self._lo:
                self._lo = x - self.margin * width
            if x > self._hi:
                self._hi = x + self.margin * width
            width = self._hi - self._lo
            self._step = _step(width, self.bins)
        self._seen = None  # re-counted when next needed, from the history (with x)

    def _out(self, r: float) -> float:
        return r if self._n >= self.min_samples and self._since >= self.rest else 0.0

    # -- protocol -----------------------------------------------------------------
    def score_one(self, x: float, ts: float = 0.0) -> float:
        if not -BIG < x < BIG:  # NaN or infinite: no level to quantise
            return 0.0
        if not self._n:
            return self._out(0.0)
        if x < self._lo or x > self._hi:
            return self._out(self._outside(x))
        return self._out(self._raw(x))

    def learn_one(self, x: float, ts: float = 0.0) -> None:
        if not -BIG < x < BIG:
            return
        s = self.score_one(x, ts)
        self._since = 0 if s >= self.base else self._since + 1
        if self._n == 0 or x < self._lo or x > self._hi:
            self._expand(x)
        else:
            self._count(x)
        self._push(x)
        self._n += 1
        if self._n == WIDE:
            self._widen()

    def update(self, x: float, ts: float = 0.0) -> float:
        """``score_one`` then ``learn_one``, looking each context up once."""
        if not -BIG < x < BIG:
            return 0.0
        if self.guard is not None:
            return super().update(x, ts)
        lo = self._lo
        n = self._n
        if n == 0 or x < lo or x > self._hi:
            s = self._out(self._outside(x) if n else 0.0)
            self._expand(x)
        elif self.grids == 1:  # the common case, without grid offsets
            seen = self._seen
            if seen is None:
                self._recount()
                seen = self._seen
            s = self._level1(x, n) if cython.compiled and type(x) is float else -1.0
            if s < 0.0:  # (not compiled, or sparse counts)
                s = self._level1_py(x, n)
        else:
            if self._seen is None:
                self._recount()
            radix, _, size, shifts, table, p, keep, _, top, runs = self._k
            pos = (x - lo) / self._step
            seen = self._seen
            run = runs[n if n < keep else keep]
            ctxs = []
            best = 1.0
            off = 0
            for ctx, sh in zip(self._ctx, shifts):  # noqa: B905
                i = b = int(pos + sh)
                ctxs.append((b + ctx * radix) % top)
                c = seen[off + b]
                seen[off + b] = c + 1
                tot = table[c] if c < TABLE else (1.0 + c) ** p
                for _ in run:
                    i = (i + 1) * radix + ctx % radix
                    ctx //= radix
                    c = seen[off + i]
                    seen[off + i] = c + 1
                    tot += table[c] if c < TABLE else (1.0 + c) ** p
                tot /= len(run) + 1
                if tot < best:
                    best = tot
                off += size
            self._ctx = tuple(ctxs)
            s = best if n >= self.min_samples and self._since >= self.rest else 0.0
        self._since = 0 if s >= self.base else self._since + 1
        self._n = n + 1
        if n + 1 == WIDE:
            self._widen()
        if not (cython.compiled and type(x) is float and self._push_c(x)):
            self._push(x)
        return s

    def _level1_py(self, x: float, n: int) -> float:
        """``update``'s score of an in-range ``x`` with one grid, counting its contexts."""
        seen = self._seen
        radix, _, _, _, table, p, keep, _, top, runs = self._k
        ctx = self._ctx[0]
        i = b = int((x - self._lo) / self._step)
        self._ctx = ((b + ctx * radix) % top,)
        c = seen[b]
        seen[b] = c + 1
        tot = table[c] if c < TABLE else (1.0 + c) ** p
        k = n if n < keep else keep  # previous levels known
        for _ in runs[k]:
            i = (i + 1) * radix + ctx % radix
            ctx //= radix
            c = seen[i]
            seen[i] = c + 1
            tot += table[c] if c < TABLE else (1.0 + c) ** p
        return tot / (k + 1) if n >= self.min_samples and self._since >= self.rest else 0.0

    def _level1(self, x: float, n: int) -> float:
        """Compiled build only: :meth:`_level1_py` on the dense counts' C buffer (the
        same arithmetic in the same order); -1.0 (nothing done) for sparse counts."""
        radix, dense, _, _, table, p, keep, _, top, _ = self._k
        f = (x - self._lo) / self._step
        if not dense or not f < 1e15:
            return -1.0
        a = cython.cast(carray, self._seen)
        tc = a.ob_descr.typecode
        size = len(self._seen)
        ctx = self._ctx[0]
        i = b = cython.cast(cython.Py_ssize_t, f)  # int(f): f >= 0 here
        self._ctx = ((b + ctx * radix) % top,)
        c = _bump(a, tc, b, size)
        tot = table[c] if c < TABLE else c_pow(1.0 + c, p)
        k = n if n < keep else keep  # previous levels known
        for _ in range(k):
            i = (i + 1) * radix + ctx % radix
            ctx //= radix
            c = _bump(a, tc, i, size)
            tot += table[c] if c < TABLE else c_pow(1.0 + c, p)
        return tot / (k + 1) if n >= self.min_samples and self._since >= self.rest else 0.0

    def _push_c(self, x: float) -> bool:
        """Compiled build only: :meth:`_push` in C (in place on a full ring, else an
        append); False (nothing done) when ``x`` needs a re-code."""
        v = self._vals
        size = len(v)
        a = cython.cast(carray, v)
        tc = a.ob_descr.typecode
        dec = self._dec
        r = 0.0
        if dec < 0:
            if tc != "d":
                return False
        else:
            sc = _SCALE[dec]
            y = x * sc
            r = c_round(y)  # Python's round(): half to even
            if fabs(y - r) == 0.5:
                r = 2.0 * c_round(y / 2.0)
            if r / sc != x or not (tc == "h" and -32768.0 <= r < 32768.0
                                   or tc == "i" and -2147483648.0 <= r < 2147483648.0):
                return False
        if size <= self.history:
            if dec < 0:
                v.append(x)
            else:
                v.append(cython.cast(cython.longlong, r))
            return True
        pos = self._pos
        if dec < 0:
            a.data.as_doubles[pos] = x
        elif tc == "h":
            a.data.as_shorts[pos] = cython.cast(cython.short, r)
        else:
            a.data.as_ints[pos] = cython.cast(cython.int, r)
        pos += 1
        self._pos = 0 if pos == size else pos
        return True

    def _recount_c(self) -> bool:
        """Compiled build only: :meth:`_recount` for one grid and dense counts, in C
        (the same levels, the same counts and context); False (nothing done) otherwise."""
        radix, dense, _, _, _, _, keep, _, _, _ = self._k
        v = self._vals
        n = len(v)
        if not dense or self.grids != 1 or keep >= 32 or n >= WIDE:
            return False
        seen = self._zeros()
        sa = cython.cast(carray, seen)
        st = sa.ob_descr.typecode
        ns = len(seen)
        va = cython.cast(carray, v)
        vt = va.ob_descr.typecode
        dec = self._dec
        sc = _SCALE[dec] if dec >= 0 else 1.0
        lo = self._lo
        step = self._step
        pos = self._pos
        prev = [0] * 32  # codes of the contexts from t + 1, by length (a C array)
        ctx = 0
        pw = 1
        t = n - 1
        while t >= 0:  # newest first: the contexts starting at t extend those at t + 1
            j = pos + t
            if j >= n:
                j -= n
            if vt == "d":
                u = va.data.as_doubles[j]
            elif vt == "h":
                u = va.data.as_shorts[j] / sc
            else:
                u = va.data.as_ints[j] / sc
            f = (u - lo) / step
            if not 0.0 <= f < 1e15:
                return False
            b = cython.cast(cython.Py_ssize_t, f)
            if t >= n - keep:  # the context code: the last keep levels
                ctx += b * pw
                pw *= radix
            m = n - t if n - t < keep + 1 else keep + 1  # lengths of contexts from t
            k = m - 1
            while k >= 1:
                prev[k] = (prev[k - 1] + 1) * radix + b
                k -= 1
            prev[0] = b
            k = 0
            while k < m:
                c = prev[k]
                if not 0 <= c < ns:
                    return False
                if st == "H":
                    sa.data.as_ushorts[c] += 1
                else:
                    sa.data.as_uints[c] += 1
                k += 1
            t -= 1
        self._seen = seen
        self._ctx = (ctx,)
        return True

    # -- state --------------------------------------------------------------------
    def __getstate__(self) -> dict:
        """The base's state with the history as bytes and only the non-zero counts."""
        if self._seen is None:
            self._recount()
        state = super().__getstate__()
        for k in self._transient:
            state.pop(k, None)
        v = self._vals
        state["_vals"] = pack_array(v)  # no array reconstructor; compressed when smaller
        seen = self._seen
        if isinstance(seen, array):
            a = np.frombuffer(seen, dtype=np.uint16 if seen.typecode == "H" else np.uint32)
            nz = np.flatnonzero(a)
            c = a[nz]
            top = int(c.max()) if len(c) else 0
            ct = np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.uint32
            it = np.uint16 if len(a) <= 1 << 16 else np.uint32
            state["_seen"] = (nz.astype(it).tobytes(), c.astype(ct).tobytes())
        else:
            state["_seen"] = dict(seen)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        v = state.get("__version__")
        if v != self.version:
            raise ValueError(f"{type(self).__name__}: state version {v} != {self.version}")
        state["_vals"] = unpack_array(state["_vals"])
        seen = state.pop("_seen")
        super().__setstate__(state)
        self._restore()
        if isinstance(seen, dict):
            self._seen = _counts(seen)
            return
        total = self.grids * self._k.dense
        idx, cnt = seen
        it = np.uint16 if total <= 1 << 16 else np.uint32
        i = np.frombuffer(idx, dtype=it)
        t = "H" if self._n < WIDE else "I"
        a = np.zeros(total, dtype=np.uint16 if t == "H" else np.uint32)
        if len(i):
            a[i] = np.frombuffer(cnt, dtype=f"u{len(cnt) // len(i)}")
        self._seen = array(t, a.tobytes())


def _bump(a, tc, k: int, size: int) -> int:
    """Compiled build only: add 1 to count ``k`` of the dense counts (unsigned 16 or 32
    bits) and return its value before; IndexError out of range, as the array would."""
    if not 0 <= k < size:
        raise IndexError("array index out of range")
    if tc == "H":
        c = a.data.as_ushorts[k]
        a.data.as_ushorts[k] = c + 1
    else:
        c = a.data.as_uints[k]
        a.data.as_uints[k] = c + 1
    return c
