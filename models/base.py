"""The detector protocol every streaming detector in :mod:`models` follows.

A detector watches one series. For each reading it first *scores* (pure: no state
change), then *learns*. ``update`` does both and is what flows call; ``update_many``
does the same over a numpy batch. Scores are raw (detector-specific scale, higher is
more anomalous); :mod:`models.calibrate` maps them to a comparable 0-1 likelihood.
Before ``ready`` (warm-up) a detector's score is 0.0 and it never alerts.

State (what ``pickle`` and ``copy`` keep, for every per-sensor snapshot): the tuple
``(version, parameters, other slots...)``, values only, in a slot order fixed per class
(:class:`Layout`). Equal parameter tuples are one shared object, so detectors loaded
from the same prototype share them in memory and a snapshot of many sensors pickles them
once. ``_transient`` slots (caches, a sorted copy of a window) are not stored; ``_restore``
recomputes them at load. ``_arrays`` slots (an ``array``) are stored as raw bytes, their
typecode first, without the array reconstructor's global and tuple (about 60 bytes less
per sensor in a snapshot). A state of another ``version`` is refused with a ValueError.
"""

from __future__ import annotations

import ast
import copyreg
import inspect
import math
import operator
import sys
import zlib
from array import array
from typing import ClassVar

import numpy as np

#: Values beyond +-BIG are treated like NaN and infinities: scored 0.0, never learnt. No
#: sensor reads them (the flow's codecs reject anything beyond 1e15), and their squares
#: would overflow the detectors' sums. ``not -BIG < x < BIG`` is also true for NaN.
BIG = 1e150


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
    version: ClassVar[int] = 3
    #: Slots not pickled: derived from the others, recomputed by ``_restore`` at load.
    _transient: ClassVar[tuple[str, ...]] = ()
    #: Slots holding an ``array``, pickled as bytes (:func:`pack_array`).
    _arrays: ClassVar[tuple[str, ...]] = ()
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

        A NaN, infinite or absurd ``x`` (beyond :data:`BIG`) scores 0.0 and is not learnt.
        """
        if not -BIG < x < BIG:
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
        sig = init_signature(type(self))
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

    # -- state ------------------------------------------------------------------
    def _restore(self) -> None:
        """Recompute the :attr:`_transient` slots once the state is loaded (default: none).

        Called by :meth:`__setstate__` after the pickled slots are set.
        """

    def __reduce_ex__(self, protocol: int):
        cls = type(self)
        if cls.__getstate__ is Detector.__getstate__:  # the compact tuple, rebuilt by BUILD
            return copyreg.__newobj__, (cls,), self.__getstate__()
        # a subclass transforms the state as a dict: store the values only, in slot order
        lay = layout(cls)
        state = self.__getstate__()
        if isinstance(state, dict) and state.keys() == lay.keyset:
            state = (state["__version__"], *map(state.__getitem__, lay.names))
        return _revive, (cls, state)

    def __getstate__(self) -> tuple | dict:
        """``(version, shared parameters, other slots...)`` in a fixed slot order.

        A subclass that overrides ``__getstate__`` gets (through ``super()``) a dict of
        slot name -> value plus ``"__version__"``, changes what it needs and returns it;
        it is stored as a tuple all the same (:meth:`__reduce_ex__`).
        """
        cls = type(self)
        lay = _LAYOUTS.get(cls) or layout(cls)
        if cls.__getstate__ is not Detector.__getstate__:
            state = {"__version__": self.version}
            for k in lay.names:
                v = getattr(self, k, _UNSET)
                if v is not _UNSET:
                    state[k] = v
            return state
        try:
            p = lay.get_shared(self)
            rest = lay.get_rest(self)
        except AttributeError:  # a slot never set: store the marker
            p = tuple(getattr(self, k, _UNSET) for k in lay.shared)
            rest = tuple(getattr(self, k, _UNSET) for k in lay.rest)
        if lay.arrays:
            rest = list(rest)
            for i in lay.arrays:
                a = rest[i]
                if type(a) is array:
                    rest[i] = pack_array(a)
        if lay.share:
            try:
                c = _SHARED.get(p)
            except TypeError:  # an unhashable parameter (a list): not shared
                lay.share = False
            else:  # same objects -> the same tuple, pickled once per snapshot (memo)
                if c is not None and all(map(operator.is_, map(type, p), map(type, c))):
                    p = c  # (equal values of the same types; as shared() at load)
        return (self.version, p, *rest)

    def __setstate__(self, state: tuple | dict) -> None:
        cls = type(self)
        lay = _LAYOUTS.get(cls) or layout(cls)
        if type(state) is tuple:
            if not state or state[0] != self.version:
                v = state[0] if state else None
                raise ValueError(f"{cls.__name__}: state version {v} != {self.version}")
            if len(state) != lay.size or len(state[1]) != len(lay.shared):
                raise ValueError(f"{cls.__name__}: state has {len(state)} fields, "
                                 f"expected {lay.size}")
            p = shared(state[1]) if lay.share else state[1]
            put = object.__setattr__
            for k, val in zip(lay.shared, p, strict=True):
                put(self, k, val)
            for k, val in zip(lay.rest, state[2:], strict=True):
                if val is not _UNSET:
                    put(self, k, val)
        else:  # the dict form (a subclass's own __setstate__, or a version-2 snapshot)
            state = dict(state)
            v = state.pop("__version__", None)
            if v != self.version:
                raise ValueError(f"{cls.__name__}: state version {v} != {self.version}")
            for k, val in state.items():
                if val is not _UNSET:
                    object.__setattr__(self, k, val)
        for k in lay.array_names:
            v = getattr(self, k, None)
            if type(v) is bytes:
                object.__setattr__(self, k, unpack_array(v))
        self._restore()


class _Unset:
    """Marker for a slot that was never set (pickled by reference)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_UNSET"


_UNSET = _Unset()


class Layout:
    """The pickled slot order of one detector class, computed once and cached.

    ``shared``: the constructor parameters kept as slots, stored as one tuple that is
    shared between detectors with equal parameters (one object in memory; pickled once
    per snapshot of many detectors); ``rest``: every other slot but the ``_transient``
    ones (rebuilt at load by ``_restore``).
    """

    __slots__ = ("shared", "rest", "names", "size", "keyset", "get_shared", "get_rest", "share",
                 "arrays", "array_names")

    def __init__(self, cls: type) -> None:
        slots: list[str] = []
        for c in reversed(cls.__mro__):
            own = c.__dict__.get("__slots__", ())
            for s in (own,) if isinstance(own, str) else own:
                if s not in ("__weakref__", "__dict__") and s not in slots:
                    slots.append(s)
        skip = set(getattr(cls, "_transient", ()))
        sig = init_signature(cls).parameters
        # parameters holding detectors (members, a wrapped detector) are state, not shared
        self.shared = tuple(
            k for k in sig
            if k in slots and k not in skip and "Detector" not in str(sig[k].annotation)
        )
        self.rest = tuple(s for s in slots if s not in skip and s not in self.shared)
        self.names = self.shared + self.rest
        self.size = 2 + len(self.rest)
        self.keyset = {"__version__", *self.names}
        self.get_shared = _getter(self.shared)
        self.get_rest = _getter(self.rest)
        self.share = bool(self.shared)
        own = set(getattr(cls, "_arrays", ()))
        #: positions in ``rest`` (and names) of the slots pickled as bytes
        self.arrays = tuple(i for i, k in enumerate(self.rest) if k in own)
        self.array_names = tuple(self.rest[i] for i in self.arrays)


#: Arrays of at least this many bytes are stored zlib-compressed when that is smaller:
#: in practice novelty's 300-value history and full week profiles (at 310 steps of the
#: simulator: 2,042 -> 1,712 pickled bytes per sensor). A compression costs ~30-60 µs
#: here (zlib's set-up, whatever the level), so smaller arrays are left as they are.
ZIP_FROM = 400


def pack_array(a: array) -> bytes:
    """``a`` as bytes: its typecode, then its items' bytes (machine order); from
    :data:`ZIP_FROM` bytes on, ``z``, the typecode and the zlib-compressed items when
    that is shorter (``z`` is no array typecode).

    >>> unpack_array(pack_array(array("h", [1, -2])))
    array('h', [1, -2])
    >>> b = pack_array(array("h", [7] * 300))
    >>> b[:2], len(b) < 100, unpack_array(b) == array("h", [7] * 300)
    (b'zh', True, True)
    """
    raw = a.tobytes()
    if len(raw) >= ZIP_FROM:
        z = zlib.compress(raw)
        if len(z) + 1 < len(raw):
            return b"z" + a.typecode.encode() + z
    return a.typecode.encode() + raw


