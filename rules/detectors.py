"""Detectors named in rule packs: ``{name: robust_z, params: {window: 96}}`` -> a factory
of fresh detectors (:func:`models.registry.make`)."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable

from models.base import Detector
from models.registry import NAMES, make


def names() -> list[str]:
    """Known detector names."""
    return sorted(NAMES)


def factory(name: str, params: dict) -> Callable[[], Detector]:
    """A zero-argument function making a fresh detector; raises ValueError on a bad name or
    parameter (the detector is built once here to check it)."""

    def build() -> Detector:
        return make(name, **params)

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
