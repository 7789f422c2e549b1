"""The reference flows of the benchmarks: their steps and the naive flow's logic (no broker).

They run end to end against the embedded broker in tests/benchmarks/test_throughput_smoke.py.
"""

from __future__ import annotations

import json

from flows import baselines as b
from flows.source import RawBatch


def _ids(flow) -> list[str]:
    return [s.step_id.split(".", 1)[1] for s in flow.substeps]


def test_flows_build_with_their_steps_without_a_broker():
    assert _ids(b.ceiling("localhost:1", "in", "out")) == ["in", "passthrough", "out"]
    assert _ids(b.ceiling_bytewax("localhost:1", "in", "out")) == ["in", "passthrough", "out"]
    assert _ids(b.naive("localhost:1", "in", "out")) == [
        "in", "json-loads", "by-sensor", "half-space-trees", "anomalous", "json-dumps", "out"]


def test_ceiling_passthrough_keeps_keys_and_values_in_order():
    batch = RawBatch("t", 0, 5, [b"v1", b"v2"], [b"k1", None])
    msgs = b._explode(batch)
    assert [(m.key, m.value) for m in msgs] == [(b"k1", b"v1"), (None, b"v2")]


def test_naive_keeps_one_model_per_key_and_scores_each_reading():
    r = {"sensor": "s1", "value": 20.5, "ts": "2024-01-01T00:00:00Z"}
    model, out = b._detect(None, r)
    assert out == {**r, "score": out["score"]} and 0.0 <= out["score"] <= 1.0
    again, out2 = b._detect(model, {**r, "value": 21.0})
    assert again is model  # learned in place, state carried by stateful_map
    assert out2["value"] == 21.0


def test_naive_reports_from_the_threshold_and_encodes_json_by_sensor():
    assert b._anomalous(("s", {"score": b.THRESHOLD}))
    assert not b._anomalous(("s", {"score": b.THRESHOLD - 1e-9}))
    m = b._encode(("s1", {"sensor": "s1", "score": 0.9}))
    assert m.key == b"s1" and json.loads(m.value) == {"sensor": "s1", "score": 0.9}
    assert b._sensor(b._parse(type("M", (), {"value": b'{"sensor": "x"}'})())) == "x"
