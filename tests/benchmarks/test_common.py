"""benchmarks.common: the start barrier of cluster runs and what a child reports."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks import common


def test_release_lets_processes_go_in_index_order_once_all_are_ready(tmp_path):
    passed: dict[int, float] = {}

    def proc(i: int, delay: float) -> None:
        time.sleep(delay)
        common.barrier(str(tmp_path), i, timeout=10)
        passed[i] = time.monotonic()

    ts = [threading.Thread(target=proc, args=(i, d)) for i, d in ((0, 0.3), (1, 0.0))]
    for t in ts:
        t.start()
    t0 = time.monotonic()
    common.release(str(tmp_path), 2, [], timeout=10)
    for t in ts:
        t.join(10)
    # nobody passed before the slower process 0 was ready, then 0 before 1
    assert set(passed) == {0, 1}
    assert passed[0] - t0 >= 0.3
    assert passed[1] - passed[0] >= common.STAGGER_S * 0.9


def test_release_stops_waiting_when_a_child_died(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    t0 = time.monotonic()
    common.release(str(tmp_path), 2, [dead], timeout=30)
    assert time.monotonic() - t0 < 5
    assert (Path(tmp_path) / "go-0").exists()


def test_reap_counts_cluster_connect_retries(tmp_path):
    code = ("import json; print('worker 1:\\terror connecting to worker 0: refused; retrying');"
            "print(json.dumps({'ok': 1}))")
    res = common.reap(subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE), 30)
    assert res["ok"] == 1 and res["connect_retries"] == 1
