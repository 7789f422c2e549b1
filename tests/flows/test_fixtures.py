"""Hand-written sample messages of every input format decode into the expected readings.

Each ``fixtures/<format>.json`` holds messages written from the public specification
and, for each, the readings it must give (``expect``) or a piece of the reason it must
be rejected with (``reject``).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import msgspec
import pytest

from flows import codecs
from flows.codecs.base import CodecError, decode_batch

FIX = Path(__file__).parent / "fixtures"
FILES = sorted(p for p in FIX.glob("*.json"))


def _cases():
    for path in FILES:
        doc = json.loads(path.read_text())
        for m in doc["messages"]:
            yield pytest.param(doc, m, id=f"{path.stem}:{m['name']}")


def _codec(doc: dict):
    opts = {}
    if "mapping" in doc:
        opts["mapping"] = FIX / doc["mapping"]
    return codecs.get(doc["format"], **opts)


def _message_bytes(doc: dict, m: dict) -> bytes:
    if doc["format"] == "csv":
        return m["raw"].encode()
    return json.dumps(m["raw"]).encode()


def test_every_format_has_a_fixture_file():
    assert {json.loads(p.read_text())["format"] for p in FILES} == set(codecs.NAMES)


@pytest.mark.parametrize(("doc", "m"), list(_cases()))
def test_fixture_message(doc, m):
    decode = _codec(doc)
    raw = _message_bytes(doc, m)
    if "reject" in m:
        with pytest.raises(CodecError) as err:
            decode(raw)
        assert m["reject"] in str(err.value)
        good, bad = decode_batch(decode, doc["format"], [raw])
        assert not good and bad[0].raw == raw and m["reject"] in bad[0].reason
        return
    got = sorted(decode(raw), key=lambda r: r.sensor)
    want = sorted(m["expect"], key=lambda r: r["sensor"])
    assert [r.sensor for r in got] == [w["sensor"] for w in want]
    for r, w in zip(got, want, strict=True):
        assert r.ts == pytest.approx(datetime.fromisoformat(w["ts"]).timestamp(), abs=1e-6)
        assert r.value == pytest.approx(w["value"], rel=1e-9, abs=1e-9)
        for field in ("kind", "unit", "commune", "site"):
            if field in w:
                assert getattr(r, field) == w[field], field
        for k, v in w.get("attrs", {}).items():
            assert r.attrs[k] == (pytest.approx(v) if isinstance(v, float | list) else v), k
        if w.get("attrs") == {}:
            assert r.attrs == {}
        # every reading survives the native contract round trip
        assert msgspec.json.decode(msgspec.json.encode(r), type=type(r)) == r
