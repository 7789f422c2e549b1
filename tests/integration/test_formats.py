"""Every input format end to end: an independent client produces the hand-written sample
messages to a topic configured for that codec; the flow turns them into contract readings
(checked on the ``--readings-out`` topic), alerts (a pack written for the test fires once
per sensor) and dead letters with reasons."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from bytewax.testing import run_main

from flows.city import build_flow
from flows.config import Config
from tests.integration.conftest import produce, read_all

pytestmark = pytest.mark.integration

FIX = Path(__file__).parents[1] / "flows" / "fixtures"
DOCS = {p.stem: json.loads(p.read_text()) for p in sorted(FIX.glob("*.json"))}

PACK = """
name: seen
description: fires once for every sensor that reports anything (test pack)
match: {kind: "*"}
rules:
  - name: Seen
    when: value > -1e300
    severity: info
    summary: "{sensor} reported {value}"
"""


def _raw(doc: dict, m: dict) -> bytes:
    return m["raw"].encode() if doc["format"] == "csv" else json.dumps(m["raw"]).encode()


def _key(r: dict) -> tuple:
    return (r["sensor"], round(float(r["value"]), 6), r.get("kind", ""))


@pytest.mark.parametrize("name", sorted(DOCS))
def test_format_through_the_flow(name, broker, topics, tmp_path):
    doc = DOCS[name]
    (tmp_path / "seen.yaml").write_text(PACK)
    bs = broker.bootstrap
    out_topic = topics["readings"] + "-out"
    broker.create_topics([out_topic])
    msgs = doc["messages"]
    produce(bs, topics["readings"], [_raw(doc, m) for m in msgs])
    opts = {doc["format"]: {"mapping": str(FIX / doc["mapping"])}} if "mapping" in doc else {}
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], doc["format"]),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False,
                 readings_out=out_topic, rules=(str(tmp_path),), codec_options=opts)
    run_main(build_flow(cfg))

    want = [r for m in msgs if "expect" in m for r in m["expect"]]
    got = [msgspec.json.decode(m.value()) for m in read_all(bs, out_topic)]
    assert sorted(map(_key, got)) == sorted(map(_key, want))

    dead = read_all(bs, topics["dlq"])
    rejects = [m for m in msgs if "reject" in m]
    assert len(dead) == len(rejects)
    reasons = [dict(d.headers())["sentinelle.reason"].decode() for d in dead]
    for m in rejects:
        assert any(m["reject"] in r for r in reasons), (m["reject"], reasons)

    alerts = [msgspec.json.decode(m.value()) for m in read_all(bs, topics["alerts"])]
    fired = {a["sensor"] for a in alerts if a["status"] == "firing" and a["rule"] == "Seen"}
    assert fired == {r["sensor"] for r in want}
