"""benchmarks.nab end to end on a tiny NAB-shaped corpus (no real dataset needed)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from benchmarks import nab


def _corpus(root: Path) -> None:
    rng = np.random.default_rng(0)
    (root / "data" / "cat").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "config").mkdir()
    windows = {}
    for k in range(2):
        n = 600
        ts = np.datetime64("2020-01-01T00:00") + np.arange(n) * np.timedelta64(5, "m")
        x = 10 + np.sin(np.arange(n) / 10.0) + rng.normal(0, 0.1, n)
        x[400 + 20 * k] += 30.0  # the anomaly
        name = f"cat/f{k}.csv"
        with open(root / "data" / name, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value"])
            for t, v in zip(np.datetime_as_string(ts), x, strict=True):
                w.writerow([t.replace("T", " ") + ":00", v])
        a, b = 380 + 20 * k, 439 + 20 * k
        windows[name] = [[str(ts[i]).replace("T", " ") + ":00.000000" for i in (a, b)]]
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    profiles = {p: {"CostMatrix": cm} for p, cm in nab.load_profiles(root / "none").items()}
    (root / "config" / "profiles.json").write_text(json.dumps(profiles))
    (root / "reference_results.json").write_text(json.dumps({"null": {p: 0.0 for p in profiles}}))


def test_json_summary_markdown_and_results_layout(tmp_path, capsys):
    root = tmp_path / "nab"
    _corpus(root)
    out = tmp_path / "res"
    md = tmp_path / "nab.md"
    argv = ["--nab", str(root), "--json", "--jobs", "1", "--detectors",
            "robust_z,context_novelty", "--results-dir", str(out), "--md", str(md)]  # fmt: skip
    summary = nab.main(argv)
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(summary))
    assert set(summary["detectors"]) == {"robust_z", "context_novelty"}
    assert summary["best"] in summary["detectors"]
    assert summary["default"] == nab.default_name()
    for row in summary["detectors"].values():
        assert set(row) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate", "points_per_s"}
        assert all(not math.isnan(v) for v in row.values())
    # A clean spike in each file: the novelty detector finds both windows.
    assert summary["detectors"]["context_novelty"]["standard"] > 50
    path = out / "context_novelty" / "cat" / "context_novelty_f0.csv"
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"]
    assert len(rows) == 600 and sum(int(r["label"]) for r in rows) == 60
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
    text = md.read_text()
    assert "| context_novelty" in text and "points/s" in text


def test_configs_cover_the_registry():
    from models import registry

    names = set(nab.configs())
    # wrappers (likelihood, combine) run through the configurations that use them
    assert {n for n in registry.NAMES if n not in ("likelihood", "combine")} <= names
    assert {"context_novelty", "novelty_seasonal", nab.default_name()} <= names


def test_live_default_is_the_anomaly_pack_detector():
    assert nab.live_default_spec()["name"] == "context_novelty"  # anomaly.yaml, Anomaly
    spec = nab.pack_detector_spec("UnusualLevel", squash=5.0)
    assert spec["detector"]["name"] == "ensemble"
    d = nab.build(spec)
    import numpy as np

    s = d.update_many(np.r_[np.full(200, 10.0) + np.sin(np.arange(200)), 60.0],
                      np.arange(201) * 300.0 + 1.8e9)
    assert 0.0 <= s.min() and s.max() < 1.0 and s[-1] == s.max()
