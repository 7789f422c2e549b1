"""A Kafka source that emits one item per poll: the raw batch of message values.

Bytewax's own ``KafkaSource`` builds a Python message object per record; the engine
only needs the bytes, so this source hands a whole poll downstream as one
:class:`RawBatch`, and the decode step works on batches (the batch-first hot path).
Partitions (topic, partition) are the unit of parallelism; the resume state is the next
offset, so Bytewax recovery replays from the last snapshot (at-least-once).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from flows.config import BATCH_SIZE

#: When a poll returned nothing, poll that partition again after this long.
IDLE_REPOLL = timedelta(milliseconds=2)
#: How long a poll may wait for messages by default (see :class:`KafkaBatchSource`).
POLL_S = 0.002
#: Consumer settings of every partition (``add_config`` overrides them). The embedded
#: broker holds an empty fetch for up to ``fetch.wait.max.ms``, so it is kept short.
#: ``queued.min.messages`` is librdkafka's prefetch per partition. 100,000 costs memory
#: (a 4-partition replay of 10k sensors peaked at 392 MB, 241 MB with 20,000) but
#: keeps a fast reader fed: with 20,000 the passthrough ceiling fell from ~200k to ~80k
#: readings/s and 2 processes from 1.6-1.7x to 1.3x one (throughput benchmark, 22:11).
#: Lower it (``Config.kafka`` or ``add_config``) where memory matters more than catch-up.
#: ``auto.offset.reset`` earliest: an offset that is no longer on the broker (retention)
#: resumes at the oldest message kept, never silently at the end; it also lets "from the
#: beginning" start at offset 0 (see :func:`begin`).
CONSUMER_CONF = {
    "auto.offset.reset": "earliest",
    "enable.auto.commit": "false",
    "enable.partition.eof": "true",
    "fetch.wait.max.ms": "5",
    "queued.min.messages": "100000",
}


#: (topic, partition) -> the thread (Bytewax worker) of this process reading it: an
#: engine shard fed from elsewhere counts the readings it received as exchanged.
READERS: dict[tuple[str, int], int] = {}


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Values of consecutive messages of one partition, from ``offset`` on."""

    topic: str
    partition: int
    offset: int
    values: list[bytes | None]
    keys: list[bytes | None]


def begin(config: dict) -> int:
    """The offset to assign for "from the beginning" under consumer ``config``.

    The logical ``OFFSET_BEGINNING`` makes librdkafka look the offset up (ListOffsets)
    before the first fetch; with the embedded broker that costs ~0.5 s per consumer
    before the first message (18 ms from offset 0, measured). Offset 0 fetches at once;
    where the log no longer starts at 0, the broker answers "out of range" and
    ``auto.offset.reset`` = earliest moves to the oldest message kept, the same place.
    With another reset policy configured, the logical offset is kept.
    """
    reset = str(config.get("auto.offset.reset", "largest")).lower()
    return 0 if reset in ("earliest", "smallest", "beginning") else OFFSET_BEGINNING


def end_offset(config: dict, topic: str, part: int, timeout: float = 10.0) -> int:
    """The partition's high watermark, read from a fetch response.

    ``assign(OFFSET_END)`` and ``get_watermark_offsets()`` rely on the ListOffsets API,
    which the embedded broker (Tansu 0.6) answers wrongly (it counts batches); the high
    watermark carried by a real fetch is right on every broker, so fetch once and read it.
    """
    config = {**config, "enable.partition.eof": "true"}
    c = Consumer(config)
    try:
        c.assign([TopicPartition(topic, part, begin(config))])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in c.consume(1, 0.5):
                err = m.error()
                if err is not None and err.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"cannot read {topic}[{part}]: {err}")
                return c.get_watermark_offsets(TopicPartition(topic, part), cached=True)[1]
        raise RuntimeError(f"no answer from {topic}[{part}] after {timeout:.0f} s")
    finally:
        c.close()


