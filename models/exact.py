"""Exact compact storage of a window of floats: scaled integers while every value
round-trips bit for bit, else doubles.

A sensor's readings usually have a few decimals (``21.37``, ``231.07``), so a window of
them is stored as the integers ``x * 10 ** dec`` (``2137``) in the narrowest array type
that holds them (1, 2 or 4 bytes instead of 8), as long as ``q / 10 ** dec == x`` for
every value, the sign of zero included: decoding gives back exactly the values learnt,
so scores computed from them do not change. Scaled integers keep the order of the values,
so a sorted window stays sorted. A value that does not fit the current form (more
decimals, a larger magnitude, ``-0.0``, not a short decimal at all) re-encodes the
window in the narrowest form that holds it too, down to doubles.

Used by :class:`models.robust_z.RobustZ` (its window and sorted copy).

Examples
--------
>>> tc, dec = fit([21.37, 19.5, -3.0])
>>> tc, dec
('h', 2)
>>> a = encode([21.37, 19.5, -3.0], tc, dec)
>>> a.tolist(), decode(a, dec)
([2137, 1950, -300], [21.37, 19.5, -3.0])
>>> fit([0.1 + 0.2]), fit([1e12]), fit([-0.0])
(('d', -1), ('d', -1), ('d', -1))
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

import numpy as np

#: Decimals tried, fewest first.
DECIMALS = 6
#: ``SCALE[dec] == 10.0 ** dec`` (exact doubles).
SCALE = tuple(10.0**k for k in range(DECIMALS + 1))
#: Integer typecodes, narrowest first, with their bound: they hold ``-lim <= q < lim``.
INTS = (("b", 1 << 7), ("h", 1 << 15), ("i", 1 << 31))
#: The form of a window that is not scaled integers.
DOUBLES = ("d", -1)


def scaled(x: float, dec: int) -> int | None:
    """``x * 10 ** dec`` as an int if that decodes back to exactly ``x``, else None.

    >>> scaled(21.37, 2), scaled(21.375, 2), scaled(-0.0, 0), scaled(math.nan, 1)
    (2137, None, None, None)
    """
    sc = SCALE[dec]
    try:
        q = round(x * sc)
    except (OverflowError, ValueError):  # infinite or NaN
        return None
    if q / sc != x or (not q and math.copysign(1.0, x) < 0.0):
        return None
    return q


def fit(vals: Iterable[float]) -> tuple[str, int]:
    """The narrowest exact form of ``vals``: ``(typecode, decimals)``, or :data:`DOUBLES`.

    The fewest decimals at which every value round-trips, then the narrowest integer
    type that holds them (more decimals only make larger integers).
    """
    vals = list(vals)
    for dec in range(DECIMALS + 1):
        qs = []
        for x in vals:
            q = scaled(x, dec)
            if q is None:  # (stop at the first value that does not fit)
                break
            qs.append(q)
        else:
            if not qs:
                return INTS[0][0], 0
            top = max(max(qs), -min(qs) - 1)
            for tc, lim in INTS:
                if top < lim:
                    return tc, dec
            break
    return DOUBLES


def encode(vals: Iterable[float], tc: str, dec: int) -> array:
    """``vals`` as an array in the form ``(tc, dec)`` (from :func:`fit`)."""
    if dec < 0:
        return array(tc, vals)
    sc = SCALE[dec]
    return array(tc, [round(x * sc) for x in vals])


def decode(a: array, dec: int) -> list[float]:
    """The values of an array in the form ``(a.typecode, dec)``, exactly as learnt."""
    if dec < 0:
        return a.tolist()
    sc = SCALE[dec]
    return [q / sc for q in a]


def floats(a: array, dec: int) -> np.ndarray:
    """:func:`decode` as a float64 numpy array (the same doubles)."""
    v = np.frombuffer(a, dtype=a.typecode) if len(a) else np.zeros(0)
    return v / SCALE[dec] if dec >= 0 else v.copy()  # (a view would pin the array's size)
