"""The main dataflow: Kafka readings in, alerts out.

::

    KafkaBatchSource(readings...) -> decode (codec per topic, registry; bad -> DLQ)
      -> grouped by subject (commune/site, or sensor), subjects by shard -> engine
      (detectors, rules, lifecycle, timers; one KeyState per subject) -> alerts topic
      (key = alert id) ; late readings -> DLQ

Hot path: a raw batch (one Kafka poll) is decoded in one call, its readings grouped by
subject, and the subjects by one of :data:`flows.shards.SHARDS` stable shards; Bytewax keys its
state by shard, so it routes and calls the engine once per shard and batch, not once
per reading (its per-key overhead is ~2 µs per call). Shards are named so that, on
input keyed by subject, each stays on the worker that reads it (:mod:`flows.shards`):
nothing crosses between processes unless the keying or the cluster size says so. A
sensor's readings share its strings (:mod:`flows.canon`), on both sides of the exchange.
A shard's snapshot re-pickles only the subjects touched since the previous one, and is
skipped when no recovery store reads it (``Config.snapshots``).

With ``Config.placement == "partition"`` the decode and engine steps run inside each
input partition instead (:mod:`flows.local`): no routing, no exchange between workers;
the input must then be keyed by subject.

Run it with ``sentinelle run`` or ``python -m bytewax.run flows.city:flow`` (configured
by ``SENTINELLE_*`` variables, see :meth:`flows.config.Config.from_env`).
"""

from __future__ import annotations

import math
import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import bytewax.operators as op
import msgspec
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
from bytewax.outputs import Sink
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

from flows import metrics
from flows.canon import Canon
from flows.codecs import json as json_codec
from flows.codecs.base import MAX_ABS, Codec, CodecError, Reject
from flows.codecs.json import encode as encode_reading
from flows.config import Config
from flows.shards import shard_of
from flows.source import READERS, KafkaBatchSource, RawBatch
from models.reading import Reading
from rules.alert import Alert
from rules.engine import Engine, KeyState

#: Alert outputs: (topic, encoder) pairs, one message per alert on each.
Outputs = list[tuple[str, Callable[[Alert], bytes]]]

#: Type of what the decode step emits: (shard, [(subject, [Reading, ...]), ...]) or
#: (None, DLQ message).
Item = tuple[str | None, object]


class Group(list):
    """One shard's part of a raw batch: ``[(subject, [Reading, ...]), ...]`` in the
    partition's order, tagged with that partition (``src``: ``(topic, partition)``) and
    the batch's first event time (``lo``): the engine's event-time clock for timers."""

    __slots__ = ("src", "lo")

    def __init__(self, src: object = None, lo: float = -math.inf) -> None:
        super().__init__()
        self.src = src
        self.lo = lo

    def __reduce__(self) -> tuple:
        """Pickled to reach its shard's worker in another process: the readings as one
        msgpack blob (about 2x cheaper to write and read back than pickling each
        :class:`Reading`), or pickled as they are if msgpack cannot hold their attrs."""
        if all(_plain(r.attrs) for _, rs in self for r in rs if r.attrs):
            try:
                return (_unpack, (self.src, self.lo, _PACK.encode(self)))
            except (TypeError, ValueError, OverflowError):  # e.g. an int beyond 64 bits
                pass
        return (_regroup, (self.src, self.lo, list(self)))


def _same_field(f: msgspec.structs.FieldInfo) -> tuple:
    if f.default is not msgspec.NODEFAULT:
        return (f.name, f.type, f.default)
    if f.default_factory is not msgspec.NODEFAULT:
        return (f.name, f.type, msgspec.field(default_factory=f.default_factory))
    return (f.name, f.type)


#: A :class:`Reading` as msgpack gives it back: its fields, under the same names, in a
#: struct that is not yet a reading (:class:`Canon` makes the reading).
_Packed = msgspec.defstruct("_Packed", [_same_field(f) for f in msgspec.structs.fields(Reading)],
                            gc=False)


_PACK = msgspec.msgpack.Encoder()
_UNPACK = msgspec.msgpack.Decoder(list[tuple[str, list[_Packed]]])
#: The readings that crossed into this process share their sensor's strings too.
_CANON = Canon()


def _regroup(src: object, lo: float, pairs: list) -> Group:
    g = Group(src, lo)
    g.extend(pairs)
    return g


def _unpack(src: object, lo: float, blob: bytes) -> Group:
    make = _CANON.reading
    return _regroup(src, lo, [
        (k, [make(w.sensor, w.ts, w.value, w.kind, w.unit, w.commune, w.site, w.attrs)
             for w in ws])
        for k, ws in _UNPACK.decode(blob)])


