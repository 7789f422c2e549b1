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


def _run(bs: str, topics: dict, recovery: str | None, placement: str = "exchange") -> None:
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False,
                 start="latest", placement=placement)
    run(build_flow(cfg), epoch_s=0.2, recovery=recovery)


def levels(bs: str, topics: dict) -> list[tuple[str, str]]:
    """(status, starts_at) of the UnusualLevel alerts on the alerts topic."""
    alerts = [msgspec.json.decode(m.value()) for m in read_all(bs, topics["alerts"])]
    return [(a["status"], a["starts_at"]) for a in alerts if a["rule"] == "UnusualLevel"]


@pytest.mark.parametrize("placement", ["exchange", "partition"])
def test_restart_resumes_warm_state(broker, topics, tmp_path, placement):
    bs = broker.bootstrap
    msgs = series("metz/mairie/elec-9", 61, 60, 11)  # 60 normal readings, then a spike
    # run 1 learns the history (from the earliest offset), with recovery
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False,
                 placement=placement)
    produce(bs, topics["readings"], msgs[:60])
    run(build_flow(cfg), epoch_s=0.2, recovery=str(tmp_path / "rec"))
    assert levels(bs, topics) == []

    produce(bs, topics["readings"], msgs[60:])
    # run 2 says --from latest, but resumes from its snapshot: offset 60, warm detectors
    _run(bs, topics, str(tmp_path / "rec"), placement)
    assert levels(bs, topics) == [("firing", "2026-11-28T19:00:00.000Z")]


def test_a_recovery_store_refuses_the_other_placement(broker, topics, tmp_path):
    bs = broker.bootstrap
    produce(bs, topics["readings"], series("metz/mairie/elec-9", 20, 60, 11))
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False)
    run(build_flow(cfg), epoch_s=0.2, recovery=str(tmp_path / "rec"))
    with pytest.raises(Exception) as err:
        _run(bs, topics, str(tmp_path / "rec"), "partition")
    chain, e = [], err.value
    while e is not None:  # Bytewax wraps the source's error: ours is in the chain
        chain.append(str(e))
        e = e.__cause__ or e.__context__
    assert any("written with --placement exchange" in m for m in chain), chain


def test_without_recovery_latest_starts_cold(broker, topics):
    bs = broker.bootstrap
    msgs = series("metz/mairie/elec-9", 61, 60, 11)
    produce(bs, topics["readings"], msgs)
    _run(bs, topics, None)  # --from latest, no state: nothing read, nothing learnt
    assert read_all(bs, topics["alerts"]) == []


def test_sigkill_mid_run_resumes_from_the_last_snapshot(broker, topics, tmp_path):
    """A ``sentinelle run --recovery`` killed with SIGKILL (no clean shutdown) resumes
    warm: detectors and input offsets come from its last snapshot."""
    import os
    import signal
    import subprocess
    import sys
    import time

    bs = broker.bootstrap
    rec = str(tmp_path / "rec")
    echo = topics["readings"] + ".out"
    broker.create_topics([echo])
    msgs = series("metz/mairie/elec-9", 61, 60, 11)
    produce(bs, topics["readings"], msgs[:60])
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--bootstrap", bs,
         "--input", topics["readings"], "--alerts", topics["alerts"], "--dlq", topics["dlq"],
         "--readings-out", echo, "--recovery", rec, "--epoch", "0.2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    try:
        deadline = time.monotonic() + 60
        while len(read_all(bs, echo, timeout=1.0)) < 60:  # the history is processed...
            assert proc.poll() is None, "the flow stopped"
            assert time.monotonic() < deadline, "the flow did not process the history"
            time.sleep(0.3)
        time.sleep(1.5)  # ...and a few 0.2 s epochs later, snapshotted
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert levels(bs, topics) == []
    produce(bs, topics["readings"], msgs[60:])
    # the restart says --from latest: only a resumed state has warm detectors and offset 60
    _run(bs, topics, rec)
    assert levels(bs, topics) == [("firing", "2026-11-28T19:00:00.000Z")]
