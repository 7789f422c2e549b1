"""Fuzzing every codec: nothing but CodecError escapes, every rejection has a reason,
and valid generated messages come out as exactly the readings they carry."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import codecs
from flows.codecs.base import CodecError, decode_batch
from models.reading import KINDS, Reading

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
VALID = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

T0 = 1795874400.0
CODECS = {n: codecs.get(n) for n in codecs.NAMES}

# -- hostile input --------------------------------------------------------------------
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
json_any = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5),
    max_leaves=25,
)
KEYS = ["sensor", "ts", "value", "kind", "unit", "id", "type", "data", "bn", "bt", "bu",
        "bv", "bs", "n", "v", "vb", "vs", "s", "t", "u", "deviceInfo", "devEui", "tags",
        "object", "time", "fCnt", "end_device_ids", "dev_eui", "device_id",
        "uplink_message", "decoded_payload", "received_at", "fillingLevel", "LAeq",
        "dateObserved", "observedAt", "unitCode", "numValue", "controlledProperty",
        "fill_pct", "temperature_c", "location", "coordinates", "activePower"]
shaped = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(KEYS), c, max_size=6),
    max_leaves=30,
)


def _check(name: str, raw: bytes) -> None:
    try:
        out = CODECS[name](raw)
    except CodecError as err:
        assert str(err).strip(), f"{name}: empty reason for {raw[:80]!r}"
        return
    assert isinstance(out, list)
    for r in out:
        assert isinstance(r, Reading) and r.sensor
        assert math.isfinite(r.value) and math.isfinite(r.ts)


@pytest.mark.parametrize("name", codecs.NAMES)
@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes(name, raw):
    _check(name, raw)


@pytest.mark.parametrize("name", codecs.NAMES)
@FUZZ
@given(doc=st.one_of(json_any, shaped))
def test_random_json(name, doc):
    _check(name, json.dumps(doc).encode())


HOSTILE = [
    b"[" * 100_000, b"{\"a\":" * 50_000, b"[" * 1000 + b"]" * 1000,
    b'{"sensor": "s", "ts": 1795874400, "value": 1' + b"0" * 400 + b"}",
    b'{"sensor": "s", "ts": 1' + b"0" * 400 + b', "value": 1}',
    b'{"sensor": "s", "ts": 1795874400, "value": 1e400}',
    b'[{"n": "urn:x:temperature", "v": 1e308, "bv": 1e308, "t": 1795874400}]',
    b'[{"n": "urn:x:temperature", "t": 1e400, "v": 1}]',
    b'[{"bn": "urn:x:", "bt": -1e300, "n": "t", "v": 1}]',
    b'{"sensor": "a", "sensor": "b", "ts": 1795874400, "value": 1, "value": 2}',
    b'{"id": "x", "id": "y", "type": "WasteContainer", "fillingLevel": 0.5,'
    b' "fillingLevel": "full", "dateObserved": "2026-11-28T14:00:00Z"}',
    b'{"sensor": "\xff\xfe", "ts": 1795874400, "value": 1}',
    b"\xef\xbb\xbfsensor,ts,value\ns,1795874400,1\n",
    b"s\xff,1795874400,1\n", b"s,1795874400,1\x00\n", b"sensor,ts,value,ts\ns,1,1,1\n",
    b'{"time": "2026-11-28T14:00:00Z", "deviceInfo": {"devEui": "a"}, "fCnt": 1,'
    b' "object": {"fill_pct": 1' + b"0" * 400 + b"}}",
    b'{"time": "0001-01-01T00:00:00+14:00", "deviceInfo": {"devEui": "a"}, "fCnt": 1,'
    b' "object": {"fill_pct": 1}}',
    b'{"time": "9999-12-31T23:59:59-14:00", "deviceInfo": {"devEui": "a"}, "fCnt": 1,'
    b' "object": {"fill_pct": 1}}',
    b'{"end_device_ids": {"dev_eui": "A"}, "uplink_message": {"decoded_payload":'
    b' {"temperature_c": [1, 2]}, "received_at": "2026-11-28T14:00:00Z"}}',
    b'{"type": "Notification", "data": [[], {}, null, 1]}',
    b'{"id": "x", "type": "ThreePhaseAcMeasurement", "dateObserved": "2026-11-28T14:00:00Z",'
    b' "activePower": {"L1": "x", "L2": {"a": 1}}}',
    b'{"id": "x", "type": "DeviceMeasurement", "controlledProperty": ["temperature"],'
    b' "numValue": 1e999, "dateObserved": "2026-11-28T14:00:00Z"}',
    b"", b"null", b"0", b'""', b"[]", b"{}", b"[[]]", b"[{}]",
]


@pytest.mark.parametrize("name", codecs.NAMES)
@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile(name, raw):
    _check(name, raw)
    good, bad = decode_batch(CODECS[name], name, [raw])
    for b in bad:
        assert b.raw == raw and b.reason and not b.reason.startswith("codec error")


# -- nothing valid lost ---------------------------------------------------------------
KIND_LIST = sorted(KINDS)
names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
times = st.floats(min_value=T0, max_value=T0 + 3e7)
# values inside every kind's physical range
values = st.floats(min_value=0.0, max_value=1.0) | st.integers(min_value=0, max_value=1)


@st.composite
def senml_packs(draw):
    dev = draw(names)
    recs = draw(st.lists(st.tuples(st.sampled_from(KIND_LIST), values, st.floats(0, 3600)),
                         min_size=1, max_size=6))
    bt = draw(times)
    pack = [{"bn": f"urn:dev:ow:{dev}:", "bt": bt}]
    for kind, v, dt in recs:
        pack.append({"n": kind, "u": KINDS[kind], "v": v, "t": dt})
    return pack, [(f"urn:dev:ow:{dev}:{k}", bt + dt, float(v), k) for k, v, dt in recs]


@VALID
@given(senml_packs())
def test_senml_valid_round_trip(case):
    pack, want = case
    got = CODECS["senml"](json.dumps(pack).encode())
    assert [(r.sensor, r.kind) for r in got] == [(s, k) for s, _, _, k in want]
    for r, (_, t, v, _) in zip(got, want, strict=True):
        assert r.ts == pytest.approx(t) and r.value == pytest.approx(v)


@st.composite
def uplinks(draw):
    kinds = draw(st.lists(st.sampled_from(KIND_LIST), min_size=1, max_size=5, unique=True))
    obj = {k: draw(values) for k in kinds}
    obj["battery_v"] = 3.6
    dev = draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True))
    t = draw(times)
    return dev, t, obj


@VALID
@given(uplinks(), st.booleans())
def test_lorawan_valid_round_trip(case, use_tts):
    dev, t, obj = case
    stamp = f"{t:.6f}"
    iso = __import__("datetime").datetime.fromtimestamp(float(stamp), __import__(
        "datetime").UTC).isoformat()
    if use_tts:
        msg = {"end_device_ids": {"device_id": "d", "dev_eui": dev.upper()},
               "uplink_message": {"decoded_payload": obj, "received_at": iso}}
        got = CODECS["tts"](json.dumps(msg).encode())
    else:
        msg = {"time": iso, "deviceInfo": {"devEui": dev, "tags": {}}, "fCnt": 1, "object": obj}
        got = CODECS["chirpstack"](json.dumps(msg).encode())
    want = {k: float(v) for k, v in obj.items() if k in KINDS}
    assert {r.kind: r.value for r in got} == pytest.approx(want)
    assert all(r.sensor == f"{dev}/{r.kind}" and r.ts == pytest.approx(float(stamp))
               for r in got)


MODEL_PROPS = {"WasteContainer": ("fillingLevel", "fill_pct", 100.0),
               "AirQualityObserved": ("pm25", "pm25_ugm3", 1.0),
               "NoiseLevelObserved": ("LAeq", "noise_dba", 1.0),
               "FloodMonitoring": ("currentLevel", "water_level_m", 1.0),
               "Streetlight": ("illuminanceLevel", "dimming_pct", 100.0)}


@VALID
@given(st.lists(st.tuples(st.sampled_from(sorted(MODEL_PROPS)), names, values,
                          st.booleans()), min_size=1, max_size=5),
       st.booleans())
def test_ngsi_ld_valid_round_trip(ents, notify):
    data, want = [], []
    for etype, name, v, normalized in ents:
        prop, kind, scale = MODEL_PROPS[etype]
        eid = f"urn:ngsi-ld:{etype}:{name}"
        e = {"id": eid, "type": etype, "dateObserved": "2026-11-28T14:00:00Z"}
        e[prop] = {"type": "Property", "value": v} if normalized else v
        data.append(e)
        want.append((f"{eid}/{kind}", float(v) * scale))
    doc = {"type": "Notification", "subscriptionId": "urn:s", "data": data} if notify else data
    got = CODECS["ngsi-ld"](json.dumps(doc).encode())
    assert [r.sensor for r in got] == [s for s, _ in want]
    assert [r.value for r in got] == pytest.approx([v for _, v in want])


@VALID
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s.lower() != "sensor" and "\x00" not in s
    and "\r" not in s and "\n" not in s), times, values, st.sampled_from(KIND_LIST)),
    min_size=1, max_size=8))
def test_csv_valid_round_trip(rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    for s, t, v, k in rows:
        w.writerow([s, repr(t), repr(v), k, KINDS[k]])
    got = CODECS["csv"](buf.getvalue().encode())
    assert [(r.sensor, r.kind) for r in got] == [(s, k) for s, _, _, k in rows]
    assert [r.value for r in got] == pytest.approx([float(v) for _, _, v, _ in rows])
    assert [r.ts for r in got] == pytest.approx([t for _, t, _, _ in rows])
