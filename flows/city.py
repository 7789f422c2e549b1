"""The main dataflow: Kafka readings in, alerts out.

::

    KafkaBatchSource(readings...) -> decode (codec per topic, registry; bad -> DLQ)
      -> keyed by subject (commune/site, or sensor) -> engine (detectors, rules,
      lifecycle, timers) -> alerts topic (key = alert id) ; late readings -> DLQ

Run it with ``sentinelle run`` or ``python -m bytewax.run flows.city:flow`` (configured
by ``SENTINELLE_*`` variables, see :meth:`flows.config.Config.from_env`).
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
from bytewax.outputs import Sink
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

from flows import metrics
from flows.codecs.base import Codec, CodecError, Reject
from flows.codecs.json import encode as encode_reading
from flows.config import Config
from flows.source import KafkaBatchSource, RawBatch
from models.reading import Reading
from rules.alert import Alert
from rules.engine import Engine, KeyState

#: Type of what the decode step emits: (subject, Reading) or (None, DLQ message).
Item = tuple[str | None, object]


def get_codec(name: str, **kw: object) -> Codec:
    """The codec called ``name`` (``flows.codecs`` registry)."""
    from flows import codecs

    get = getattr(codecs, "get", None)
    if get is not None:
        return get(name, **kw) if kw else get(name)
    if name == "json":
        from flows.codecs.json import decode

        return decode
    raise ValueError(f"unknown codec {name!r}")


def make_engine(cfg: Config) -> Engine:
    """The rule engine for this configuration (packs from ``cfg.rules`` or the defaults)."""
    from_paths = getattr(Engine, "from_paths", None)
    if from_paths is not None:
        return from_paths(list(cfg.rules) or None)
    return Engine()


def make_codecs(cfg: Config) -> dict[str, tuple[str, Codec]]:
    """Topic -> (codec name, codec), each wrapped by the sensor registry when one is
    configured (decode then enrich: a message is wholly decoded or wholly rejected)."""
    reg = None
    if cfg.registry:
        from flows.registry import Registry

        reg = Registry.load(cfg.registry, strict=cfg.strict_registry)
    out = {}
    for topic, name in cfg.inputs:
        codec = get_codec(name, **cfg.codec_options.get(name, {}))
        out[topic] = (name, reg.wrap(codec) if reg is not None else codec)
    return out


def dlq_message(topic: str, rej: Reject, key: bytes | None = None) -> KafkaSinkMessage:
    """DLQ record: the original bytes as value; reason and origin in headers."""
    metrics.DLQ.labels(rej.topic, metrics.cause(rej.reason)).inc()
    return KafkaSinkMessage(
        key=key, value=rej.raw, topic=topic,
        headers=[
            ("sentinelle.reason", rej.reason.encode("utf-8", "replace")),
            ("sentinelle.codec", rej.codec.encode()),
            ("sentinelle.topic", rej.topic.encode()),
            ("sentinelle.partition", str(rej.partition).encode()),
            ("sentinelle.offset", str(rej.offset).encode()),
        ],
    )


class Decoder:
    """The decode step: one raw batch -> keyed readings, bad messages -> DLQ."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.codecs = make_codecs(cfg)

    def __call__(self, b: RawBatch) -> list[Item]:
        name, codec = self.codecs[b.topic]
        out: list[Item] = []
        dlq = self.cfg.dlq_topic
        append = out.append
        communes: Counter[str] = Counter()
        echo = self.cfg.readings_out
        for i, raw in enumerate(b.values):
            try:
                if raw is None:
                    raise CodecError("empty message (null value)")
                for r in codec(raw):
                    append((r.subject, r))
                    communes[r.commune] += 1
                    if echo:
                        append((None, KafkaSinkMessage(r.sensor.encode(), encode_reading(r),
                                                       topic=echo)))
            except Exception as err:  # CodecError, or a codec bug: never stop the flow
                reason = str(err) if isinstance(err, CodecError) else (
                    f"codec error: {type(err).__name__}: {err}")
                rej = Reject(raw or b"", reason, name, b.topic, b.partition, b.offset + i)
                append((None, dlq_message(dlq, rej, b.keys[i])))
        for c, n in communes.items():
            metrics.READINGS.labels(c or "unassigned").inc(n)
        return out


