"""Exponentially weighted mean and variance, the running statistics most detectors keep.

``ew_step`` is exact (a plain running mean and variance) while ``n < 1 / alpha``, then
forgets old values at rate ``alpha``; O(1), two floats of state.
"""

from __future__ import annotations


def ew_step(m: float, v: float, x: float, n: int, alpha: float) -> tuple[float, float]:
    """Mean and variance after learning ``x`` as the ``n``-th value (``n >= 1``).

    >>> m = v = 0.0
    >>> for n, x in enumerate([1.0, 2.0, 3.0], start=1):
    ...     m, v = ew_step(m, v, x, n, alpha=0.01)
    >>> m, round(v, 6)
    (2.0, 0.666667)
    """
    a = max(alpha, 1.0 / n)
    d = x - m
    return m + a * d, (1.0 - a) * (v + a * d * d)
