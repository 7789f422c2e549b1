"""SenML and NGSI-LD details the fixtures do not show: relative times, base-only
records, configured names and entity types."""

from __future__ import annotations

import json

import pytest

from flows import codecs
from flows.codecs.base import CodecError

NOW = 1795874400.0


def _senml(pack, **kw):
    return codecs.get("senml", clock=lambda: NOW, **kw)(json.dumps(pack).encode())


def test_relative_times_are_relative_to_now():
    rs = _senml([{"n": "urn:dev:ow:1:temperature", "u": "Cel", "v": 20.0},
                 {"n": "urn:dev:ow:1:temperature", "u": "Cel", "v": 21.0, "t": -60}])
    assert [r.ts for r in rs] == [NOW, NOW - 60]


def test_base_time_plus_time_is_absolute_above_2_pow_28():
    (r,) = _senml([{"bt": 2**28, "n": "urn:dev:ow:1:humidity", "u": "%RH", "v": 50}])
    assert r.ts == 2**28


def test_base_value_alone_and_base_fields_only_record():
    rs = _senml([{"bn": "urn:dev:ow:2:", "bt": NOW, "bu": "W"},
                 {"n": "power", "bv": 1500},
                 {"n": "power", "v": 100, "t": 10}])
    assert [(r.sensor, r.value, r.unit) for r in rs] == [
        ("urn:dev:ow:2:power", 1.5, "kW"), ("urn:dev:ow:2:power", 1.6, "kW")]


def test_later_base_name_replaces_the_earlier_one():
    rs = _senml([{"bn": "urn:dev:ow:a:", "bt": NOW, "n": "temperature", "v": 1},
                 {"bn": "urn:dev:ow:b:", "n": "temperature", "v": 2}])
    assert [r.sensor for r in rs] == ["urn:dev:ow:a:temperature", "urn:dev:ow:b:temperature"]
    assert [r.attrs["device"] for r in rs] == ["urn:dev:ow:a", "urn:dev:ow:b"]


def test_configured_name_with_scale():
    mapping = {"fields": {"lvl": {"kind": "water_level_m", "unit": "cm"}}}
    (r,) = _senml([{"n": "urn:dev:ow:3:lvl", "v": 285, "t": NOW}], mapping=mapping)
    assert (r.kind, r.value, r.unit) == ("water_level_m", 2.85, "m")


@pytest.mark.parametrize(("pack", "reason"), [
    ([{"n": "x", "v": 1, "bver": "10"}], "bver"),
    ([{"bn": 5, "n": "x", "v": 1}], "bn is not a string"),
    ([{"n": "x", "vb": "yes"}], "vb is not a boolean"),
    ([{"n": "x"}], "has no value"),
    ([{"v": 1}], "has no name"),
    ([1], "not an object"),
    ([], "non-empty"),
])
def test_senml_rejects(pack, reason):
    with pytest.raises(CodecError, match=reason):
        _senml(pack)


def test_ngsi_ld_new_entity_type_by_configuration():
    mapping = {"profiles": {"ParkingSpot": {"occupied": {"kind": "occupancy"}}}}
    doc = {"id": "urn:ngsi-ld:ParkingSpot:metz:gare:12", "type": "ParkingSpot",
           "occupied": {"type": "Property", "value": 1, "observedAt": "2026-11-28T14:00:00Z"},
           "category": {"type": "Property", "value": ["onstreet"]}}
    raw = json.dumps(doc).encode()
    with pytest.raises(CodecError, match="no measured property"):
        codecs.get("ngsi-ld")(raw)
    (r,) = codecs.get("ngsi-ld", mapping=mapping)(raw)
    assert (r.sensor, r.kind, r.value) == ("urn:ngsi-ld:ParkingSpot:metz:gare:12/occupancy",
                                          "occupancy", 1.0)


def test_ngsi_ld_expanded_attribute_names_and_v2_notification():
    doc = {"subscriptionId": "57458eb60962ef754e7c0998",
           "data": [{"id": "WasteContainer:7", "type": "WasteContainer",
                     "https://smartdatamodels.org/dataModel.WasteManagement/fillingLevel":
                         {"type": "Number", "value": 0.5,
                          "metadata": {"unitCode": {"type": "Text", "value": "C62"}}},
                     "dateModified": {"type": "DateTime", "value": "2026-11-28T14:00:00Z"}}]}
    (r,) = codecs.get("ngsi-ld")(json.dumps(doc).encode())
    assert (r.sensor, r.value, r.ts) == ("WasteContainer:7/fill_pct", 50.0, NOW)


def test_ngsi_ld_skips_unknown_entities_when_others_measure():
    doc = [{"id": "urn:ngsi-ld:Building:x", "type": "Building"},
           {"id": "urn:ngsi-ld:WasteContainer:y", "type": "WasteContainer",
            "fillingLevel": 0.1, "dateObserved": "2026-11-28T14:00:00Z"}]
    (r,) = codecs.get("ngsi-ld")(json.dumps(doc).encode())
    assert r.kind == "fill_pct"
