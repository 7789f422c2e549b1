"""flows.tail.tail: messages of a topic as they land, with the time they were read."""

from __future__ import annotations

import threading
import time

from flows.tail import tail

from .conftest import produce


def test_tail_yields_existing_and_new_messages_with_read_times(broker, topics):
    bs, topic = broker.bootstrap, topics["alerts"]
    produce(bs, topic, [b"a", b"b"])
    t_before = time.time()
    later = threading.Timer(0.5, produce, (bs, topic, [b"c"]))
    later.start()
    got = []
    for v, t in tail(bs, topic, time.time() + 10):
        got.append((v, t))
        if len(got) == 3:
            break
    later.join()
    assert [v for v, _ in got] == [b"a", b"b", b"c"]
    # "c" was produced 0.5 s in: it cannot have been read before that
    assert got[2][1] >= t_before + 0.5
    assert all(t_before <= t <= time.time() for _, t in got)


def test_tail_stops_at_its_deadline(broker, topics):
    assert list(tail(broker.bootstrap, topics["alerts"], time.time() + 0.3)) == []


def test_tail_stops_when_told(broker, topics):
    stop = threading.Event()
    stop.set()
    assert list(tail(broker.bootstrap, topics["alerts"], time.time() + 3600, stop=stop)) == []
