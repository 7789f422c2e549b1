"""Sensor registry: device id / DevEUI / entity id / sensor -> sensor, place, kind, attributes.

Readings carry what their source knows; the registry adds the rest: the sensor's name,
commune, site, kind, unit, coordinates and attributes (``opening_hours``,
``nominal_power_kw``, ``capacity_l``, ``alert_level_m``, ``danger_level_m``,
``maintenance``...). A reading's own values win over the registry's, attribute by
attribute.

File formats (reloaded when the file changes, see :meth:`Registry.maybe_reload`)::

    # YAML                                   # CSV (extra columns become attributes)
    devices:                                 id,sensor,commune,site,kind,lat,lon,capacity_l
      - id: 70B3D57ED005B89A                 a84041000181c5e1,metz/dechet/c1,metz,...
        ids: [urn:ngsi-ld:WasteContainer:7]  # (CSV: several ids separated by ``|``)
        sensor: metz/dechetterie-nord/c1
        commune: metz
        site: dechetterie-nord
        kind: fill_pct                       # optional: only readings of this kind
        coords: [49.1193, 6.1757]
        capacity_l: 3000                     # any other key is an attribute
        attrs: {opening_hours: "Mo-Sa 09:00-18:00; PH off"}

Quote ids in YAML when they could read as numbers (``"0004030200010530"``): YAML turns
an unquoted all-digit DevEUI into an integer.

Lookup: the reading's sensor, then its ``attrs["device"]`` (set by the device codecs),
first for the reading's kind, then kind-less rows. A device row with a ``sensor`` name
and no kind renames a multi-kind device's readings ``<sensor>/<kind>``.

Readings of devices not in the registry pass with what they carry (commune
``unassigned`` when they name none) and are counted; in strict mode they are rejected
(:class:`UnknownDevice`, reason ``unknown device ...``) for the dead-letter queue.

Resolution is cached per (sensor, kind, device): enriching a reading is a dict lookup,
one attribute merge when the reading has attributes of its own, and the unit check.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from flows.codecs.base import Codec, CodecError
from flows.codecs.common import eui
from flows.units import to_canonical
from models.reading import Reading

UNASSIGNED = "unassigned"
_FIELDS = ("sensor", "commune", "site", "kind", "unit")
_MISS = object()


class UnknownDevice(CodecError):
    """A reading whose device is not in the registry (strict mode)."""


class Entry:
    """One registry row."""

    __slots__ = ("ids", "sensor", "commune", "site", "kind", "unit", "attrs")

    def __init__(self, ids: Iterable[str], sensor: str = "", commune: str = "",
                 site: str = "", kind: str = "", unit: str = "",
                 attrs: Mapping | None = None) -> None:
        self.ids = tuple(eui(str(i).strip()) for i in ids if str(i).strip())
        self.sensor, self.commune, self.site = sensor, commune, site
        self.kind, self.unit = kind, unit
        self.attrs = dict(attrs or {})
        if not self.ids and not sensor:
            raise ValueError("registry row without id or sensor")

    @classmethod
    def from_dict(cls, d: Mapping, default_id: str = "") -> Entry:
        """A row from a YAML mapping (unknown keys become attributes)."""
        d = dict(d)
        ids = d.pop("ids", None) or []
        if isinstance(ids, str):
            ids = ids.split("|")
        one = d.pop("id", default_id)
        ids = (str(one).split("|") if one else []) + list(ids)
        attrs = dict(d.pop("attrs", None) or {})
        fields = {k: str(d.pop(k) or "") for k in _FIELDS if k in d}
        lat, lon = d.pop("lat", None), d.pop("lon", None)
        if "coords" in d:
            attrs["coords"] = _coords(d.pop("coords"))
        elif lat not in (None, "") and lon not in (None, ""):
            attrs["coords"] = _coords([lat, lon])
        for k, v in d.items():
            if v not in (None, ""):
                attrs.setdefault(k, _value(v))
        return cls(ids, attrs=attrs, **fields)


def _value(v: object) -> object:
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return v
        return f if f == f and abs(f) != float("inf") else v
    return v


def _coords(c: object) -> list[float]:
    if not isinstance(c, list | tuple) or len(c) != 2:
        raise ValueError(f"coords must be [lat, lon], got {c!r}")
    lat, lon = float(c[0]), float(c[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"coords out of range: {c!r}")
    return [lat, lon]


def load_rows(path: str | Path) -> list[Entry]:
    """Rows of a registry file (``.csv``, or ``.yaml`` / ``.yml``)."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        with open(p, encoding="utf-8-sig", newline="") as f:
            return [Entry.from_dict({k.strip(): (v or "").strip() for k, v in row.items()
                                     if k is not None})
                    for row in csv.DictReader(f)]
    with open(p, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    devices = doc.get("devices", []) if isinstance(doc, dict) else doc
    if isinstance(devices, dict):
        return [Entry.from_dict(v or {}, default_id=k) for k, v in devices.items()]
    if not isinstance(devices, list):
        raise ValueError(f"{p}: 'devices' must be a list or a mapping")
    return [Entry.from_dict(d) for d in devices]


class Registry:
    """Enriches readings from registry rows; see the module docstring.

    >>> reg = Registry([Entry(["a84041000181c5e1"], sensor="metz/dechet/c1",
    ...                       commune="metz", site="dechet", attrs={"capacity_l": 3000})])
    >>> r = Reading(sensor="a84041000181c5e1/fill_pct", ts=0.0, value=40.0,
    ...             kind="fill_pct", attrs={"device": "a84041000181c5e1"})
    >>> e = reg.enrich(r)
    >>> e.sensor, e.commune, e.attrs["capacity_l"]
    ('metz/dechet/c1/fill_pct', 'metz', 3000)
    """

    def __init__(self, rows: Iterable[Entry] = (), *, strict: bool = False,
                 path: str | Path | None = None, check_every: float = 5.0) -> None:
        self.strict = strict
        self.path = Path(path) if path else None
        self.check_every = check_every
        self.unknown = 0
        self.unknown_ids: set[str] = set()
        self.error: str | None = None
        self.reloads = 0
        self._stamp = self._stat()
        self._next_check = time.monotonic() + check_every
        self._index(rows)

    @classmethod
    def load(cls, path: str | Path, *, strict: bool = False,
             check_every: float = 5.0) -> Registry:
        """A registry from a CSV or YAML file, reloaded when the file changes."""
        return cls(load_rows(path), strict=strict, path=path, check_every=check_every)

    def _index(self, rows: Iterable[Entry]) -> None:
        idx: dict[tuple[str, str | None], Entry] = {}
        n = 0
        for row in rows:
            n += 1
            keys = row.ids + ((row.sensor,) if row.sensor and row.sensor not in row.ids else ())
            for k in keys:
                idx.setdefault((k, row.kind), row)
                idx.setdefault((k, None), row)
        self._idx = idx
        self._cache: dict[tuple, object] = {}
        self.size = n

    def __len__(self) -> int:
        return self.size

    # -- reloading -------------------------------------------------------------------
    def _stat(self) -> tuple[float, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def maybe_reload(self, force: bool = False) -> bool:
        """Reload the file if it changed (checked at most every ``check_every`` s).

        A file that fails to load keeps the previous rows and sets :attr:`error`.
        """
        if self.path is None:
            return False
        now = time.monotonic()
        if not force and now < self._next_check:
            return False
        self._next_check = now + self.check_every
        stamp = self._stat()
        if not force and (stamp is None or stamp == self._stamp):
            return False
        try:
            rows = load_rows(self.path)
        except (OSError, ValueError, TypeError, yaml.YAMLError, csv.Error) as err:
            self.error = f"{type(err).__name__}: {err}"
            self._stamp = stamp
            return False
        self._stamp = stamp
        self._index(rows)
        self.error = None
        self.reloads += 1
        return True

    # -- enrichment ------------------------------------------------------------------
    def _resolve(self, sensor: str, kind: str, dev: str | None) -> object:
        idx = self._idx
        row = key = None
        for key in (sensor, dev):
            if not key:
                continue
            row = idx.get((key, kind)) or idx.get((key, ""))
            if row is None and not kind:
                row = idx.get((key, None))
            if row is not None:
                break
        if row is None:
            return None
        name = sensor
        if row.sensor:
            if key == sensor or row.kind:
                name = row.sensor
            else:
                rest = sensor[len(key):] if sensor.startswith(key) else ""
                name = row.sensor + (rest if rest.startswith("/") else f"/{kind or sensor}")
        return (name, row.commune, row.site, row.kind, row.unit, row.attrs)

    def enrich(self, r: Reading) -> Reading:
        """``r`` completed from the registry, in canonical units; see the module doc.

        Raises :class:`UnknownDevice` in strict mode, :class:`CodecError` for an
        impossible value or unconvertible unit.
        """
        a = r.attrs
        dev = a.get("device") if a else None
        if dev is not None and not isinstance(dev, str):
            dev = None
        ck = (r.sensor, r.kind, dev)
        res = self._cache.get(ck, _MISS)
        if res is _MISS:
            res = self._resolve(r.sensor, r.kind, dev)
            if len(self._cache) >= 1_000_000:
                self._cache.clear()
            self._cache[ck] = res
        if res is None:
            self.unknown += 1
            if len(self.unknown_ids) < 10_000:
                self.unknown_ids.add(dev or r.sensor)
            if self.strict:
                raise UnknownDevice(f"unknown device {dev or r.sensor!r}"[:200])
            v, unit = to_canonical(r.kind, r.value, r.unit)
            if r.commune and v == r.value and unit == r.unit:
                return r
            return Reading(sensor=r.sensor, ts=r.ts, value=v, kind=r.kind, unit=unit,
                           commune=r.commune or UNASSIGNED, site=r.site, attrs=a)
        name, commune, site, kind, unit, attrs = res
        if r.kind:
            kind, unit = r.kind, (r.unit or unit if r.kind == kind else r.unit)
        elif r.unit:
            unit = r.unit
        v, unit = to_canonical(kind, r.value, unit)
        if a:
            attrs = {**attrs, **a} if attrs else a
        return Reading(sensor=name, ts=r.ts, value=v, kind=kind, unit=unit,
                       commune=r.commune or commune or UNASSIGNED, site=r.site or site,
                       attrs=attrs)

    def enrich_many(self, readings: Iterable[Reading]
                    ) -> tuple[list[Reading], list[tuple[Reading, str]]]:
        """Enrich a batch: ``(enriched, [(reading, reason)])``; reloads if due."""
        self.maybe_reload()
        good: list[Reading] = []
        bad: list[tuple[Reading, str]] = []
        enrich = self.enrich
        for r in readings:
            try:
                good.append(enrich(r))
            except CodecError as err:
                bad.append((r, str(err)))
        return good, bad

    def wrap(self, codec: Codec) -> Codec:
        """``codec`` followed by enrichment: one Codec whose rejects keep the raw bytes.

        Use it with :func:`flows.codecs.base.decode_batch`, so unknown devices (strict
        mode) and impossible values reach the dead-letter queue with the original
        message and the reason.
        """
        enrich = self.enrich

        def decode(raw: bytes) -> list[Reading]:
            if time.monotonic() >= self._next_check:
                self.maybe_reload()
            return [enrich(r) for r in codec(raw)]

        return decode
