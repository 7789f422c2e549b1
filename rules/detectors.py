"""Detectors named in rule packs: ``{name: robust_z, params: {window: 96}}`` -> a factory.

Uses ``models.registry.make`` when it exists; otherwise finds the :class:`models.base.Detector`
subclass whose ``name`` matches among the modules of :mod:`models`.
"""

from __future__ import annotations

import functools
import importlib
import pickle
import pkgutil
from collections.abc import Callable

import models
from models.base import Detector


@functools.cache
def _scan() -> dict[str, type[Detector]]:
    found: dict[str, type[Detector]] = {}
    for info in pkgutil.iter_modules(models.__path__):
        if info.name in ("base", "reading", "registry"):
            continue
        try:
            mod = importlib.import_module(f"models.{info.name}")
        except Exception:  # noqa: BLE001 - an optional dependency missing: skip that module
            continue
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Detector) and obj is not Detector:
                found.setdefault(obj.name, obj)
    return found


def names() -> list[str]:
    """Known detector names."""
    try:
        from models import registry  # type: ignore[attr-defined]

        return sorted(getattr(registry, "NAMES", None) or _scan())
    except ImportError:
        return sorted(_scan())


def factory(name: str, params: dict) -> Callable[[], Detector]:
    """A zero-argument function making a fresh detector; raises ValueError on a bad name or
    parameter (the detector is built once here to check it)."""
    try:
        from models.registry import make  # type: ignore[import-not-found]
    except ImportError:
        make = None
    if make is not None:
        def build() -> Detector:
            return make(name, **params)
    else:
        cls = _scan().get(name)
        if cls is None:
            raise ValueError(f"unknown detector {name!r}; known: {', '.join(sorted(_scan()))}")

        def build() -> Detector:
            return cls(**params)
    try:
        proto = build()
    except TypeError as e:
        raise ValueError(f"detector {name!r}: {e}") from None
    # a fresh detector is a copy of a pristine one: unpickling costs microseconds where
    # building through the registry (signature checks) costs hundreds
    try:
        blob = pickle.dumps(proto, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)
    except Exception:  # noqa: BLE001 - not picklable: build each time
        return build
    return functools.partial(pickle.loads, blob)
