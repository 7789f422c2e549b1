"""Alert output formats: native, Smart Data Models Alert (NGSI-LD), CloudEvents 1.0."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.alert_formats import FORMATS, get_alert_format
from rules.alert import Alert, Impact
from rules.alert import decode as native_decode

FIRING = Alert(
    id="4be1c0ffee", status="firing", rule="LightOnOutsideOpeningHours", pack="lighting",
    severity="warning", commune="metz", site="ecole-jean-moulin",
    sensor="metz/ecole-jean-moulin/light-hall", kind="light_on",
    starts_at="2026-11-28T19:00:00.000Z", ends_at=None,
    detected_at="2026-11-28T19:15:02.120Z", value=1.0, expected=0.0, score=None,
    detector=None, summary="Light on at ecole-jean-moulin outside opening hours",
    impact=Impact(kwh=0.8, eur=0.2, kg_co2e=0.04),
)
RESOLVED = Alert(**{**{f: getattr(FIRING, f) for f in FIRING.__struct_fields__},
                    "status": "resolved", "ends_at": "2026-11-28T20:00:00.000Z",
                    "detected_at": "2026-11-28T20:00:03.000Z"})


def test_native_is_the_contract():
    assert native_decode(get_alert_format("native")(FIRING)) == FIRING


def test_ngsi_ld_normalized_alert():
    e = json.loads(get_alert_format("ngsi-ld")(RESOLVED))
    assert e["id"] == "urn:ngsi-ld:Alert:4be1c0ffee" and e["type"] == "Alert"
    assert e["category"] == {"type": "Property", "value": "environment"}
    assert e["severity"]["value"] == "medium"
    assert e["alertSource"]["value"] == "metz/ecole-jean-moulin/light-hall"
    assert e["dateIssued"]["value"] == {"@type": "DateTime",
                                        "@value": "2026-11-28T20:00:03.000Z"}
    assert e["validFrom"]["value"]["@value"] == "2026-11-28T19:00:00.000Z"
    assert e["validTo"]["value"]["@value"] == "2026-11-28T20:00:00.000Z"
    assert e["description"]["value"].startswith("Light on")
    assert e["data"]["value"]["impact"]["kwh"] == 0.8
    assert "subCategory" not in e  # no light_on sub-category in the model's enumeration
    assert "@context" in e


@pytest.mark.parametrize(("kind", "value", "expected", "cat", "sub"), [
    ("water_level_m", 4.2, 3.5, "naturalDisaster", "floodRisk"),
    ("pm10_ugm3", 80.0, 20.0, "environment", "airPollution"),
    ("pollen_index", 4.0, 1.0, "environment", "pollenConcentration"),
    ("door_open", 1.0, 0.0, "security", "suspiciousAction"),
    ("temperature_c", 12.0, 19.0, "environment", "lowTemperature"),
])
def test_ngsi_ld_key_values_categories(kind, value, expected, cat, sub):
    a = Alert(**{**{f: getattr(FIRING, f) for f in FIRING.__struct_fields__},
                 "kind": kind, "value": value, "expected": expected, "severity": "critical"})
    e = json.loads(get_alert_format("ngsi-ld-kv")(a))
    assert (e["category"], e["subCategory"], e["severity"]) == (cat, sub, "critical")
    assert "validTo" not in e and e["validFrom"] == a.starts_at


def test_cloudevents_structured():
    ce = json.loads(get_alert_format("cloudevents")(FIRING))
    assert ce["specversion"] == "1.0" and ce["type"] == "eu.sentinelle.alert.firing"
    assert ce["source"] == "urn:sentinelle:lighting:LightOnOutsideOpeningHours"
    assert ce["subject"] == FIRING.sensor and ce["time"] == FIRING.starts_at
    assert ce["datacontenttype"] == "application/json"
    assert ce["data"]["id"] == FIRING.id and ce["alertid"] == FIRING.id
    assert all(k.isalnum() and k.islower() for k in ce if k != "data")
    res = json.loads(get_alert_format("cloudevents")(RESOLVED))
    assert res["time"] == RESOLVED.ends_at and res["id"] != ce["id"]


def test_cloudevents_id_is_stable_across_re_emission():
    again = Alert(**{**{f: getattr(FIRING, f) for f in FIRING.__struct_fields__},
                     "detected_at": "2026-11-28T19:30:00.000Z"})
    enc = get_alert_format("cloudevents")
    assert json.loads(enc(again))["id"] == json.loads(enc(FIRING))["id"]
    changed = Alert(**{**{f: getattr(FIRING, f) for f in FIRING.__struct_fields__},
                       "value": 2.0})
    assert json.loads(enc(changed))["id"] != json.loads(enc(FIRING))["id"]


def test_unknown_format():
    assert set(FORMATS) == {"native", "ngsi-ld", "ngsi-ld-kv", "cloudevents"}
    with pytest.raises(ValueError, match="unknown alert format 'xml'"):
        get_alert_format("xml")


_text = st.text(max_size=30)
_num = st.none() | st.floats(allow_nan=False, allow_infinity=False)
alerts = st.builds(
    Alert, id=_text, status=st.sampled_from(["firing", "resolved"]), rule=_text, pack=_text,
    severity=st.sampled_from(["info", "warning", "critical", "weird"]), commune=_text,
    site=_text, sensor=_text, kind=st.sampled_from(["", "water_level_m", "temperature_c",
                                                    "door_open", "fill_pct"]),
    starts_at=_text, ends_at=st.none() | _text, detected_at=_text, value=_num,
    expected=_num, score=_num, detector=st.none() | _text, summary=_text,
    impact=st.none() | st.builds(Impact), labels=st.dictionaries(_text, _text, max_size=3))


@settings(max_examples=100, deadline=None)
@given(alerts)
def test_every_format_encodes_any_alert_to_json(a):
    for name, enc in FORMATS.items():
        doc = json.loads(enc(a))
        assert isinstance(doc, dict), name
    assert native_decode(FORMATS["native"](a)) == a
    assert json.loads(FORMATS["cloudevents"](a))["data"] == json.loads(FORMATS["native"](a))
