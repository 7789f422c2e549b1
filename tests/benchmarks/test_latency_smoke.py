"""Smoke test of the latency benchmark machinery on a tiny run (no timing asserted)."""

from __future__ import annotations

import json

import pytest

from benchmarks import latency

pytestmark = pytest.mark.integration


def test_tiny_run_matches_alerts_to_their_readings(tmp_path, capsys):
    md = tmp_path / "latency.md"
    latency.main(["--json", "--rates", "5000", "--seconds", "4", "--sensors", "240",
                  "--history", "40", "--skip-s", "0", "--grace-s", "0.5", "--out", str(md)])
    out = json.loads(capsys.readouterr().out)
    (run,) = out["runs"]
    assert run["rate"] == 5000 and run["live_readings"] > 0 and run["run"] == 1
    # alerts were read and matched to the anomalous readings they are about...
    assert run["alerts_matched"] > 0
    assert len(run["latencies_ms"]) == run["alerts_matched"] == sum(run["by_rule"].values())
    assert set(run["by_rule"]) <= latency.instant_rules()
    # ...each read after its reading was handed to the producer
    assert min(run["latencies_ms"]) > 0
    assert run["max_ms"] == max(run["latencies_ms"])
    assert sum(v[0] for v in run["by_second"].values()) == run["alerts_matched"]
    assert run["behind_at_end_s"] >= 0
    assert {"flow", "broker", "load generator", "reader", "rest of the machine"} <= set(
        run["cores"])
    text = md.read_text()
    assert "--rates 5000" in text and "| 5,000 | 1 |" in text and "<!-- notes -->" in text
