"""Producing to and reading back Kafka topics, for tools, benchmarks and tests.

Outside the flows, tools and tests need to fill a topic and to see what one holds
afterwards; this module does it with the same client the flows use, so that nothing
outside ``flows/`` imports confluent-kafka:

- :func:`producer` / :func:`produce_all`: bulk-load (key, value) pairs;
- :func:`load`: whole steps of simulated readings (:class:`flows.sim.City`) into a topic;
- :func:`count`, :func:`read_values`, :func:`iter_values`: every message a topic holds
  now (all partitions, from the beginning), then stop;
- :func:`client_version`: the librdkafka version behind the client.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

if TYPE_CHECKING:
    from flows.sim import City


def client_version() -> str:
    """The librdkafka version the Kafka client is built on."""
    return confluent_kafka.libversion()[0]


def producer(bootstrap: str, **conf: str) -> Producer:
    """A producer tuned for bulk loading (``conf`` overrides or adds settings)."""
    return Producer({
        "bootstrap.servers": bootstrap, "linger.ms": "20", "batch.num.messages": "10000",
        "queue.buffering.max.messages": "2000000", "queue.buffering.max.kbytes": "2000000",
        **conf,
    })


def produce_all(p: Producer, topic: str, msgs: Iterable[tuple[bytes, bytes]]) -> int:
    """Produce (key, value) pairs, waiting whenever the local queue is full."""
    n = 0
    prod = p.produce
    for k, v in msgs:
        try:
            prod(topic, v, k)
        except BufferError:
            p.poll(0.05)
            prod(topic, v, k)
        n += 1
    return n


def steps_for(city: City, n: int) -> int:
    """Whole simulation steps needed for about ``n`` readings."""
    return max(1, math.ceil(n / len(city.sensors)))


def load(bootstrap: str, topic: str, city: City, n: int) -> int:
    """Produce whole steps of ``city`` until at least ``n`` readings; the count."""
    p = producer(bootstrap)
    total = 0
    for step in city.encoded_steps(steps_for(city, n)):
        total += produce_all(p, topic, step)
    if p.flush(60):
        raise RuntimeError("could not deliver every simulated reading")
    return total


def _parts(c: Consumer, topic: str) -> list[int]:
    md = c.list_topics(topic, timeout=10).topics[topic]
    return sorted(md.partitions)


def count(bootstrap: str, topic: str, timeout: float = 120.0) -> int:
    """Messages in ``topic``, counted by reading it (the embedded broker's high watermarks
    are not exact, so they are not used)."""
    return sum(1 for _ in iter_values(bootstrap, topic, timeout))


def read_values(bootstrap: str, topic: str, timeout: float = 60.0) -> list[bytes]:
    """Every message value in ``topic`` (all partitions, from the beginning)."""
    return [v for v, _ in iter_values(bootstrap, topic, timeout)]


def iter_values(bootstrap: str, topic: str, timeout: float = 60.0
                ) -> Iterator[tuple[bytes, float]]:
    """(value, time read) of every message now in ``topic``, then stop."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-read",
                  "enable.partition.eof": "true", "enable.auto.commit": "false"})
    try:
        parts = _parts(c, topic)
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        eof: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(eof) < len(parts) and time.monotonic() < deadline:
            for m in c.consume(10000, 0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                    continue
                yield m.value(), time.time()
    finally:
        c.close()