def _plain(v: object) -> bool:
    """Whether msgpack gives ``v`` back as it is: JSON values (a tuple would come back as
    a list, a datetime as another object)."""
    if isinstance(v, dict):
        return all(type(k) is str and _plain(x) for k, x in v.items())
    if isinstance(v, list):
        return all(_plain(x) for x in v)
    return v is None or type(v) in (str, int, float, bool)


#: Producer settings of the alerts / DLQ sink (``Config.kafka`` overrides them). Bytewax's
#: ``KafkaSink`` flushes after every batch it writes, so an alert leaves at once.
SINK_CONF = {"linger.ms": "2", "compression.type": "none"}


def get_codec(name: str, **kw: object) -> Codec:
    """The codec called ``name`` (``flows.codecs`` registry)."""
    from flows import codecs

    return codecs.get(name, **kw)


def make_engine(cfg: Config) -> Engine:
    """The rule engine for this configuration (packs from ``cfg.rules`` or the defaults)."""
    return Engine.from_paths(list(cfg.rules) or None)


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
    """The decode step: one raw batch -> keyed readings, bad messages -> DLQ.

    ``sharded=False`` (partition placement, :mod:`flows.local`): a batch's readings stay
    together, one :class:`Group` keyed ``""``, since no shard routing follows.
    """

    sharded = True

    def __init__(self, cfg: Config, sharded: bool = True) -> None:
        self.cfg = cfg
        self.sharded = sharded
        self.codecs = make_codecs(cfg)
        self._shards: dict[str, str] = {}  # subject -> shard
        self._subjects: dict[str, tuple[str, str, str]] = {}  # sensor -> commune, site, subject
        self._ts: dict[object, float] = {}  # wire ts -> epoch s (native JSON fast path)
        self._canon = Canon()  # readings of a sensor share its strings

    def __call__(self, b: RawBatch) -> list[Item]:
        name, codec = self.codecs[b.topic]
        out: list[Item] = []
        readings: list[Reading] = []
        echo = self.cfg.readings_out
        if codec is json_codec.decode and not echo:
            bad = self._json(b.values, readings)
        else:
            bad = []
            for i, raw in enumerate(b.values):
                try:
                    if raw is None:
                        raise CodecError("empty message (null value)")
                    rs = codec(raw)
                except Exception as err:  # CodecError, or a codec bug: never stop the flow
                    bad.append((i, err))
                    continue
                readings.extend(rs)
                if echo:
                    out.extend((None, KafkaSinkMessage(r.sensor.encode(), encode_reading(r),
                                                       topic=echo)) for r in rs)
        for i, err in bad:
            reason = str(err) if isinstance(err, CodecError) else (
                f"codec error: {type(err).__name__}: {err}")
            raw = b.values[i]
            rej = Reject(raw or b"", reason, name, b.topic, b.partition, b.offset + i)
            out.append((None, dlq_message(self.cfg.dlq_topic, rej, b.keys[i])))
        if readings:
            out.extend(self._group(readings, (b.topic, b.partition)))
        return out

    def _group(self, readings: list[Reading], src: object = None) -> list[Item]:
        """Readings -> (shard, [(subject, readings in order), ...]) items (each a
        :class:`Group` tagged with the source ``src`` and the first event time); count
        them."""
        lo = readings[0].ts
        subj: dict[str, list[Reading]] = {}
        # sensor -> (commune, site, subject): a subject string is built once per sensor
        # (and again only if the sensor's commune or site changes), not once per reading
        known = self._subjects
        if len(known) > 1_000_000:
            known.clear()
        for r in readings:
            e = known.get(r.sensor)
            if e is None or e[0] != r.commune or e[1] != r.site:
                e = known[r.sensor] = (r.commune, r.site, r.subject)
            k = e[2]
            g = subj.get(k)
            if g is None:
                subj[k] = [r]
            else:
                g.append(r)
        communes: Counter[str] = Counter()
        for rs in subj.values():
            communes[rs[0].commune] += len(rs)  # a subject's readings share a commune
        for c, n in communes.items():
            metrics.READINGS.labels(c or "unassigned").inc(n)
        if not self.sharded:
            whole = Group(src, lo)
            whole.extend(subj.items())
            return [("", whole)]
        shards: dict[str, Group] = {}
        of = self._shards
        for k, rs in subj.items():
            sh = of.get(k)
            if sh is None:
                sh = of[k] = shard_of(k)
            g = shards.get(sh)
            if g is None:
                g = shards[sh] = Group(src, lo)
            g.append((k, rs))
        return list(shards.items())

    def _json(self, values: list[bytes | None], out: list[Reading]) -> list[tuple[int, Exception]]:
        """The native JSON codec inlined for a batch: same readings, same rejects as
        :func:`flows.codecs.json.decode` message by message, with event times parsed
        once per distinct ``ts`` value (a fleet reports on the same ticks)."""
        dec = json_codec._dec.decode
        wire = json_codec._Wire
        one = json_codec._one
        tsc = self._ts
        if len(tsc) > 4096:
            tsc.clear()
        make = self._canon.reading
        append = out.append
        bad: list[tuple[int, Exception]] = []
        for i, raw in enumerate(values):
            try:
                if raw is None:
                    raise CodecError("empty message (null value)")
                w = dec(raw)
            except Exception:
                try:  # the codec itself says why (same reason as the slow path)
                    out.extend(json_codec.decode(raw))  # type: ignore[arg-type]
                except Exception as err:
                    bad.append((i, err))
                continue
            if type(w) is wire:
                v = w.value
                t = tsc.get(w.ts)
                if t is None or type(v) is not float or not -MAX_ABS < v < MAX_ABS or (
                        not w.sensor):  # the codec's checks and conversions
                    try:
                        r = one(w)
                    except Exception as err:
                        bad.append((i, err))
                        continue
                    if isinstance(w.ts, str | float | int):
                        tsc[w.ts] = r.ts
                    t, v = r.ts, r.value
                append(make(w.sensor, t, v, w.kind, w.unit, w.commune, w.site, w.attrs))
            else:
                try:
                    out.extend([one(x) for x in w])
                except Exception as err:
                    bad.append((i, err))
        return bad


