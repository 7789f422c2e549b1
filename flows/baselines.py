"""Reference flows the benchmarks compare the engine with (not for production use).

Each reads a topic from the beginning to its end and writes to another, on the same
data as the engine's run (``benchmarks/throughput.py``):

- :func:`ceiling`: the stack's ceiling, Kafka -> Kafka passthrough with our
  :class:`flows.source.KafkaBatchSource` (one item per poll), each value re-emitted as
  one ``KafkaSinkMessage`` to Bytewax's ``KafkaSink``: no decode, no processing;
- :func:`ceiling_bytewax`: the same passthrough with Bytewax's own ``KafkaSource``
  (one Python message object per record), for reference;
- :func:`naive`: what a tutorial would write for per-sensor anomaly detection.
  Bytewax's own ``KafkaSource`` -> ``json.loads`` -> ``key_on(sensor)`` -> one river
  ``HalfSpaceTrees`` per sensor (behind a ``MinMaxScaler``, as river's docs advise) kept
  as ``stateful_map`` state -> readings scoring at or above :data:`THRESHOLD` ->
  ``json.dumps`` -> ``KafkaSink``. Nothing here is tuned: it is the yardstick the engine
  is compared with (``engine_over_naive``), not a detector anyone should run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
from bytewax.dataflow import Dataflow
from confluent_kafka import OFFSET_BEGINNING

from flows.source import KafkaBatchSource, RawBatch

if TYPE_CHECKING:
    from bytewax.connectors.kafka import KafkaSourceMessage
    from river import compose

#: HalfSpaceTrees score from which the naive flow reports a reading.
THRESHOLD = 0.8
#: Producer setting of the passthrough sinks.
SINK_CONFIG = {"linger.ms": "2"}


# -- passthrough ceilings ---------------------------------------------------------------


def _explode(b: RawBatch) -> list[KafkaSinkMessage]:
    return [KafkaSinkMessage(k, v) for k, v in zip(b.keys, b.values, strict=True)]


def _to_sink(m: KafkaSourceMessage) -> KafkaSinkMessage:
    return KafkaSinkMessage(m.key, m.value)


def ceiling(bootstrap: str, topic: str, out: str, batch_size: int = 5000) -> Dataflow:
    """``topic`` -> ``out`` unchanged through :class:`flows.source.KafkaBatchSource`."""
    flow = Dataflow("ceiling")
    raw = op.input("in", flow, KafkaBatchSource(bootstrap, [topic], tail=False,
                                                batch_size=batch_size))
    op.output("out", op.flat_map("passthrough", raw, _explode),
              KafkaSink([bootstrap], out, add_config=dict(SINK_CONFIG)))
    return flow


def ceiling_bytewax(bootstrap: str, topic: str, out: str) -> Dataflow:
    """``topic`` -> ``out`` unchanged through Bytewax's own ``KafkaSource``."""
    flow = Dataflow("ceiling-bytewax")
    raw = op.input("in", flow, KafkaSource([bootstrap], [topic], tail=False,
                                           batch_size=5000))
    op.output("out", op.map("passthrough", raw, _to_sink),
              KafkaSink([bootstrap], out, add_config=dict(SINK_CONFIG)))
    return flow


# -- the naive tutorial flow ------------------------------------------------------------


def _parse(msg: KafkaSourceMessage) -> dict:
    return json.loads(msg.value)


def _sensor(r: dict) -> str:
    return r["sensor"]


def _model() -> compose.Pipeline:
    # river is imported here so that the ceilings do not load it (their peak RSS)
    from river import anomaly, preprocessing

    return preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)


def _detect(model: compose.Pipeline | None, r: dict) -> tuple[compose.Pipeline, dict]:
    if model is None:
        model = _model()
    x = {"value": r["value"]}
    score = model.score_one(x)
    model.learn_one(x)
    return model, {**r, "score": score}


def _anomalous(kv: tuple[str, dict]) -> bool:
    return kv[1]["score"] >= THRESHOLD


def _encode(kv: tuple[str, dict]) -> KafkaSinkMessage:
    return KafkaSinkMessage(kv[0].encode(), json.dumps(kv[1]).encode())


def naive(bootstrap: str, topic: str, out_topic: str, tail: bool = False) -> Dataflow:
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
