"""Sensor registry: lookup by device id / DevEUI / entity id / sensor, enrichment,
unknown devices (counted, or rejected in strict mode), reload when the file changes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import codecs
from flows.codecs.base import CodecError, decode_batch
from flows.registry import UNASSIGNED, Entry, Registry, UnknownDevice
from models.reading import Reading

FIX = Path(__file__).parent / "fixtures"
T = 1795874400.0


def _uplink(dev: str, obj: dict) -> bytes:
    return json.dumps({"time": "2026-11-28T14:00:00Z", "fCnt": 1,
                       "deviceInfo": {"devEui": dev, "tags": {}}, "object": obj}).encode()


def test_yaml_devEui_multi_kind_device_is_renamed_per_kind():
    reg = Registry.load(FIX / "registry.yaml")
    decode = reg.wrap(codecs.get("chirpstack"))
    rs = {r.kind: r for r in decode(_uplink("a84041000181c5e1",
                                            {"fill_pct": 40, "temperature_c": 5}))}
    fill = rs["fill_pct"]
    assert fill.sensor == "metz/dechetterie-nord/c12/fill_pct"
    assert (fill.commune, fill.site) == ("metz", "dechetterie-nord")
    assert fill.attrs["capacity_l"] == 3000 and fill.attrs["coords"] == [49.13, 6.19]
    assert fill.attrs["device"] == "a84041000181c5e1"
    assert rs["temperature_c"].sensor == "metz/dechetterie-nord/c12/temperature_c"
    assert reg.unknown == 0


def test_entity_id_with_kind_row_and_reading_attrs_win():
    reg = Registry.load(FIX / "registry.yaml")
    decode = reg.wrap(codecs.get("ngsi-ld"))
    (r,) = decode(json.dumps({
        "id": "urn:ngsi-ld:FloodMonitoring:moselle-pont-des-morts", "type": "FloodMonitoring",
        "currentLevel": 2.85, "alertLevel": 3.0,
        "observationDateTime": "2026-11-28T14:00:00Z"}).encode())
    assert r.sensor == "metz/pont-des-morts/moselle" and r.commune == "metz"
    assert r.attrs["alert_level_m"] == 3.0  # the message's own value wins
    assert r.attrs["danger_level_m"] == 4.5  # the registry fills the rest


def test_sensor_name_key_fills_kind_unit_and_attributes():
    reg = Registry.load(FIX / "registry.yaml")
    r = reg.enrich(Reading(sensor="metz/ecole-jean-moulin/light-hall", ts=T, value=1.0))
    assert (r.kind, r.unit, r.commune, r.site) == ("light_on", "bool", "metz",
                                                    "ecole-jean-moulin")
    assert r.attrs["opening_hours"] == "Mo-Fr 08:00-18:00; PH off"
    assert r.attrs["nominal_power_kw"] == 0.8
    assert r.attrs["maintenance"].startswith("2026 Dec 24")


def test_csv_registry_ids_and_unit_conversion():
    reg = Registry.load(FIX / "registry.csv")
    assert len(reg) == 2
    r = reg.enrich(Reading(sensor="metz/ecole-jean-moulin/elec-1", ts=T, value=12500.0,
                           unit="W"))
    assert (r.kind, r.unit, r.value) == ("electricity_kw", "kW", 12.5)
    assert r.attrs["coords"] == [49.1193, 6.1757] and r.attrs["nominal_power_kw"] == 36.0
    (t,) = reg.wrap(codecs.get("chirpstack"))(_uplink("0004A30B001C0530",
                                                       {"temperature_c": 21}))
    assert t.sensor == "woippy/mairie/salle-3/temperature_c" and t.commune == "woippy"


def test_unknown_devices_pass_unassigned_and_are_counted():
    reg = Registry([Entry(["known"], commune="metz")])
    r = reg.enrich(Reading(sensor="x/temperature_c", ts=T, value=20.0, kind="temperature_c",
                           attrs={"device": "x"}))
    assert r.commune == UNASSIGNED and r.unit == "Cel" and r.sensor == "x/temperature_c"
    kept = Reading(sensor="y", ts=T, value=1.0, commune="woippy")
    assert reg.enrich(kept) is kept
    assert reg.unknown == 2 and reg.unknown_ids == {"x", "y"}


def test_strict_mode_sends_unknown_devices_to_the_dlq_with_the_bytes():
    reg = Registry.load(FIX / "registry.yaml", strict=True)
    decode = reg.wrap(codecs.get("chirpstack"))
    known, unknown = _uplink("a84041000181c5e1", {"fill_pct": 1}), _uplink("ffff", {"fill_pct": 1})
    good, bad = decode_batch(decode, "chirpstack", [known, unknown])
    assert [r.sensor for r in good] == ["metz/dechetterie-nord/c12/fill_pct"]
    assert bad[0].raw == unknown and bad[0].reason.startswith("unknown device")
    with pytest.raises(UnknownDevice):
        reg.enrich(Reading(sensor="nope", ts=T, value=1.0))
    assert issubclass(UnknownDevice, CodecError)


def test_impossible_value_after_enrichment_is_rejected():
    reg = Registry.load(FIX / "registry.yaml")
    good, bad = reg.enrich_many([
        Reading(sensor="metz/ecole-jean-moulin/light-hall", ts=T, value=3.0),
        Reading(sensor="metz/ecole-jean-moulin/light-hall", ts=T, value=0.0)])
    assert [r.value for r in good] == [0.0]
    assert "impossible light_on" in bad[0][1]


def test_reload_when_the_file_changes(tmp_path):
    path = tmp_path / "reg.yaml"
    shutil.copy(FIX / "registry.yaml", path)
    reg = Registry.load(path, check_every=0.0)
    r = Reading(sensor="new-sensor", ts=T, value=1.0)
    assert reg.enrich(r).commune == UNASSIGNED
    path.write_text(path.read_text() + "  - id: new-sensor\n    commune: montigny\n")
    os.utime(path, (1, 2))  # a different mtime even on coarse file systems
    assert reg.maybe_reload() and reg.reloads == 1
    assert reg.enrich(r).commune == "montigny"
    path.write_text("devices: [{commune: x}]\n")  # broken: no id -> keep old rows
    os.utime(path, (3, 4))
    assert not reg.maybe_reload()
    assert "without id" in reg.error and reg.enrich(r).commune == "montigny"


def test_enrich_caches_the_resolution_per_sensor():
    reg = Registry.load(FIX / "registry.yaml")
    a = reg.enrich(Reading(sensor="metz/ecole-jean-moulin/light-hall", ts=T, value=1.0))
    b = reg.enrich(Reading(sensor="metz/ecole-jean-moulin/light-hall", ts=T + 60, value=0.0))
    assert a.attrs is b.attrs  # the registry's merged attributes are shared, not copied
    assert len(reg._cache) == 1


def test_odd_device_attribute_from_a_native_reading_is_ignored():
    reg = Registry.load(FIX / "registry.yaml")
    r = reg.enrich(Reading(sensor="metz/ecole-jean-moulin/light-hall", ts=T, value=1.0,
                           attrs={"device": ["not", "hashable"]}))
    assert r.commune == "metz" and r.attrs["device"] == ["not", "hashable"]


@settings(max_examples=150, deadline=None)
@given(sensor=st.text(max_size=30), kind=st.sampled_from(["", "fill_pct", "light_on", "x"]),
       unit=st.sampled_from(["", "%", "/", "W", "bool", "zz"]),
       value=st.floats(allow_nan=False, allow_infinity=False),
       attrs=st.dictionaries(st.sampled_from(["device", "coords", "capacity_l"]),
                             st.one_of(st.text(max_size=20), st.integers(), st.none()),
                             max_size=3),
       strict=st.booleans())
def test_enrich_never_raises_anything_but_a_reason(sensor, kind, unit, value, attrs, strict):
    reg = Registry.load(FIX / "registry.yaml", strict=strict)
    try:
        r = reg.enrich(Reading(sensor=sensor, ts=T, value=value, kind=kind, unit=unit,
                               attrs=attrs))
    except CodecError as err:
        assert str(err)
        return
    assert r.commune and r.ts == T
