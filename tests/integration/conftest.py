"""Integration fixtures: one real embedded broker (Tansu) per test session, on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from flows.broker import Broker, BrokerError


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    try:
        b = Broker().start()
    except BrokerError as err:  # pragma: no cover - environment problem
        pytest.fail(f"embedded broker could not start: {err}")
    yield b
    b.stop()


@pytest.fixture
def topics(broker: Broker) -> dict[str, str]:
    """Fresh topic names for one test (readings, alerts, dlq), created on the broker."""
    tag = uuid.uuid4().hex[:8]
    names = {"readings": f"readings-{tag}", "alerts": f"alerts-{tag}", "dlq": f"dlq-{tag}"}
    broker.create_topics(names.values())
    return names


def produce(bootstrap: str, topic: str, values: list[bytes], key: bytes | None = None) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    for v in values:
        p.produce(topic, key=key, value=v)
    p.flush(10)


def read_all(bootstrap: str, topic: str, timeout: float = 5.0) -> list:
    """Every message currently in ``topic`` (all partitions, from offset 0)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tests",
                  "enable.partition.eof": "true", "enable.auto.commit": "false"})
    parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out, eof = [], set()
    import time

    deadline = time.monotonic() + timeout
    while len(eof) < len(parts) and time.monotonic() < deadline:
        for m in c.consume(500, 0.5):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                continue
            out.append(m)
    c.close()
    return out
