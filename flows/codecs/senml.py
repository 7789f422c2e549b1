"""SenML JSON (RFC 8428): a pack of records -> one reading per numeric record.

Records are resolved as the RFC says: base name ``bn`` + name ``n``; base time ``bt`` +
time ``t`` (a resolved time below 2**28 is relative to now); base unit ``bu`` unless the
record has ``u``; base value ``bv`` + ``v`` and base sum ``bs`` + ``s``. Base fields
apply to every later record until replaced. A record with both a value and a sum gives
two readings (the sum under ``<name>/sum``; a sum alone keeps the name). String and
data values (``vs``, ``vd``) are not measurements and are skipped; a pack with no
measurement at all is rejected.
Labels ending in ``_`` must be understood (RFC 8428 section 4.4): they are rejected.

The kind comes from the configured mapping (last segment of the resolved name, after
``:`` or ``/``), else a name that is a kind, a common name (``temperature``,
``humidity``...), or the SenML unit (``Cel``, ``%RH``, ``kWh``...). SenML units are
converted to the kind's canonical unit. The sensor is the resolved name and
``attrs["device"]`` the base name without its trailing separator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from flows.codecs.base import MAX_ABS, Codec, CodecError
from flows.codecs.common import MAX_TS, loads, number
from flows.codecs.fields import FieldMap, FieldSpec
from flows.units import to_canonical
from models.reading import KINDS, Reading

#: Common SenML record names -> kind (lower-cased last name segment).
NAMES: dict[str, str] = {
    "temperature": "temperature_c", "temp": "temperature_c",
    "humidity": "humidity_pct", "relativehumidity": "humidity_pct", "rh": "humidity_pct",
    "co2": "co2_ppm", "pm25": "pm25_ugm3", "pm2.5": "pm25_ugm3", "pm2_5": "pm25_ugm3",
    "pm10": "pm10_ugm3", "no2": "no2_ugm3", "o3": "o3_ugm3",
    "noise": "noise_dba", "laeq": "noise_dba", "sound": "noise_dba",
    "illuminance": "lux", "luminosity": "lux", "light": "lux",
    "power": "electricity_kw", "activepower": "electricity_kw",
    "energy": "electricity_kwh", "activeenergy": "electricity_kwh",
    "voltage": "voltage_v", "current": "current_a",
    "door": "door_open", "occupancy": "occupancy", "fillinglevel": "fill_pct",
    "filllevel": "fill_pct", "waterlevel": "water_level_m", "flow": "water_lph",
    "volume": "water_m3",
}

#: SenML unit -> kind, when the name says nothing.
UNITS: dict[str, str] = {
    "Cel": "temperature_c", "K": "temperature_c", "%RH": "humidity_pct",
    "W": "electricity_kw", "kW": "electricity_kw", "Wh": "electricity_kwh",
    "kWh": "electricity_kwh", "V": "voltage_v", "mV": "voltage_v", "A": "current_a",
    "mA": "current_a", "lx": "lux", "ppm": "co2_ppm", "m3": "water_m3",
    "l/h": "water_lph", "m3/h": "water_lph",
}

_KNOWN = {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t",
          "ut"}
_REL = 2.0**28


def _f(x: object, i: int, label: str) -> float:
    if type(x) is float:  # fast path; non-finite values are caught after arithmetic
        return x
    return number(x, f"SenML record {i} {label}")


def _kind(fmap: FieldMap, name: str, unit: str) -> FieldSpec | None:
    seg = name.replace("/", ":").rstrip(":").rsplit(":", 1)[-1]
    spec = fmap.fields.get(seg) or fmap.fields.get(name)
    if spec is not None:
        return spec
    if seg in KINDS:
        return FieldSpec(kind=seg)
    k = NAMES.get(seg.lower()) or UNITS.get(unit)
    return FieldSpec(kind=k) if k else None


def make(mapping: FieldMap | Mapping | str | Path | None = None,
         clock: Callable[[], float] = time.time) -> Codec:
    """A SenML codec; ``mapping`` maps record names to kinds, ``clock`` gives "now"."""
    fmap = FieldMap.load(mapping)
    kinds: dict[tuple[str, str], FieldSpec | None] = {}

    def kind_of(name: str, unit: str) -> FieldSpec | None:
        key = (name, unit)
        try:
            return kinds[key]
        except KeyError:
            spec = kinds[key] = _kind(fmap, name, unit)
            if len(kinds) > 100_000:
                kinds.clear()
            return spec

    def decode(raw: bytes) -> list[Reading]:
        pack = loads(raw, "SenML JSON")
        if isinstance(pack, dict):
            pack = [pack]
        if not isinstance(pack, list) or not pack:
            raise CodecError("SenML pack must be a non-empty array of records")
        bn, bt, bu, bv, bs = "", 0.0, "", 0.0, 0.0
        out: list[Reading] = []
        now: float | None = None
        attrs: dict = {}
        last_dev = None
        for i, rec in enumerate(pack):
            if not isinstance(rec, dict):
                raise CodecError(f"SenML record {i} is not an object")
            for k in rec:
                if k not in _KNOWN and k.endswith("_"):
                    raise CodecError(f"SenML record {i}: must-understand label {k[:32]!r}")
            if "bn" in rec:
                if not isinstance(rec["bn"], str):
                    raise CodecError(f"SenML record {i}: bn is not a string")
                bn = rec["bn"]
            if "bt" in rec:
                bt = number(rec["bt"], f"SenML record {i} bt")
            if "bu" in rec:
                if not isinstance(rec["bu"], str):
                    raise CodecError(f"SenML record {i}: bu is not a string")
                bu = rec["bu"]
            if "bv" in rec:
                bv = number(rec["bv"], f"SenML record {i} bv")
            if "bs" in rec:
                bs = number(rec["bs"], f"SenML record {i} bs")
            if "bver" in rec and not (isinstance(rec["bver"], int)
                                      and not isinstance(rec["bver"], bool)):
                raise CodecError(f"SenML record {i}: bver is not an integer")
            n = rec.get("n", "")
            u = rec.get("u", bu)
            if not isinstance(n, str) or not isinstance(u, str):
                raise CodecError(f"SenML record {i}: n/u is not a string")
            name = bn + n
            has_v = "v" in rec or "vb" in rec
            has_s = "s" in rec
            if not (has_v or has_s):
                if "vs" in rec or "vd" in rec or not n:
                    continue  # string/data value, or a base-fields-only record
                if "bv" not in rec and bv == 0.0:
                    raise CodecError(f"SenML record {i} ({name[:64]!r}) has no value")
                has_v = True  # only a base value: the value is bv
            if not name:
                raise CodecError(f"SenML record {i} has no name")
            t = bt + (_f(rec["t"], i, "t") if "t" in rec else 0.0)
            if t < _REL:
                if now is None:
                    now = clock()
                t += now
            if not 0.0 <= t <= MAX_TS:  # also catches NaN
                raise CodecError(f"SenML record {i}: time out of range: {t!r}")
            dev = bn.rstrip(":/") if bn else name
            if dev != last_dev:
                attrs, last_dev = {"device": dev}, dev
            if has_v:
                if "vb" in rec:
                    if not isinstance(rec["vb"], bool):
                        raise CodecError(f"SenML record {i}: vb is not a boolean")
                    v = 1.0 if rec["vb"] else 0.0
                else:
                    v = bv + (_f(rec["v"], i, "v") if "v" in rec else 0.0)
                out.append(_reading(kind_of, name, t, v, u, attrs))
            if has_s:
                s = bs + _f(rec["s"], i, "s")
                out.append(_reading(kind_of, name + "/sum" if has_v else name, t, s, u,
                                    attrs))
        if not out:
            raise CodecError("SenML pack has no numeric measurement")
        return out

    return decode


def _reading(kind_of: Callable[[str, str], FieldSpec | None], name: str, t: float,
             v: float, unit: str, attrs: dict) -> Reading:
    if not -MAX_ABS < v < MAX_ABS:  # NaN too
        raise CodecError(f"SenML value of {name[:64]!r} overflows or is out of any "
                         f"sensor's range (|value| >= {MAX_ABS:g})")
    spec = kind_of(name.removesuffix("/sum"), unit)
    if spec is None:
        return Reading(sensor=name, ts=t, value=v, unit=unit, attrs=attrs)
    if spec.scale != 1.0 or spec.offset != 0.0:
        v = v * spec.scale + spec.offset
    v, unit = to_canonical(spec.kind, v, spec.unit or unit)
    return Reading(sensor=name, ts=t, value=v, kind=spec.kind, unit=unit, attrs=attrs)


decode = make()