class EngineLogic(StatefulBatchLogic[Reading, KafkaSinkMessage, bytes]):
    """Bytewax state of one key: the engine's :class:`KeyState`, snapshotted by pickle."""

    def __init__(self, engine: Engine, cfg: Config, encode: Outputs, state: KeyState) -> None:
        self.engine = engine
        self.cfg = cfg
        self.encode = encode  # (topic, alert encoder) per alert output
        self.state = state

    def _emit(self, alerts: list[Alert], late: list[Reading]) -> list[KafkaSinkMessage]:
        out = []
        for a in alerts:
            metrics.ALERTS.labels(a.commune, a.rule, a.status).inc()
            key = a.id.encode()
            for topic, enc in self.encode:
                out.append(KafkaSinkMessage(key=key, value=enc(a), topic=topic))
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


class ShardLogic(StatefulBatchLogic[list, KafkaSinkMessage, bytes]):
    """Bytewax state of one shard: an :class:`EngineLogic` (a :class:`KeyState`) per
    subject of the shard, fed in arrival order; timers per subject."""

    def __init__(self, engine: Engine, cfg: Config, encode: Outputs,
                 states: dict[str, KeyState | bytes], routed: bool = True) -> None:
        self.engine = engine
        self.cfg = cfg
        self.encode = encode
        #: fed by Bytewax's routing (count the readings read by another worker), not
        #: inside the partition that read them (:mod:`flows.local`)
        self.routed = routed
        #: each subject's state pickled at the last snapshot, and the subjects touched
        #: since: a snapshot re-pickles only those (a sensor reporting every 15 minutes
        #: is not pickled at every 10-second epoch)
        self._pk: dict[str, bytes] = {}
        self._dirty: set[str] = set()
        self.keys: dict[str, EngineLogic] = {}
        for k, st in states.items():
            if isinstance(st, bytes):
                self._pk[k] = st
                st = pickle.loads(st)
            else:  # a snapshot written before the per-subject cache
                self._dirty.add(k)
            self.keys[k] = EngineLogic(engine, cfg, encode, st)
        self.due: dict[str, float] = {}
        for k, lg in self.keys.items():
            self._set_due(k, lg)

    def _set_due(self, k: str, lg: EngineLogic) -> None:
        d = self.engine.deadline(lg.state)
        if d is None:
            self.due.pop(k, None)
        else:
            self.due[k] = d

    def on_batch(self, values: list[list[tuple[str, list[Reading]]]]
                 ) -> tuple[list[KafkaSinkMessage], bool]:
        now = time.time()
        out: list[KafkaSinkMessage] = []
        keys = self.keys
        engine = self.engine
        process = engine.process
        deadline = engine.deadline
        due = self.due
        dirty = self._dirty
        me = threading.get_ident() if self.routed else None
        for pairs in values:
            for k, rs in pairs:
                dirty.add(k)
                lg = keys.get(k)
                if lg is None:
                    lg = keys[k] = EngineLogic(engine, self.cfg, self.encode, engine.new_state())
                alerts, late = process(lg.state, rs, now)
                if alerts or late:
                    out.extend(lg._emit(alerts, late))
                d = deadline(lg.state)
                if d is not None:
                    due[k] = d
                elif k in due:
                    del due[k]
            src = getattr(pairs, "src", None)
            if me is not None and READERS.get(src) != me:  # read by another worker
                metrics.EXCHANGED.inc(sum(len(rs) for _, rs in pairs))
            if src is not None:
                # a partition is read in order and its batches reach this worker in
                # order: every reading of src before this batch has been processed here
                engine.advance(src, pairs.lo, now)
        return out, False

    def on_notify(self) -> tuple[list[KafkaSinkMessage], bool]:
        now = time.time()
        out: list[KafkaSinkMessage] = []
        for k, d in list(self.due.items()):
            if d <= now:
                lg = self.keys[k]
                self._dirty.add(k)
                out.extend(lg._emit(self.engine.tick(lg.state, now), []))
                self._set_due(k, lg)
        return out, False

    def on_eof(self) -> tuple[list[KafkaSinkMessage], bool]:
        """End of a finite input (a replay): the silences up to the end of the data are
        proven (:meth:`Engine.close`); raise them now rather than never."""
        now = time.time()
        self.engine.close(now)
        out: list[KafkaSinkMessage] = []
        for k, lg in self.keys.items():
            alerts = self.engine.tick(lg.state, now)
            if alerts:
                self._dirty.add(k)
                out.extend(lg._emit(alerts, []))
            self._set_due(k, lg)
        return out, False

    def notify_at(self) -> datetime | None:
        if not self.due:
            return None
        d = min(self.due.values())
        return datetime.fromtimestamp(d, UTC) if math.isfinite(d) else None

    def snapshot(self) -> bytes:
        """The shard's state for recovery: each subject's pickled :class:`KeyState`,
        re-pickled only for the subjects touched since the last snapshot. Empty when
        ``cfg.snapshots`` is off (no recovery store reads it)."""
        if not self.cfg.snapshots:
            return b""
        pk = self._pk
        hi = pickle.HIGHEST_PROTOCOL
        for k in self._dirty:
            pk[k] = pickle.dumps(self.keys[k].state, protocol=hi)
        self._dirty.clear()
        return pickle.dumps((LAYOUT, pk), protocol=hi)


