"""Alert output formats, chosen per output topic: native, NGSI-LD ``Alert``, CloudEvents.

- ``native``: the alert contract (:func:`rules.alert.encode`).
- ``ngsi-ld``: a FIWARE Smart Data Models ``Alert`` entity, NGSI-LD normalized form
  (``ngsi-ld-kv``: key-values form) with ``category``, ``subCategory`` (when the kind has
  one in the model's enumeration), ``severity`` (informational / low / medium / high /
  critical), ``alertSource`` (the sensor), ``dateIssued`` (detection time),
  ``validFrom`` (start of the condition), ``validTo`` (its end, once resolved),
  ``description`` and the native alert in ``data``.
- ``cloudevents``: a CloudEvents 1.0 structured-mode JSON event
  (``application/cloudevents+json``) whose ``data`` is the native alert.

All three are deterministic functions of the alert except ``dateIssued`` / ``time``,
which come from the alert's own fields, so a replayed alert encodes to the same bytes.

>>> from rules.alert import Alert
>>> a = Alert(id="abc", status="firing", rule="FloodRisk", pack="flood", severity="critical",
...           commune="metz", site="pont", sensor="metz/pont/level", kind="water_level_m",
...           starts_at="2026-11-28T14:00:00.000Z", ends_at=None,
...           detected_at="2026-11-28T14:00:05.000Z", value=3.1, expected=2.5, score=None,
...           detector=None, summary="River above alert level")
>>> import json
>>> e = json.loads(get_alert_format("ngsi-ld-kv")(a))
>>> e["category"], e["subCategory"], e["severity"]
('naturalDisaster', 'floodRisk', 'critical')
>>> json.loads(get_alert_format("cloudevents")(a))["type"]
'eu.sentinelle.alert.firing'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import msgspec

from rules.alert import Alert
from rules.alert import encode as native

#: CloudEvents ``type`` prefix and ``source`` prefix.
CE_TYPE = "eu.sentinelle.alert"
CE_SOURCE = "urn:sentinelle"
NGSI_CONTEXT = [
    "https://smartdatamodels.org/context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
]

#: kind -> (category, subCategory) from the Smart Data Models Alert enumerations.
CATEGORIES: dict[str, tuple[str, str]] = {
    "water_level_m": ("naturalDisaster", "floodRisk"),
    "pm25_ugm3": ("environment", "airPollution"),
    "pm10_ugm3": ("environment", "airPollution"),
    "no2_ugm3": ("environment", "airPollution"),
    "o3_ugm3": ("environment", "airPollution"),
    "co2_ppm": ("environment", "airPollution"),
    "pollen_index": ("environment", "pollenConcentration"),
    "noise_dba": ("environment", ""),
    "door_open": ("security", "suspiciousAction"),
    "cabinet_temperature_c": ("security", ""),
    "voltage_v": ("security", ""),
    "current_a": ("security", ""),
}

#: Engine severity -> Smart Data Models AlertSeverity.
SEVERITIES: dict[str, str] = {
    "info": "informational", "informational": "informational", "low": "low",
    "warning": "medium", "medium": "medium", "major": "high", "high": "high",
    "error": "high", "critical": "critical",
}

_enc = msgspec.json.Encoder()


def _category(a: Alert) -> tuple[str, str]:
    if a.kind in CATEGORIES:
        return CATEGORIES[a.kind]
    if a.kind in ("temperature_c", "humidity_pct"):
        high = a.value is not None and a.expected is not None and a.value > a.expected
        what = "Temperature" if a.kind == "temperature_c" else "Humidity"
        return "environment", ("high" if high else "low") + what
    return "environment", ""


def _props(a: Alert) -> dict:
    category, sub = _category(a)
    p: dict = {
        "category": category,
        "severity": SEVERITIES.get(a.severity, "medium"),
        "alertSource": a.sensor or f"{a.commune}/{a.site}",
        "dateIssued": a.detected_at,
        "validFrom": a.starts_at,
        "description": a.summary,
        "name": a.rule,
        "address": {"addressLocality": a.commune},
        "data": msgspec.to_builtins(a),
    }
    if sub:
        p["subCategory"] = sub
    if a.ends_at:
        p["validTo"] = a.ends_at
    return p


def ngsi_ld_kv(a: Alert) -> bytes:
    """Alert -> Smart Data Models ``Alert`` entity, key-values form."""
    return _enc.encode({"id": f"urn:ngsi-ld:Alert:{a.id}", "type": "Alert", **_props(a),
                        "@context": NGSI_CONTEXT})


_DATES = {"dateIssued", "validFrom", "validTo"}


def ngsi_ld(a: Alert) -> bytes:
    """Alert -> Smart Data Models ``Alert`` entity, NGSI-LD normalized form."""
    e: dict = {"id": f"urn:ngsi-ld:Alert:{a.id}", "type": "Alert"}
    for k, v in _props(a).items():
        if k in _DATES:
            v = {"@type": "DateTime", "@value": v}
        e[k] = {"type": "Property", "value": v}
    e["@context"] = NGSI_CONTEXT
    return _enc.encode(e)


def cloudevents(a: Alert) -> bytes:
    """Alert -> CloudEvents 1.0 structured JSON event.

    ``id`` is deterministic (alert id, status and content), so a re-emitted alert is
    the same event; ``time`` is when the condition started (firing) or ended
    (resolved); extension attributes ``alertid``, ``severity``, ``commune``.
    """
    body = native(a)
    stable = native(msgspec.structs.replace(a, detected_at=""))
    digest = hashlib.blake2b(stable, digest_size=8).hexdigest()
    return _enc.encode({
        "specversion": "1.0",
        "id": f"{a.id}-{a.status}-{digest}",
        "source": f"{CE_SOURCE}:{a.pack or 'engine'}:{a.rule}",
        "type": f"{CE_TYPE}.{a.status}",
        "subject": a.sensor or f"{a.commune}/{a.site}",
        "time": (a.ends_at if a.status == "resolved" and a.ends_at else a.starts_at),
        "datacontenttype": "application/json",
        "alertid": a.id,
        "severity": a.severity,
        "commune": a.commune,
        "data": msgspec.Raw(body),
    })


FORMATS: dict[str, Callable[[Alert], bytes]] = {
    "native": native,
    "ngsi-ld": ngsi_ld,
    "ngsi-ld-kv": ngsi_ld_kv,
    "cloudevents": cloudevents,
}


def get_alert_format(name: str) -> Callable[[Alert], bytes]:
    """The encoder called ``name``: one of :data:`FORMATS`."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown alert format {name!r}: choose one of "
                         f"{', '.join(FORMATS)}") from None
