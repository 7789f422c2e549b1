"""The native JSON codec: the contract, and every kind of bad input with its reason."""

from __future__ import annotations

import pytest

from flows.codecs.base import CodecError, decode_batch
from flows.codecs.json import decode, encode


def test_full_reading():
    (r,) = decode(b'{"sensor": "metz/ecole-jean-moulin/elec-1", "ts": "2026-11-28T14:00:00Z",'
                  b' "value": 12.5, "kind": "electricity_kw", "unit": "kW", "commune": "metz",'
                  b' "site": "ecole-jean-moulin", "attrs": {"nominal_power_kw": 3}}')
    assert r.ts == 1795874400.0 and r.value == 12.5 and r.kind == "electricity_kw"
    assert r.subject == "metz/ecole-jean-moulin" and r.attrs == {"nominal_power_kw": 3}


@pytest.mark.parametrize("ts", ["2026-11-28T15:00:00+01:00", 1795874400, 1795874400000,
                                1795874400.0, "2026-11-28T14:00:00.000Z"])
def test_timestamp_forms(ts):
    raw = f'{{"sensor": "s", "ts": {ts!r}, "value": 1}}'.replace("'", '"').encode()
    assert decode(raw)[0].ts == 1795874400.0


def test_list_of_readings_and_bool_value():
    rs = decode(b'[{"sensor": "a", "ts": 1, "value": true}, {"sensor": "b", "ts": 2, "value": 0}]')
    assert [(r.sensor, r.value) for r in rs] == [("a", 1.0), ("b", 0.0)]


def test_round_trip():
    (r,) = decode(b'{"sensor": "s", "ts": "2026-11-28T14:00:00Z", "value": 2.5, "site": "x"}')
    assert decode(encode(r)) == [r]


@pytest.mark.parametrize("raw, reason", [
    (b"{not json", "invalid reading JSON"),
    (b"", "invalid reading JSON"),
    (b"\xff\xfe\x00", "invalid reading JSON"),
    (b'{"ts": 1, "value": 1}', "missing required field `sensor`"),
    (b'{"sensor": "s", "value": 1}', "missing required field `ts`"),
    (b'{"sensor": "s", "ts": 1}', "missing required field `value`"),
    (b'{"sensor": "", "ts": 1, "value": 1}', "empty sensor"),
    (b'{"sensor": "s", "ts": 1, "value": "12,5"}', "value is not a number"),
    (b'{"sensor": "s", "ts": 1, "value": null}', "value is null"),
    (b'{"sensor": "s", "ts": 1, "value": [1]}', "invalid reading JSON"),
    (b'{"sensor": "s", "ts": 1, "value": 1e999}', "out of range"),
    (b'{"sensor": "s", "ts": 1, "value": NaN}', "invalid reading JSON"),
    (b'{"sensor": "s", "ts": "28/11/2026 14:00", "value": 1}', "unparseable timestamp"),
    (b'{"sensor": "s", "ts": "2026-11-28T14:00:00", "value": 1}', "without time zone"),
    (b'{"sensor": "s", "ts": -5, "value": 1}', "invalid timestamp"),
    (b'{"sensor": "s", "ts": true, "value": 1}', "invalid reading JSON"),
    (b'{"sensor": 5, "ts": 1, "value": 1}', "invalid reading JSON"),
    (b'"just a string"', "invalid reading JSON"),
])
def test_bad_input_has_a_reason(raw, reason):
    with pytest.raises(CodecError, match=reason.replace("`", ".").replace("(", r"\(")):
        decode(raw)


def test_decode_batch_keeps_good_and_rejects_bad():
    good, bad = decode_batch(decode, "json", [b'{"sensor": "s", "ts": 1, "value": 1}', b"x"])
    assert len(good) == 1 and len(bad) == 1
    assert bad[0].raw == b"x" and bad[0].reason and bad[0].codec == "json"
