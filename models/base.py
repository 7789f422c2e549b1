"""The detector protocol every streaming detector in :mod:`models` follows.

A detector watches one series. For each reading it first *scores* (pure: no state
change), then *learns*. ``update`` does both and is what flows call; ``update_many``
does the same over a numpy batch. Scores are raw (detector-specific scale, higher is
more anomalous); :mod:`models.calibrate` maps them to a comparable 0-1 likelihood.
Before ``ready`` (warm-up) a detector's score is 0.0 and it never alerts.
"""

from __future__ import annotations

import inspect
import math
from typing import ClassVar

import numpy as np


class ParamError(ValueError):
    """A detector parameter is out of range; the message names it."""


def check(
    name: str,
    value: float,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
) -> None:
    """Raise :class:`ParamError` (naming ``name``) unless ``value`` is a number in ``[lo, hi]``.

    Examples
    --------
    >>> check("window", 10, lo=4, integer=True)
    >>> check("alpha", 1.5, lo=0.0, hi=1.0)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    ParamError: alpha=1.5 must be <= 1.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParamError(f"{name}={value!r} must be a number")
    if not math.isfinite(value):
        raise ParamError(f"{name}={value!r} must be finite")
    if integer and value != int(value):
        raise ParamError(f"{name}={value!r} must be an integer")
    if lo is not None and value < lo:
        raise ParamError(f"{name}={value!r} must be >= {lo}")
    if hi is not None and value > hi:
        raise ParamError(f"{name}={value!r} must be <= {hi}")


def choice(name: str, value: str, options: tuple[str, ...]) -> None:
    """Raise :class:`ParamError` unless ``value`` is one of ``options``."""
    if value not in options:
        raise ParamError(f"{name}={value!r} must be one of {', '.join(map(repr, options))}")


class Detector:
    """Base class: score, then learn, one value at a time.

    Subclasses implement ``score_one``, ``learn_one`` and ``ready``; they use
    ``__slots__`` so per-sensor state stays small and pickles fast.

    ``guard``: when set, a value whose score is at or above it is not learnt
    ("do not learn from anomalies"), so a long anomaly does not become the norm.
    ``patience``: with a guard, after this many held-back values in a row the detector
    learns anyway, so a lasting change (a new baseline) stops alerting once learnt;
    None (the default) holds back for ever.
    """

    __slots__ = ("guard", "patience", "_held")
    #: Bumped whenever the pickled state layout changes.
    version: ClassVar[int] = 2
    name: ClassVar[str] = "detector"

    def __init__(self, guard: float | None = None, patience: int | None = None) -> None:
        if guard is not None:
            check("guard", guard, lo=0.0)
        if patience is not None:
            check("patience", patience, lo=0, integer=True)
        self.guard = guard
        self.patience = None if patience is None else int(patience)
        self._held = 0  # values held back by the guard in a row

    # -- protocol ---------------------------------------------------------------
    @property
    def ready(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_one(self, x: float, ts: float = 0.0) -> float:  # pragma: no cover
        raise NotImplementedError

    def learn_one(self, x: float, ts: float = 0.0) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------
    def update(self, x: float, ts: float = 0.0) -> float:
        """Score ``x`` then learn it (unless the guard holds it back); return the score.

        A NaN or infinite ``x`` scores 0.0 and is not learnt (``x - x`` is NaN for both).
        """
        if x - x != 0.0:
            return 0.0
        s = self.score_one(x, ts)
        if self.admit(s):
            self.learn_one(x, ts)
        return s

    def admit(self, s: float) -> bool:
        """Whether a value that scored ``s`` is learnt (guard and patience); counts holds.

        Called once per value by ``update`` (never by ``score_one``).
        """
        g = self.guard
        if g is None or s < g:
            if self._held:
                self._held = 0
            return True
        self._held += 1
        return self.patience is not None and self._held > self.patience

    def update_many(self, xs: np.ndarray, ts: np.ndarray | None = None) -> np.ndarray:
        """``update`` over a batch (values, optional epoch-second times); returns the scores.

        Equal, value for value, to calling ``update`` in a loop; subclasses may override it
        with a faster version that keeps that equality.
        """
        xs = np.asarray(xs, dtype=float)
        n = len(xs)
        out = np.zeros(n)
        tl = [0.0] * n if ts is None else np.asarray(ts, dtype=float).tolist()
        upd = self.update
        for i, (x, t) in enumerate(zip(xs.tolist(), tl, strict=True)):
            out[i] = upd(x, t)
        return out

    def expected(self, ts: float = 0.0) -> float | None:
        """The value the detector currently expects (for explanations), or None."""
        return None

    def params(self) -> dict:
        """The constructor parameters of this detector (they are kept as attributes)."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in list(sig.parameters)[1:] if hasattr(self, k)}

    def clone(self) -> Detector:
        """A fresh, untrained detector with the same parameters (wrapped detectors too)."""

        def fresh(v):
            if isinstance(v, Detector):
                return v.clone()
            if isinstance(v, (list, tuple)) and any(isinstance(i, Detector) for i in v):
                return type(v)(fresh(i) for i in v)
            return v

        return type(self)(**{k: fresh(v) for k, v in self.params().items()})

    def __getstate__(self) -> dict:
        state = {"__version__": self.version}
        for cls in type(self).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(self, slot):
                    state[slot] = getattr(self, slot)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        v = state.pop("__version__", None)
        if v != self.version:
            raise ValueError(f"{type(self).__name__}: state version {v} != {self.version}")
        for k, val in state.items():
            object.__setattr__(self, k, val)
