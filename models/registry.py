"""Detectors by name: what rule packs and benchmarks use to ask for one.

``make("ewma", lam=0.1)`` builds a detector; an unknown name or a bad parameter raises
:class:`models.base.ParamError` with a message naming it. A *spec* is a name or a dict
``{"name": ..., **params}``; ``likelihood`` and ``ensemble`` take specs for the detectors
they wrap, so a whole configuration is plain data (YAML-friendly)::

    {"name": "ensemble", "how": "max",
     "members": ["robust_z", {"name": "seasonal", "period": "week"}]}
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from models.base import Detector, ParamError, init_signature
from models.calibrate import Likelihood
from models.ensemble import Ensemble

Spec = str | Mapping[str, Any]

#: name -> "module:Class"; modules are imported on first use (river and scikit-learn
#: take seconds to import, and most processes only need the statistical detectors).
_WHERE: dict[str, str] = {
    "robust_z": "models.robust_z:RobustZ",
    "mad": "models.mad:MAD",
    "zscore": "models.zscore:ZScore",
    "ewma": "models.ewma:EWMA",
    "cusum": "models.cusum:CUSUM",
    "page_hinkley": "models.page_hinkley:PageHinkley",
    "seasonal": "models.seasonal:Seasonal",
    "seasonal_z": "models.seasonal_z:SeasonalZ",
    "rate": "models.rate:Rate",
    "flatline": "models.flatline:Flatline",
    "hst": "models.hst:HST",
    "ocsvm": "models.ocsvm:OCSVM",
    "forecast": "models.forecast:Forecast",
    "iforest": "models.iforest:IForest",
    "likelihood": "models.calibrate:Likelihood",
    "ensemble": "models.ensemble:Ensemble",
    "context_novelty": "models.novelty:ContextNovelty",
    "combine": "models.combine:Combine",
}


def detector_class(name: str) -> type[Detector]:
    """The class registered as ``name`` (imported on first use)."""
    module, cls = _WHERE[name].split(":")
    return getattr(importlib.import_module(module), cls)


#: Every registered name.
NAMES: tuple[str, ...] = tuple(_WHERE)

#: The detector the live flow uses when a rule pack names none.
DEFAULT: dict[str, Any] = {"name": "robust_z"}


def _nested(param: str, spec: Spec | Detector) -> Detector:
    try:
        return build(spec)
    except ParamError as e:
        raise ParamError(f"{param}: {e}") from None


def _likelihood(detector: Spec = "robust_z", **params: Any) -> Likelihood:
    return Likelihood(_nested("detector", detector), **params)


def _ensemble(members: list[Spec] | tuple[Spec, ...] = ("robust_z", "ewma"), **params: Any):
    if isinstance(members, (str, Mapping)) or not members:
        raise ParamError(f"members={members!r} must be a non-empty list of specs")
    return Ensemble([_nested(f"members[{i}]", m) for i, m in enumerate(members)], **params)


def _combine(members: list[Spec] | tuple[Spec, ...] = ("context_novelty",), **params: Any):
    from models.combine import Combine

    if isinstance(members, (str, Mapping)) or not members:
        raise ParamError(f"members={members!r} must be a non-empty list of specs")
    return Combine([_nested(f"members[{i}]", m) for i, m in enumerate(members)], **params)


_BUILDERS: dict[str, Callable[..., Detector]] = {
    "likelihood": _likelihood, "ensemble": _ensemble, "combine": _combine,
}


def make(name: str, **params: Any) -> Detector:
    """A new detector registered as ``name`` with ``params``.

    Examples
    --------
    >>> make("ewma", lam=0.1).lam
    0.1
    >>> make("ewm")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ParamError: unknown detector 'ewm'; did you mean 'ewma'?
    >>> make("ewma", lambda_=0.1)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ParamError: ewma: unknown parameter 'lambda_' (known: lam, alpha, ...)
    """
    if not isinstance(name, str) or name not in _WHERE:
        near = difflib.get_close_matches(str(name), NAMES, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(NAMES)}"
        raise ParamError(f"unknown detector {name!r}{hint}")
    cls = detector_class(name)
    builder = _BUILDERS.get(name, cls)
    known = _accepted(builder) | _accepted(cls)
    for k in params:
        if k not in known:
            raise ParamError(f"{name}: unknown parameter {k!r} (known: {', '.join(sorted(known))})")
    try:
        return builder(**params)
    except ParamError as e:
        raise ParamError(f"{name}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ParamError(f"{name}: bad parameters {params!r}: {e}") from None


def _accepted(fn: Callable[..., Any]) -> set[str]:
    ps = (init_signature(fn) if isinstance(fn, type) else inspect.signature(fn)).parameters
    return {k for k, p in ps.items() if k != "self" and p.kind is not p.VAR_KEYWORD}


def build(spec: Spec | Detector) -> Detector:
    """A detector from a spec: a name, or a dict with ``name`` and parameters.

    Examples
    --------
    >>> d = build({"name": "likelihood", "detector": {"name": "robust_z", "window": 48}})
    >>> d.detector.window
    48
    """
    if isinstance(spec, Detector):
        return spec
    if isinstance(spec, str):
        return make(spec)
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        params = {k: v for k, v in spec.items() if k != "name"}
        return make(spec["name"], **params)
    raise ParamError(f"detector spec {spec!r} must be a name or a mapping with a 'name'")
