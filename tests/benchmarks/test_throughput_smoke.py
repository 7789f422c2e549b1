"""Smoke test of the throughput benchmark machinery on a tiny run (no timing asserted)."""

from __future__ import annotations

import json

import pytest

from benchmarks import throughput

pytestmark = pytest.mark.integration

RUN_KEYS = {"readings_per_s", "cpu_s", "peak_rss_mb", "n", "wall_s"}


def test_tiny_run_has_the_json_shape_and_the_engine_alerts(tmp_path, capsys):
    md = tmp_path / "throughput.md"
    throughput.main(["--json", "--n", "2400", "--sensors", "100", "--partitions", "2",
                     "--naive-n", "20", "--batch-size", "1000", "--ceiling-batch-size", "700",
                     "--out", str(md)])
    out = json.loads(capsys.readouterr().out)
    for run in ("ceiling", "ceiling_after", "ceiling_bytewax", "engine", "naive"):
        assert RUN_KEYS <= set(out[run]), run
        assert out[run]["readings_per_s"] > 0 and out[run]["cpu_s"] > 0
    n = out["setup"]["n"]
    assert n >= 2400 and out["engine"]["n"] == n and out["naive"]["n"] == 20
    # the passthroughs re-emit every reading; the engine read them all and alerted
    assert out["ceiling"]["out"] == n and out["ceiling_bytewax"]["out"] == n
    assert out["ceiling_after"]["out"] == n
    c = (out["ceiling"]["readings_per_s"] + out["ceiling_after"]["readings_per_s"]) / 2
    assert out["engine_over_ceiling"] == round(out["engine"]["readings_per_s"] / round(c), 3)
    assert out["engine"]["engine_stats"]["readings"] == n  # the engine saw every reading
    chk = out["engine"]["expected_alerts_check"]
    assert out["engine"]["alerts"] > 0 and chk["alert_events"] == out["engine"]["alerts"]
    assert chk["replay_alert_events"] > 0
    assert {"anomalies", "caught", "recall", "precision"} <= set(chk)
    assert out["engine_over_ceiling"] > 0 and out["engine_over_naive"] > 0
    text = md.read_text()
    assert "| engine |" in text and out["machine"]["cpu"] in text and "--n 2400" in text
    # each run polled with its own batch size, and the results say which
    assert out["batch_size"] == {"engine": 1000, "ceiling": 700}
    assert "`batch_size` 1,000 messages per poll" in text and " 700 for the " in text



def test_cluster_of_two_processes_sees_every_reading_once():
    from flows import topics
    from flows.broker import connect, create_topics
    from flows.sim import City

    with connect(None) as bs:
        create_topics(bs, ["sc-in"], 2)
        create_topics(bs, ["sc-a1", "sc-d1", "sc-a2", "sc-d2"], 1)
        n = topics.load(bs, "sc-in", City(seed=7, sensors_per_commune=2), 4800)
        runs = {p: throughput._cluster(bs, "sc-in", f"sc-a{p}", f"sc-d{p}", p,
                                       batch_size=500, placement="exchange")
                for p in (1, 2)}
        alerts = {p: topics.count(bs, f"sc-a{p}") for p in (1, 2)}
    assert n > 4000
    assert len(runs[2]["peak_rss_mb"]) == 2 and runs[2]["wall_s"] > 0
    assert all(r["connect_retries"] >= 0 for r in runs.values())
    # the same alerts whether one process holds all the state or two share it
    assert alerts[1] > 0 and alerts[1] == alerts[2]
    # keyed by subject on 2 partitions: each process holds the shards it reads
    assert runs[1]["exchanged"] == 0 and runs[2]["exchanged"] == 0
