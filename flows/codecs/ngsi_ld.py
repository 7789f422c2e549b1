"""NGSI-LD / FIWARE Smart Data Models entities -> one reading per measured property.

Accepts one entity, an array of entities, or a notification
(``{"type": "Notification", "subscriptionId": ..., "data": [entities]}``; NGSI v2
notifications without ``type`` too), in normalized form (``{"type": "Property",
"value": 67.8, "observedAt": ..., "unitCode": "2N"}``) or key-values form (``67.8``).
Types and attribute names may be expanded URIs: the last segment is used.

:data:`MODELS` lists the measured properties of the supported Smart Data Models with
their kind and default unit (UN/CEFACT code, as the models specify); ``unitCode`` on an
attribute overrides it. Structured per-phase values (``{"L1": .., "L2": ..}``) give one
reading per phase. Any attribute named like a kind is measured too, and ``mapping``
(``profiles`` keyed by entity type) adds or overrides properties.

Sensor: ``<entity id>/<kind>`` (``refDevice`` instead of the id for DeviceMeasurement,
whose entities are single measurements); ``attrs["device"]`` is the entity id, and
``attrs["coords"]`` ``[lat, lon]`` from ``location``. Time: the attribute's
``observedAt``, else the entity's ``dateObserved`` (end of an interval),
``observationDateTime``, ``dateObservedTo``, ``dateModified``.

An entity of an unknown type with nothing measurable is skipped when the message has
other readings, and the message is rejected when nothing at all could be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flows.codecs.base import Codec, CodecError
from flows.codecs.common import coords, loads, num, short, ts
from flows.codecs.fields import FieldMap, FieldSpec
from models.reading import KINDS, Reading


def _s(kind: str, unit: str = "", name: str = "", **values: float) -> FieldSpec:
    return FieldSpec(kind=kind, unit=unit, name=name, values=values)


_AC = {
    "totalActivePower": _s("electricity_kw", "WTT"),
    "activePower": _s("electricity_kw", "WTT"),
    "totalActiveEnergyImport": _s("electricity_kwh", "KWH"),
    "activeEnergyImport": _s("electricity_kwh", "KWH"),
    "phaseVoltage": _s("voltage_v", "VLT"),
    "current": _s("current_a", "AMP"),
}

#: Smart Data Model entity type -> measured property -> kind and default unit.
MODELS: dict[str, dict[str, FieldSpec]] = {
    "NoiseLevelObserved": {
        "LAeq": _s("noise_dba", "2N"),
        "LAeq_d": _s("noise_dba", "2N", "noise_dba.LAeq_d"),
        "LAmax": _s("noise_dba", "2N", "noise_dba.LAmax"),
        "LAS": _s("noise_dba", "2N", "noise_dba.LAS"),
    },
    "AirQualityObserved": {
        "pm25": _s("pm25_ugm3", "GQ"), "pm10": _s("pm10_ugm3", "GQ"),
        "no2": _s("no2_ugm3", "GQ"), "o3": _s("o3_ugm3", "GQ"),
        "temperature": _s("temperature_c", "CEL"),
        "relativeHumidity": _s("humidity_pct", "C62"),
    },
    "WasteContainer": {
        "fillingLevel": _s("fill_pct", "C62"),
        "temperature": _s("temperature_c", "CEL"),
    },
    "Streetlight": {
        "powerState": _s("light_on", "", "", on=1.0, low=1.0, bootingUp=1.0, off=0.0),
        "illuminanceLevel": _s("dimming_pct", "C62"),
    },
    "FloodMonitoring": {"currentLevel": _s("water_level_m", "MTR")},
    "WaterConsumptionObserved": {"waterConsumption": _s("water_m3", "LTR")},
    "ACMeasurement": _AC,
    "ThreePhaseAcMeasurement": _AC,
}

#: Entity attributes copied into ``attrs`` (registry attribute names).
STATIC: dict[str, dict[str, str]] = {
    "FloodMonitoring": {"alertLevel": "alert_level_m", "dangerLevel": "danger_level_m"},
}

#: DeviceMeasurement ``controlledProperty`` -> kind.
CONTROLLED: dict[str, str] = {
    "temperature": "temperature_c", "humidity": "humidity_pct",
    "relativeHumidity": "humidity_pct", "fillingLevel": "fill_pct",
    "noiseLevel": "noise_dba", "airPollution": "", "pm25": "pm25_ugm3",
    "pm10": "pm10_ugm3", "no2": "no2_ugm3", "o3": "o3_ugm3", "co2": "co2_ppm",
    "illuminance": "lux", "light": "lux", "occupancy": "occupancy",
    "waterConsumption": "water_m3", "energy": "electricity_kwh",
    "power": "electricity_kw", "voltage": "voltage_v", "electricCurrent": "current_a",
    "current": "current_a", "waterLevel": "water_level_m", "depth": "water_level_m",
}

_TIMES = ("dateObserved", "observationDateTime", "dateObservedTo", "dateModified")
_SKIP = {"id", "type", "@context", "location", "refDevice"} | set(_TIMES)


class _Skip(Exception):
    """An entity with nothing measurable (not an error by itself)."""


def _attr(a: object) -> tuple[object, object, str]:
    """An attribute (normalized or key-values) -> (value, observedAt, unitCode)."""
    if isinstance(a, list) and a and isinstance(a[0], dict) and "value" in a[0]:
        a = next((x for x in a if isinstance(x, dict) and "datasetId" not in x), a[0])
    if isinstance(a, dict) and ("value" in a or a.get("type") == "Relationship"):
        unit = a.get("unitCode", "")
        meta = a.get("metadata")
        if not unit and isinstance(meta, dict):
            uc = meta.get("unitCode")
            unit = uc.get("value", "") if isinstance(uc, dict) else ""
        return a.get("value", a.get("object")), a.get("observedAt"), unit
    return a, None, ""


def _entity_time(e: dict) -> float | None:
    for k in _TIMES:
        if k in e:
            v, _, _ = _attr(e[k])
            if isinstance(v, dict) and "@value" in v:
                v = v["@value"]
            if isinstance(v, str) and "/" in v:
                v = v.rsplit("/", 1)[1]  # ISO 8601 interval: its end
            return ts(v, k)
    return None


def _text(v: object) -> str:
    if isinstance(v, list) and v:
        v = v[0]
    return v if isinstance(v, str) else ""


def make(mapping: FieldMap | Mapping | str | Path | None = None) -> Codec:
    """An NGSI-LD codec; ``mapping`` profiles (keyed by entity type) extend :data:`MODELS`."""
    fmap = FieldMap.load(mapping)
    auto = {k: FieldSpec(kind=k) for k in KINDS}
    specs_of: dict[str, dict[str, FieldSpec]] = {}

    def specs(etype: str) -> dict[str, FieldSpec]:
        s = specs_of.get(etype)
        if s is None:
            s = {**MODELS.get(etype, {}), **fmap.specs((etype,))}
            if len(specs_of) < 1000:
                specs_of[etype] = s
        return s

    def entity(e: object) -> list[Reading]:
        if not isinstance(e, dict):
            raise CodecError("NGSI-LD entity is not an object")
        eid, etype = e.get("id"), e.get("type")
        if not isinstance(eid, str) or not eid or not isinstance(etype, str) or not etype:
            raise CodecError("NGSI-LD entity without id/type")
        etype = short(etype)
        attrs: dict = {"device": eid, "entity_type": etype}
        if "location" in e:
            c = coords(e["location"])
            if c is not None:
                attrs["coords"] = c
        for prop, key in STATIC.get(etype, {}).items():
            if prop in e:
                v, _, _ = _attr(e[prop])
                if isinstance(v, int | float) and not isinstance(v, bool):
                    attrs[key] = num(v, prop)
        t_entity = _entity_time(e)
        if etype == "DeviceMeasurement":
            return _measurement(e, eid, attrs, t_entity)
        table = specs(etype)
        out: list[Reading] = []
        seen_at: dict[str, float] = {}
        for name, a in e.items():
            if name in _SKIP:
                continue
            prop = short(name)
            spec = table.get(prop) or auto.get(prop)
            if spec is None:
                continue
            v, obs, unit = _attr(a)
            if v is None:
                continue
            if obs is None:
                t = t_entity
            elif isinstance(obs, str) and obs in seen_at:
                t = seen_at[obs]
            else:
                t = ts(obs, f"{prop}.observedAt")
                if isinstance(obs, str):
                    seen_at[obs] = t
            if t is None:
                raise CodecError(f"NGSI-LD entity {eid[:64]!r}: no observation time")
            if unit and not isinstance(unit, str):
                raise CodecError(f"{prop}.unitCode is not a string")
            if unit:
                spec = FieldSpec(kind=spec.kind, scale=spec.scale, offset=spec.offset,
                                 unit=unit, name=spec.name, values=spec.values)
            suffix = spec.name or spec.kind
            if isinstance(v, dict):  # structured per-phase value {"L1": .., "L2": ..}
                for phase, pv in v.items():
                    if pv is None:
                        continue
                    val, u = spec.value(pv, f"{prop}.{phase}")
                    out.append(Reading(sensor=f"{eid}/{suffix}.{phase}", ts=t, value=val,
                                       kind=spec.kind, unit=u, attrs=attrs))
                continue
            val, u = spec.value(v, prop)
            out.append(Reading(sensor=f"{eid}/{suffix}", ts=t, value=val, kind=spec.kind,
                               unit=u, attrs=attrs))
        if not out:
            raise _Skip(f"NGSI-LD entity {eid[:64]!r} of type {etype!r} "
                        "has no measured property")
        return out

    def decode(raw: bytes) -> list[Reading]:
        doc = loads(raw, "NGSI-LD JSON")
        if isinstance(doc, dict) and isinstance(doc.get("data"), list) and (
                doc.get("type") == "Notification" or "subscriptionId" in doc):
            doc = doc["data"]
        ents = doc if isinstance(doc, list) else [doc]
        if not ents:
            raise CodecError("NGSI-LD message has no entity")
        out: list[Reading] = []
        skipped: list[str] = []
        for e in ents:
            try:
                out.extend(entity(e))
            except _Skip as s:
                skipped.append(str(s))
        if not out:
            raise CodecError(skipped[0] if skipped else "NGSI-LD message has no reading")
        return out

    return decode


def _measurement(e: dict, eid: str, attrs: dict, t: float | None) -> list[Reading]:
    prop, _, _ = _attr(e.get("controlledProperty"))
    prop = _text(prop)
    kind = prop if prop in KINDS else CONTROLLED.get(prop, "")
    if not kind:
        raise _Skip(f"DeviceMeasurement {eid[:64]!r}: unknown controlledProperty "
                    f"{prop[:32]!r}")
    v, obs, unit_code = _attr(e.get("numValue"))
    if v is None:
        raise _Skip(f"DeviceMeasurement {eid[:64]!r} has no numValue")
    if obs is not None:
        t = ts(obs, "numValue.observedAt")
    if t is None:
        raise CodecError(f"DeviceMeasurement {eid[:64]!r}: no dateObserved")
    unit, _, _ = _attr(e.get("unit"))
    unit = _text(unit) or (unit_code if isinstance(unit_code, str) else "")
    ref, _, _ = _attr(e.get("refDevice"))
    base = _text(ref) or eid
    attrs["device"] = base
    attrs["measurement"] = eid
    val, u = FieldSpec(kind=kind, unit=unit).value(v, "numValue")
    return [Reading(sensor=f"{base}/{kind}", ts=t, value=val, kind=kind, unit=u,
                    attrs=attrs)]


decode = make()