def unpack_array(b: bytes) -> array:
    """The array :func:`pack_array` made ``b`` of."""
    if b[0] == 122:  # b"z": compressed
        a = array(chr(b[1]))
        a.frombytes(zlib.decompress(memoryview(b)[2:]))
        return a[:]
    a = array(chr(b[0]))
    a.frombytes(memoryview(b)[1:])
    return a[:]  # (a copy of the exact size: frombytes leaves room to grow)


def _getter(names: tuple[str, ...]):
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        g = operator.attrgetter(names[0])
        return lambda obj: (g(obj),)
    return operator.attrgetter(*names)


_LAYOUTS: dict[type, Layout] = {}


def layout(cls: type) -> Layout:
    """The (cached) :class:`Layout` of ``cls``."""
    lay = _LAYOUTS.get(cls)
    if lay is None:
        lay = _LAYOUTS[cls] = Layout(cls)
    return lay


#: parameter tuple -> the one shared instance of it (bounded: cleared when full)
_SHARED: dict[tuple, tuple] = {}


def shared(p: tuple) -> tuple:
    """The shared instance of the parameter tuple ``p`` (``p`` itself the first time).

    Equal tuples with elements of other types (``5`` and ``5.0``) are not merged.
    """
    try:
        c = _SHARED.get(p)
    except TypeError:  # unhashable
        return p
    if c is None:
        if len(_SHARED) >= 4096:
            _SHARED.clear()
        _SHARED[p] = p
        return p
    return c if all(map(operator.is_, map(type, c), map(type, p))) else p


def _revive(cls: type, state: tuple | dict) -> Detector:
    """Unpickle a detector whose class transforms its state as a dict (its ``__setstate__``)."""
    obj = cls.__new__(cls)
    if isinstance(state, tuple):  # (version, value of each slot in layout order)
        lay = layout(cls)
        if len(state) != 1 + len(lay.names):
            raise ValueError(f"{cls.__name__}: state has {len(state)} fields, "
                             f"expected {1 + len(lay.names)}")
        state = {"__version__": state[0], **dict(zip(lay.names, state[1:], strict=True))}
    obj.__setstate__(state)
    return obj


_SIGS: dict[type, inspect.Signature] = {}


def init_signature(cls: type) -> inspect.Signature:
    """The signature of ``cls.__init__`` (its parameters name a detector's settings).

    A class compiled by Cython (``setup.py``) keeps no signature for ``__init__``; it is
    then read from the ``.py`` source next to the compiled module, which is what was
    compiled.

    Examples
    --------
    >>> from models.robust_z import RobustZ
    >>> list(init_signature(RobustZ).parameters)[:3]
    ['self', 'window', 'min_samples']
    """
    sig = _SIGS.get(cls)
    if sig is None:
        owner = next((c for c in cls.__mro__ if "__init__" in c.__dict__), object)
        init = owner.__dict__.get("__init__")
        if inspect.isfunction(init) or owner is object:
            sig = inspect.signature(cls.__init__)
        else:
            sig = _source_signature(owner)
        _SIGS[cls] = sig
    return sig


def _source_signature(cls: type) -> inspect.Signature:
    """``cls.__init__``'s signature read from the source of a compiled module."""
    from models.compiled import source

    f = source(sys.modules[cls.__module__].__file__)
    if f is None:
        raise TypeError(f"{cls.__qualname__}: no signature and no .py source")
    for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "__init__":
                    return _ast_signature(fn.args)
    raise TypeError(f"{cls.__qualname__}: no __init__ in {f}")


def _ast_signature(a: ast.arguments) -> inspect.Signature:
    P = inspect.Parameter

    def one(arg: ast.arg, kind, default: ast.expr | None) -> inspect.Parameter:
        ann = ast.unparse(arg.annotation) if arg.annotation else P.empty
        d = P.empty if default is None else ast.literal_eval(default)
        return P(arg.arg, kind, default=d, annotation=ann)

    pos = a.posonlyargs + a.args
    defaults: list[ast.expr | None] = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    ps = [one(x, P.POSITIONAL_ONLY if i < len(a.posonlyargs) else P.POSITIONAL_OR_KEYWORD, d)
          for i, (x, d) in enumerate(zip(pos, defaults, strict=True))]
    if a.vararg:
        ps.append(one(a.vararg, P.VAR_POSITIONAL, None))
    ps += [one(x, P.KEYWORD_ONLY, d) for x, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    if a.kwarg:
        ps.append(one(a.kwarg, P.VAR_KEYWORD, None))
    return inspect.Signature(ps)