class _Part(StatefulSourcePartition[RawBatch, int]):
    def __init__(self, config: dict, topic: str, part: int, offset: int, batch_size: int,
                 tail: bool, poll_s: float, stop: threading.Event | None = None) -> None:
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, part, offset)])
        READERS[(topic, part)] = threading.get_ident()  # built on its worker's thread
        self._topic = topic
        self._part = part
        self._offset = offset
        self._batch_size = batch_size
        self._tail = tail
        self._poll_s = poll_s
        self._eof = False
        self._idle = False
        self._stop = stop

    def next_batch(self) -> list[RawBatch]:
        if self._eof:
            raise StopIteration
        msgs = self._consumer.consume(self._batch_size, self._poll_s)
        values: list[bytes | None] = []
        keys: list[bytes | None] = []
        first = None
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if not self._tail:
                        self._eof = True
                    continue
                raise RuntimeError(f"error consuming {self._topic}[{self._part}]: {err}")
            if first is None:
                first = m.offset()
            values.append(m.value())
            keys.append(m.key())
            self._offset = m.offset() + 1
        self._idle = not values
        if not values:
            if self._stop is not None and self._stop.is_set():
                raise StopIteration
            return []
        return [RawBatch(self._topic, self._part, first, values, keys)]

    def next_awake(self) -> datetime | None:
        # nothing arrived: come back shortly instead of spinning
        if self._idle:
            return datetime.now(UTC) + IDLE_REPOLL
        return None

    def snapshot(self) -> int:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class KafkaBatchSource(FixedPartitionedSource[RawBatch, int]):
    """Read topics partition by partition with ``assign()`` (no consumer group).

    Parameters
    ----------
    bootstrap
        ``host:port[,host:port]`` of the Kafka cluster.
    topics
        Input topics.
    starting_offset
        ``OFFSET_BEGINNING`` (default) or ``OFFSET_END`` when there is no resume state.
    tail
        Keep waiting for new messages; when False, stop at the end of each partition.
    stop
        When this event is set, stop at the next idle poll (in-process runs: demo, tests).
    batch_size
        Messages per poll at most.
    poll_s
        How long a poll may wait for messages (a poll returns as soon as ``batch_size``
        messages are there). Bytewax polls a worker's partitions in turn, so this bounds
        how long a quiet partition holds up the others. 2 ms measured best for latency
        (``benchmarks/results/latency.md``): 0 gave a slightly lower median but tiny
        batches and second-long stalls at 10k readings/s.
    """

    def __init__(self, bootstrap: str, topics: list[str], *, starting_offset: int =
                 OFFSET_BEGINNING, tail: bool = True, batch_size: int = BATCH_SIZE,
                 poll_s: float = POLL_S, add_config: dict | None = None,
                 stop: threading.Event | None = None) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.starting_offset = starting_offset
        self.tail = tail
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.add_config = add_config or {}
        self.stop = stop

    def list_parts(self) -> list[str]:
        client = AdminClient({"bootstrap.servers": self.bootstrap, **self.add_config})
        parts = []
        for topic in self.topics:
            md = client.list_topics(topic, timeout=10).topics[topic]
            if md.error is not None:
                raise RuntimeError(f"cannot list partitions of topic {topic!r}: {md.error}")
            parts.extend(f"{i}-{topic}" for i in sorted(md.partitions))
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Part:
        idx, topic = for_part.split("-", 1)
        config = {"bootstrap.servers": self.bootstrap, "group.id": "sentinelle-unused",
                  **CONSUMER_CONF}
        config.update(self.add_config)
        if isinstance(resume_state, tuple):
            raise ValueError(
                f"partition {for_part}: the recovery store was written with --placement "
                "partition (engine state inside the input); resume with that placement or "
                "start from a new recovery directory")
        if resume_state is not None:
            offset = resume_state
        elif self.starting_offset == OFFSET_END:
            offset = end_offset(config, topic, int(idx))
        elif self.starting_offset == OFFSET_BEGINNING:
            offset = begin(config)
        else:
            offset = self.starting_offset
        return _Part(config, topic, int(idx), offset, self.batch_size, self.tail, self.poll_s,
                     self.stop)
