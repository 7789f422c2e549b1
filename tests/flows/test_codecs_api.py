"""The codec registry and the ``--input TOPIC=CODEC`` option."""

from __future__ import annotations

import pytest

from flows import codecs
from flows.codecs import json as native


def test_names_and_get():
    assert codecs.NAMES == ("json", "senml", "ngsi-ld", "chirpstack", "tts", "csv")
    assert codecs.get("json") is native.decode
    for name in codecs.NAMES:
        assert callable(codecs.get(name))


def test_configured_codec():
    decode = codecs.get("chirpstack", mapping={"fields": {"lvl": "fill_pct"}})
    (r,) = decode(b'{"time": "2026-11-28T14:00:00Z", "deviceInfo": {"devEui": "AB"},'
                  b' "fCnt": 1, "object": {"lvl": 12}}')
    assert (r.sensor, r.kind, r.value) == ("AB/fill_pct", "fill_pct", 12.0)


def test_unknown_codec_and_bad_options():
    with pytest.raises(ValueError, match="unknown codec 'xml'.*json, senml"):
        codecs.get("xml")
    with pytest.raises(TypeError):
        codecs.get("json", mapping={})
    with pytest.raises(ValueError, match="unknown keys"):
        codecs.get("tts", mapping={"feilds": {}})
    with pytest.raises(ValueError, match="empty kind"):
        codecs.get("tts", mapping={"fields": {"x": {"kind": ""}}})


@pytest.mark.parametrize(("spec", "want"), [
    ("readings", ("readings", "json")),
    ("lora.up=chirpstack", ("lora.up", "chirpstack")),
    (" ttn = tts ", ("ttn", "tts")),
    ("orion=ngsi-ld", ("orion", "ngsi-ld")),
])
def test_parse_input_spec(spec, want):
    assert codecs.parse_input_spec(spec) == want


@pytest.mark.parametrize(("spec", "msg"), [
    ("t=xml", "unknown codec 'xml'"), ("=json", "empty topic"), ("t=", "empty codec"),
    ("", "empty topic"),
])
def test_parse_input_spec_errors(spec, msg):
    with pytest.raises(ValueError, match=msg):
        codecs.parse_input_spec(spec)