class EngineLogic(StatefulBatchLogic[Reading, KafkaSinkMessage, bytes]):
    """Bytewax state of one key: the engine's :class:`KeyState`, snapshotted by pickle."""

    def __init__(self, engine: Engine, cfg: Config, encode: Callable[[Alert], bytes],
                 state: KeyState) -> None:
        self.engine = engine
        self.cfg = cfg
        self.encode = encode
        self.state = state

    def _emit(self, alerts: list[Alert], late: list[Reading]) -> list[KafkaSinkMessage]:
        out = []
        topic = self.cfg.alerts_topic
        for a in alerts:
            metrics.ALERTS.labels(a.commune, a.rule, a.status).inc()
            out.append(KafkaSinkMessage(key=a.id.encode(), value=self.encode(a), topic=topic))
        if late:
            metrics.LATE.inc(len(late))
            for r in late:
                rej = Reject(encode_reading(r),
                             "late: event time not after the sensor's last reading", "engine")
                out.append(dlq_message(self.cfg.dlq_topic, rej, r.sensor.encode()))
        return out

    def on_batch(self, values: list[Reading]) -> tuple[list[KafkaSinkMessage], bool]:
        alerts, late = self.engine.process(self.state, values, time.time())
        if not alerts and not late:
            return [], False
        return self._emit(alerts, late), False

    def on_notify(self) -> tuple[list[KafkaSinkMessage], bool]:
        return self._emit(self.engine.tick(self.state, time.time()), []), False

    def notify_at(self) -> datetime | None:
        d = self.engine.deadline(self.state)
        return None if d is None else datetime.fromtimestamp(d, UTC)

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)


def alert_encoder(name: str) -> Callable[[Alert], bytes]:
    """The alert output format (``native`` contract JSON by default)."""
    if name == "native":
        from rules.alert import encode

        return encode
    from flows.alert_formats import get_alert_format

    return get_alert_format(name)


def build_flow(cfg: Config, engine: Engine | None = None,
               stop: threading.Event | None = None, source: Source | None = None,
               sink: Sink | None = None) -> Dataflow:
    """The Sentinelle dataflow for ``cfg`` (``engine`` defaults to the configured packs;
    ``stop``, for in-process runs, ends the input at the next idle poll once set).

    ``source`` (of :class:`RawBatch`) and ``sink`` (of ``KafkaSinkMessage``) replace the
    Kafka ends, for unit tests and benchmarks without a broker.
    """
    engine = engine or make_engine(cfg)
    encode = alert_encoder(cfg.alert_format)
    flow = Dataflow("sentinelle")
    src = source or KafkaBatchSource(
        cfg.bootstrap, cfg.topics,
        starting_offset=OFFSET_END if cfg.start == "latest" else OFFSET_BEGINNING,
        tail=cfg.tail, batch_size=cfg.batch_size, add_config=dict(cfg.kafka), stop=stop,
    )
    raw = op.input("readings", flow, src)
    items = op.flat_map("decode", raw, Decoder(cfg))
    split = op.branch("valid", items, _is_reading)
    keyed = op.map("key", split.trues, _identity)  # (subject, Reading) is already keyed

    def builder(resume: bytes | None) -> EngineLogic:
        st = engine.new_state() if resume is None else pickle.loads(resume)
        return EngineLogic(engine, cfg, encode, st)

    alerts = op.stateful_batch("engine", keyed, builder)
    out = op.merge("out", op.key_rm("unkey", alerts), split.falses.then(op.map, "dlq", _second))
    sink_cfg = {"linger.ms": "2", "compression.type": "none", **cfg.kafka}
    op.output("kafka-out", out, sink or KafkaSink([cfg.bootstrap], None, add_config=sink_cfg))
    return flow


def _is_reading(item: Item) -> bool:
    return item[0] is not None


def _identity(x: Item) -> Item:
    return x


def _second(x: Item) -> object:
    return x[1]


def _module_flow() -> Dataflow:
    return build_flow(Config.from_env())


def __getattr__(name: str) -> Dataflow:
    # ``python -m bytewax.run flows.city:flow`` builds the flow lazily from the env
    if name == "flow":
        return _module_flow()
    raise AttributeError(name)
