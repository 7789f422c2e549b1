"""Bytewax recovery: a restart resumes detectors' state and input offsets from the last
snapshot, instead of starting cold."""

from __future__ import annotations

import msgspec
import pytest

from flows.city import build_flow
from flows.config import Config
from flows.runner import run
from tests.integration.conftest import produce, read_all
from tests.integration.test_flow import series

pytestmark = pytest.mark.integration


def _run(bs: str, topics: dict, recovery: str | None) -> None:
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False,
                 start="latest")
    run(build_flow(cfg), epoch_s=0.2, recovery=recovery)


def levels(bs: str, topics: dict) -> list[tuple[str, str]]:
    """(status, starts_at) of the UnusualLevel alerts on the alerts topic."""
    alerts = [msgspec.json.decode(m.value()) for m in read_all(bs, topics["alerts"])]
    return [(a["status"], a["starts_at"]) for a in alerts if a["rule"] == "UnusualLevel"]


def test_restart_resumes_warm_state(broker, topics, tmp_path):
    bs = broker.bootstrap
    msgs = series("metz/mairie/elec-9", 61, 60, 11)  # 60 normal readings, then a spike
    # run 1 learns the history (from the earliest offset), with recovery
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False)
    produce(bs, topics["readings"], msgs[:60])
    run(build_flow(cfg), epoch_s=0.2, recovery=str(tmp_path / "rec"))
    assert levels(bs, topics) == []

    produce(bs, topics["readings"], msgs[60:])
    # run 2 says --from latest, but resumes from its snapshot: offset 60, warm detectors
    _run(bs, topics, str(tmp_path / "rec"))
    assert levels(bs, topics) == [("firing", "2026-11-28T19:00:00.000Z")]


def test_without_recovery_latest_starts_cold(broker, topics):
    bs = broker.bootstrap
    msgs = series("metz/mairie/elec-9", 61, 60, 11)
    produce(bs, topics["readings"], msgs)
    _run(bs, topics, None)  # --from latest, no state: nothing read, nothing learnt
    assert read_all(bs, topics["alerts"]) == []
