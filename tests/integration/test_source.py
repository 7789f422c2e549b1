"""flows.source.KafkaBatchSource against the embedded broker: where a partition starts."""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING

from flows.source import KafkaBatchSource, RawBatch, begin

from .conftest import produce


def _drain(src: KafkaBatchSource, resume: int | None = None) -> list[RawBatch]:
    part = src.build_part("in", f"0-{src.topics[0]}", resume)
    got: list[RawBatch] = []
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            got.extend(part.next_batch())
    except StopIteration:
        pass
    finally:
        part.close()
    return got


def test_begin_is_offset_zero_only_when_the_reset_policy_is_earliest():
    assert begin({"auto.offset.reset": "earliest"}) == 0
    assert begin({"auto.offset.reset": "smallest"}) == 0
    assert begin({"auto.offset.reset": "latest"}) == OFFSET_BEGINNING
    assert begin({}) == OFFSET_BEGINNING  # librdkafka's own default is "largest"


def test_from_the_beginning_reads_every_message_in_order(broker, topics):
    bs, topic = broker.bootstrap, topics["readings"]
    produce(bs, topic, [b"a", b"b", b"c"])
    got = _drain(KafkaBatchSource(bs, [topic], tail=False))
    assert got and got[0].offset == 0
    assert [v for b in got for v in b.values] == [b"a", b"b", b"c"]


def test_a_reset_policy_of_latest_keeps_the_logical_beginning(broker, topics):
    bs, topic = broker.bootstrap, topics["readings"]
    produce(bs, topic, [b"a", b"b"])
    src = KafkaBatchSource(bs, [topic], tail=False, add_config={"auto.offset.reset": "latest"})
    assert [v for b in _drain(src) for v in b.values] == [b"a", b"b"]


def test_a_resume_offset_resumes_there(broker, topics):
    bs, topic = broker.bootstrap, topics["readings"]
    produce(bs, topic, [b"a", b"b", b"c"])
    got = _drain(KafkaBatchSource(bs, [topic], tail=False), resume=2)
    assert got[0].offset == 2
    assert [v for b in got for v in b.values] == [b"c"]
