"""The naive reference flow: what a tutorial would write for per-sensor anomaly detection.

Bytewax's own ``KafkaSource`` -> ``json.loads`` -> ``key_on(sensor)`` -> one river
``HalfSpaceTrees`` per sensor (behind a ``MinMaxScaler``, as river's docs advise) kept
as ``stateful_map`` state -> readings scoring at or above :data:`THRESHOLD` ->
``json.dumps`` -> ``KafkaSink``. Nothing here is tuned: it is the yardstick the engine
is compared with (``engine_over_naive``), not a detector anyone should run.
"""

from __future__ import annotations

import json

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
from bytewax.dataflow import Dataflow
from confluent_kafka import OFFSET_BEGINNING
from river import anomaly, compose, preprocessing

#: HalfSpaceTrees score from which a reading is reported.
THRESHOLD = 0.8


def _parse(msg: object) -> dict:
    return json.loads(msg.value)  # type: ignore[attr-defined]


def _sensor(r: dict) -> str:
    return r["sensor"]


def _detect(model: compose.Pipeline | None, r: dict) -> tuple[compose.Pipeline, dict]:
    if model is None:
        model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)
    x = {"value": r["value"]}
    score = model.score_one(x)
    model.learn_one(x)
    return model, {**r, "score": score}


def _anomalous(kv: tuple[str, dict]) -> bool:
    return kv[1]["score"] >= THRESHOLD


def _encode(kv: tuple[str, dict]) -> KafkaSinkMessage:
    return KafkaSinkMessage(kv[0].encode(), json.dumps(kv[1]).encode())


def build(bootstrap: str, topic: str, out_topic: str, tail: bool = False) -> Dataflow:
    """The naive flow reading ``topic`` from the beginning and writing to ``out_topic``."""
    flow = Dataflow("naive")
    inp = op.input("in", flow, KafkaSource([bootstrap], [topic], tail=tail,
                                           starting_offset=OFFSET_BEGINNING))
    readings = op.map("json-loads", inp, _parse)
    keyed = op.key_on("by-sensor", readings, _sensor)
    scored = op.stateful_map("half-space-trees", keyed, _detect)
    alerts = op.filter("anomalous", scored, _anomalous)
    out = op.map("json-dumps", alerts, _encode)
    op.output("out", out, KafkaSink([bootstrap], out_topic))
    return flow
