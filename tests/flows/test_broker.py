"""The embedded broker: start, topics, clear errors."""

from __future__ import annotations

import socket

import pytest

from flows.broker import Broker, BrokerError, tansu_binary


def test_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port {port} is already in use"):
            Broker(port=port).start()


def test_missing_binary_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTINELLE_TANSU", str(tmp_path / "nope"))
    with pytest.raises(BrokerError, match="not an executable"):
        tansu_binary()


def test_start_create_topics_stop():
    from confluent_kafka.admin import AdminClient

    with Broker() as b:
        b.create_topics(["a", "b"], partitions=3)
        b.create_topics(["a"])  # idempotent
        md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5)
        assert len(md.topics["a"].partitions) == 3
        proc = b.proc
    assert proc is not None and proc.poll() is not None
