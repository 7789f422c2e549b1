"""Tail a Kafka topic as messages land: what an operator's alert reader does, for the
latency benchmark (which must not import the Kafka client outside ``flows/``).

:func:`tail` reads every partition of a topic from the beginning with ``assign()`` (no
consumer group: a group join takes ~20 s on the embedded broker) and yields each message
value with the wall-clock time (``time.time()``) the consumer handed it over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from confluent_kafka import Consumer, TopicPartition

#: Client settings of :func:`tail`: the embedded broker holds an empty fetch for up to
#: ``fetch.wait.max.ms``, so a tailing reader keeps it short.
TAIL_CONF = {"fetch.wait.max.ms": "5", "fetch.min.bytes": "1"}


def tail(bootstrap: str, topic: str, until: float, *, poll_s: float = 0.005,
         conf: dict | None = None, stop: threading.Event | None = None
         ) -> Iterator[tuple[bytes, float]]:
    """(value, time read) of each message of ``topic`` from its beginning, as it lands,
    until ``time.time() >= until`` or ``stop`` is set (or the caller stops iterating).

    The time is taken when ``consume`` returns, before the caller looks at the messages,
    so a slow caller does not make messages look late (nor early).
    """
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sentinelle-tail",
                  "enable.auto.commit": "false", **TAIL_CONF, **(conf or {})})
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        if md.error is not None:
            raise RuntimeError(f"cannot list partitions of topic {topic!r}: {md.error}")
        c.assign([TopicPartition(topic, p, 0) for p in sorted(md.partitions)])
        while time.time() < until and not (stop is not None and stop.is_set()):
            msgs = c.consume(1000, poll_s)
            t = time.time()
            for m in msgs:
                if m.error() is None:
                    yield m.value(), t
    finally:
        c.close()
