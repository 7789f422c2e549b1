"""Adding a LoRaWAN device type is a configuration change only: a YAML mapping file."""

from __future__ import annotations

import json

import pytest

from flows import codecs
from flows.codecs.base import CodecError, decode_batch

# A traffic-signal cabinet monitor nobody has configured yet (fields in its own words).
UPLINK = json.dumps({
    "deduplicationId": "5d1c2a8e-77e4-4c2b-9a55-4f3f86d1e0aa",
    "time": "2026-11-28T22:14:05Z",
    "deviceInfo": {"deviceProfileName": "Kerlink Cabinet Guard v1", "deviceName": "feu-17",
                   "devEui": "7076ff0064030e1a", "tags": {"commune": "montigny-les-metz",
                                                        "site": "carrefour-foch"}},
    "fCnt": 88, "fPort": 3,
    "object": {"door": "OPEN", "mains_mv": 229400, "inside_temp_f": 113.0, "rssi": -97},
}).encode()

TTS_UPLINK = json.dumps({
    "end_device_ids": {"device_id": "feu-18", "dev_eui": "7076FF0064030E1B"},
    "uplink_message": {"decoded_payload": {"door": "CLOSED", "mains_mv": 231000,
                                           "inside_temp_f": 68.0},
                       "received_at": "2026-11-28T22:15:00Z",
                       "version_ids": {"brand_id": "kerlink", "model_id": "cabinet-guard-v1"}},
}).encode()

MAPPING = """
profiles:
  "Kerlink Cabinet Guard v1": &guard          # ChirpStack device-profile name
    door: {kind: door_open, values: {OPEN: 1, CLOSED: 0}}
    mains_mv: {kind: voltage_v, unit: mV}
    inside_temp_f: {kind: cabinet_temperature_c, unit: degF}
  "kerlink/cabinet-guard-v1": *guard          # the same device on The Things Stack
"""


def test_unconfigured_device_type_goes_to_the_dlq_with_a_useful_reason():
    good, bad = decode_batch(codecs.get("chirpstack"), "chirpstack", [UPLINK])
    assert not good
    assert "no mapped field" in bad[0].reason and "Kerlink Cabinet Guard v1" in bad[0].reason
    assert "mains_mv" in bad[0].reason


def test_a_yaml_mapping_file_is_all_it_takes(tmp_path):
    path = tmp_path / "lorawan.yaml"
    path.write_text(MAPPING)
    rs = {r.kind: r for r in codecs.get("chirpstack", mapping=str(path))(UPLINK)}
    assert set(rs) == {"door_open", "voltage_v", "cabinet_temperature_c"}
    assert rs["door_open"].value == 1.0
    assert rs["voltage_v"].value == pytest.approx(229.4) and rs["voltage_v"].unit == "V"
    assert rs["cabinet_temperature_c"].value == pytest.approx(45.0)
    assert rs["voltage_v"].sensor == "7076ff0064030e1a/voltage_v"
    assert rs["voltage_v"].commune == "montigny-les-metz"
    tts = {r.kind: r.value for r in codecs.get("tts", mapping=path)(TTS_UPLINK)}
    assert tts == pytest.approx({"door_open": 0.0, "voltage_v": 231.0,
                                 "cabinet_temperature_c": 20.0})


def test_a_mapping_mistake_is_a_clear_reject(tmp_path):
    path = tmp_path / "lorawan.yaml"
    path.write_text(MAPPING.replace("unit: mV", "unit: kWh"))
    with pytest.raises(CodecError, match="cannot be converted to 'V'"):
        codecs.get("chirpstack", mapping=path)(UPLINK)


def test_the_mapping_file_can_come_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "lorawan.yaml"
    path.write_text(MAPPING)
    monkeypatch.setenv("SENTINELLE_LORAWAN_MAPPING", str(path))
    assert len(codecs.get("chirpstack")(UPLINK)) == 3
    assert len(codecs.get("tts")(TTS_UPLINK)) == 3