#: Tags shard snapshots written since shards are named by :mod:`flows.shards` (before,
#: Bytewax keyed them ``"0"`` to ``"255"`` and a snapshot was the bare dict).
LAYOUT = "sentinelle-shards/2"


def load_states(snap: bytes | None, routed: bool = True) -> dict[str, KeyState | bytes]:
    """The subjects' states in a shard snapshot (:meth:`ShardLogic.snapshot`).

    A snapshot of the earlier layout is refused with the default placement (``routed``):
    its shard keys are no longer used, so its subjects would silently start anew. With
    partition placement the state belongs to the partition, not to a shard key, and is
    read as it is."""
    if not snap:
        return {}
    obj = pickle.loads(snap)
    if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == LAYOUT:
        return obj[1]
    if routed:
        raise ValueError(
            "the recovery store holds engine state written by an earlier Sentinelle, "
            "whose shards had other keys (0-255): it cannot be resumed; start from a new "
            "recovery directory (the input is then read again from the configured offset)")
    return obj


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
    encode = [(topic, alert_encoder(fmt)) for topic, fmt in cfg.alert_outputs]
    flow = Dataflow("sentinelle")
    src = source or KafkaBatchSource(
        cfg.bootstrap, cfg.topics,
        starting_offset=OFFSET_END if cfg.start == "latest" else OFFSET_BEGINNING,
        tail=cfg.tail, batch_size=cfg.batch_size, add_config=dict(cfg.kafka), stop=stop,
    )
    sink = sink or KafkaSink([cfg.bootstrap], None, add_config={**SINK_CONF, **cfg.kafka})
    if cfg.placement == "partition":  # decode and engine inside each input partition
        from flows.local import LocalSource

        out = op.input("readings", flow, LocalSource(src, cfg, engine, encode))
        op.output("kafka-out", out, sink)
        return flow
    raw = op.input("readings", flow, src)
    items = op.flat_map("decode", raw, Decoder(cfg))
    split = op.branch("valid", items, _is_reading)

    def builder(resume: bytes | None) -> ShardLogic:
        return ShardLogic(engine, cfg, encode, load_states(resume))

    alerts = op.stateful_batch("engine", split.trues, builder)  # (shard, groups): keyed
    out = op.merge("out", op.key_rm("unkey", alerts), split.falses.then(op.map, "dlq", _second))
    op.output("kafka-out", out, sink)
    return flow


def _is_reading(item: Item) -> bool:
    return item[0] is not None


def _second(x: Item) -> object:
    return x[1]


def _module_flow() -> Dataflow:
    return build_flow(Config.from_env())


def __getattr__(name: str) -> Dataflow:
    # ``python -m bytewax.run flows.city:flow`` builds the flow lazily from the env
    if name == "flow":
        return _module_flow()
    raise AttributeError(name)
