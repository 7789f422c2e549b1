"""Field mapping: decoded payload field -> kind (+ scale, offset, unit), by configuration.

A LoRaWAN network server hands over a decoded object such as
``{"level": 42, "temp": 21.5, "battery": 3.6}``; this mapping says which fields are
readings and of which kind. A field already named like a kind (``fill_pct``,
``temperature_c``, see :data:`models.reading.KINDS`) maps to it with no configuration.
Adding a device type is a YAML change only::

    fields:                  # any device
      temp: temperature_c    # shorthand: field -> kind
    profiles:                # per device type: ChirpStack device-profile name,
      "Acme Level v2":       # TTS "brand/model" or model id, or the tag ``profile``
        level: {kind: fill_pct}
        distance: {kind: water_level_m, unit: mm}
        lamp: {kind: light_on, values: {ON: 1, OFF: 0}}
        power_dw: {kind: electricity_kw, scale: 0.0001}

``scale`` and ``offset`` apply first (``v * scale + offset``), then ``unit`` is converted
to the kind's canonical unit (:mod:`flows.units`). Nested fields use dotted paths
(``sensor.temp``). ``name`` overrides the sensor suffix (default: the kind).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import msgspec
import yaml

from flows.codecs.base import CodecError
from flows.codecs.common import num
from flows.units import to_canonical
from models.reading import KINDS


class FieldSpec(msgspec.Struct, frozen=True):
    """How one decoded field becomes a reading."""

    kind: str
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    name: str = ""
    values: dict[str, float] = {}

    def value(self, raw: object, field: str) -> tuple[float, str]:
        """Raw field value -> ``(value, unit)`` in the kind's canonical unit."""
        if isinstance(raw, str) and self.values:
            try:
                raw = self.values[raw]
            except KeyError:
                raise CodecError(f"field {field!r}: unmapped value {raw[:32]!r}") from None
        if type(raw) is float and raw - raw == 0.0:  # fast path: a finite float
            v = raw
        else:
            v = num(raw, f"field {field!r}")
        if self.scale != 1.0 or self.offset != 0.0:
            v = v * self.scale + self.offset
        return to_canonical(self.kind, v, self.unit)


def _spec(field: str, s: object) -> FieldSpec:
    if isinstance(s, str):
        s = {"kind": s}
    try:
        spec = msgspec.convert(s, FieldSpec)
    except msgspec.ValidationError as err:
        raise ValueError(f"field mapping {field!r}: {err}") from None
    if not spec.kind:
        raise ValueError(f"field mapping {field!r}: empty kind")
    return spec


class FieldMap:
    """Decoded field -> :class:`FieldSpec`, global and per device profile."""

    def __init__(self, fields: Mapping[str, object] | None = None,
                 profiles: Mapping[str, Mapping[str, object]] | None = None) -> None:
        self.fields = {k: _spec(k, v) for k, v in (fields or {}).items()}
        self.profiles = {p: {k: _spec(f"{p}/{k}", v) for k, v in (m or {}).items()}
                         for p, m in (profiles or {}).items()}
        self._auto = {k: FieldSpec(kind=k) for k in KINDS}
        self._cache: dict[tuple[str, ...], dict[str, FieldSpec]] = {}

    @classmethod
    def load(cls, src: FieldMap | Mapping | str | Path | None) -> FieldMap:
        """A FieldMap from itself, a dict, a YAML file path, or ``None`` (kinds only)."""
        if isinstance(src, FieldMap):
            return src
        if src is None:
            return cls()
        if isinstance(src, str | Path):
            with open(src, encoding="utf-8") as f:
                src = yaml.safe_load(f) or {}
        if not isinstance(src, Mapping):
            raise ValueError("field mapping must be a mapping with 'fields' / 'profiles'")
        unknown = set(src) - {"fields", "profiles"}
        if unknown:
            raise ValueError(f"field mapping: unknown keys {sorted(unknown)}")
        return cls(src.get("fields"), src.get("profiles"))

    def specs(self, profiles: tuple[str, ...]) -> dict[str, FieldSpec]:
        """Every configured field for a device of these profiles (first profile wins)."""
        out = self._cache.get(profiles)
        if out is None:
            out = dict(self.fields)
            for p in reversed(profiles):
                out.update(self.profiles.get(p, {}))
            if len(self._cache) < 10_000:
                self._cache[profiles] = out
        return out

    def extract(self, obj: dict, profiles: tuple[str, ...]) -> list[tuple[str, str, float, str]]:
        """Mapped fields of a decoded object -> ``[(suffix, kind, value, unit)]``.

        Fields named like a kind map with no configuration; other unmapped fields are
        ignored (battery, RSSI...). Raises :class:`CodecError` when nothing maps.
        """
        specs = self.specs(profiles)
        out: list[tuple[str, str, float, str]] = []
        seen: set[str] = set()
        for path, spec in specs.items():
            raw = _get(obj, path)
            if raw is None:
                continue
            out.append(_one(spec, path, raw, seen))
        for field, raw in obj.items():
            if field in specs or raw is None:
                continue
            spec = self._auto.get(field)
            if spec is not None:
                out.append(_one(spec, field, raw, seen))
        if not out:
            names = ", ".join(sorted(str(k) for k in obj)[:12])
            prof = f" (profile {profiles[0]!r})" if profiles else ""
            raise CodecError(f"no mapped field in decoded payload{prof}: {names or 'empty'}")
        return out


def _one(spec: FieldSpec, field: str, raw: object, seen: set[str]):
    v, unit = spec.value(raw, field)
    suffix = spec.name or spec.kind
    if suffix in seen:
        suffix = f"{suffix}.{field}"
    seen.add(suffix)
    return suffix, spec.kind, v, unit


def _get(obj: dict, path: str) -> object:
    if path in obj:
        return obj[path]
    if "." not in path:
        return None
    cur: object = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur
