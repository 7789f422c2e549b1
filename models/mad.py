"""Robust z-score with the median absolute deviation (MAD) as the scale.

Same rolling sorted window as :class:`models.robust_z.RobustZ` (which scales by the IQR);
the MAD has the higher breakdown point (50 % against 25 %), so it stays sane when up to
half the window is contaminated. The MAD is found without sorting the deviations: the
deviations below and above the median are two sorted sequences read straight off the
sorted window, and the k-th smallest of two sorted sequences takes O(log W) steps.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import ClassVar

from models.robust_z import RobustZ


def _kth(a, na: int, b, nb: int, k: int) -> float:
    """The k-th smallest (0-based) of two ascending sequences given as index functions."""
    lo, hi = max(0, k + 1 - nb), min(na, k + 1)
    while True:
        i = (lo + hi) // 2  # take i from a, j from b
        j = k + 1 - i
        if i < na and j > 0 and b(j - 1) > a(i):
            lo = i + 1
        elif i > 0 and j < nb and a(i - 1) > b(j):
            hi = i - 1
        else:
            left = [a(i - 1)] if i > 0 else []
            if j > 0:
                left.append(b(j - 1))
            return max(left)


def mad(s: list[float], med: float) -> float:
    """Median of ``|s_i - med|`` for a sorted list ``s``, in O(log len(s)).

    Examples
    --------
    >>> mad([1.0, 2.0, 3.0, 4.0, 100.0], 3.0)
    1.0
    """
    n = len(s)
    p = bisect_left(s, med)  # s[:p] < med <= s[p:]

    def a(j: int) -> float:  # deviations below the median, ascending
        return med - s[p - 1 - j]

    def b(j: int) -> float:  # deviations at or above it, ascending
        return s[p + j] - med

    k = n // 2
    if n % 2:
        return _kth(a, p, b, n - p, k)
    return 0.5 * (_kth(a, p, b, n - p, k - 1) + _kth(a, p, b, n - p, k))


class MAD(RobustZ):
    """Absolute robust z-score ``|x - median| / (1.4826 * MAD)`` over the last ``window`` values.

    Parameters are those of :class:`models.robust_z.RobustZ` (including the fallback to
    the standard deviation when the MAD is 0).

    Examples
    --------
    >>> d = MAD(window=50, min_samples=10)
    >>> for i in range(50):
    ...     _ = d.update(10.0 + (i % 5) * 0.1)
    >>> d.score_one(10.2) < 3, d.score_one(30.0) > 10
    (True, True)
    """

    __slots__ = ()
    name: ClassVar[str] = "mad"
    _compact: ClassVar[bool] = False  # mad() reads the sorted window as values: doubles
    _plain: ClassVar[bool] = False  # its own centre_scale (RobustZ.update inlines the base's)

    def centre_scale(self) -> tuple[float, float]:
        s = self._sorted
        n = len(s)
        med = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
        spread = 1.4826 * mad(s, med) or self.std()
        return med, max(spread, self.min_scale, self.rel_scale * abs(med))
