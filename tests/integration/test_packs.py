"""Rule packs end to end on the real broker: a brand-new pack loaded by
``sentinelle run --rules DIR`` fires with no code change; the school light left on at
23:00 gives exactly one costed firing alert, then one resolved."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import msgspec
import pytest
from bytewax.testing import run_main

from flows.city import build_flow
from flows.config import Config
from tests.integration.conftest import produce, read_all

pytestmark = pytest.mark.integration

SAUNA = """\
# sauna: a use case nobody wrote code for
name: sauna
description: Sauna too hot with its door shut.
match: {kind: sauna_temp_c}
rules:
  - name: SaunaTooHot
    when: value > 110
    for: 2 readings
    severity: critical
    summary: "{sensor} at {value:.0f} C"
"""


def test_new_pack_from_a_directory_fires_through_the_cli(broker, topics, tmp_path):
    (tmp_path / "sauna.yaml").write_text(SAUNA)
    bs = broker.bootstrap
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--bootstrap", bs, "--rules", str(tmp_path),
         "--input", topics["readings"], "--alerts", topics["alerts"], "--dlq", topics["dlq"],
         "--epoch", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        produce(bs, topics["readings"], [json.dumps({
            "sensor": "metz/piscine/sauna", "ts": 1795874400 + 60 * i, "value": v,
            "kind": "sauna_temp_c", "commune": "metz", "site": "piscine"}).encode()
            for i, v in enumerate([90, 115, 120, 125, 95])])
        deadline = time.monotonic() + 60
        got: list[dict] = []
        while time.monotonic() < deadline and len(got) < 2:
            got = [msgspec.json.decode(m.value()) for m in read_all(bs, topics["alerts"], 2)]
            time.sleep(0.3)
        assert [(a["rule"], a["status"], a["pack"], a["severity"]) for a in got] == [
            ("SaunaTooHot", "firing", "sauna", "critical"),
            ("SaunaTooHot", "resolved", "sauna", "critical")]
        assert got[0]["starts_at"] == "2026-11-28T14:01:00.000Z"  # the first hot reading
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_school_light_at_23h_one_costed_alert_then_resolved(broker, topics):
    bs = broker.bootstrap
    attrs = {"opening_hours": "Mo-Fr 08:00-18:00; PH off", "nominal_power_kw": 0.8}
    # Tuesday 24 Nov 2026, 23:00-23:20 Paris time = 22:00-22:20 UTC
    produce(bs, topics["readings"], [json.dumps({
        "sensor": "metz/ecole-jean-moulin/light-hall", "ts": f"2026-11-24T22:{m:02d}:00Z",
        "value": v, "kind": "light_on", "unit": "bool", "commune": "metz",
        "site": "ecole-jean-moulin", "attrs": attrs}).encode()
        for m, v in [(0, 1), (5, 1), (10, 1), (15, 1), (20, 0)]])
    cfg = Config(bootstrap=bs, inputs=((topics["readings"], "json"),),
                 alerts_topic=topics["alerts"], dlq_topic=topics["dlq"], tail=False)
    run_main(build_flow(cfg))  # the default packs
    got = [msgspec.json.decode(m.value()) for m in read_all(bs, topics["alerts"])]
    assert [(a["rule"], a["status"]) for a in got] == [
        ("LightOnOutsideOpeningHours", "firing"), ("LightOnOutsideOpeningHours", "resolved")]
    fire, res = got
    assert fire["id"] == res["id"] and fire["pack"] == "lighting"
    assert fire["starts_at"] == "2026-11-24T22:00:00.000Z" and fire["expected"] == 0
    assert fire["impact"]["eur_per_h"] == pytest.approx(0.2)
    assert res["ends_at"] == "2026-11-24T22:20:00.000Z"
    assert res["impact"]["kwh"] == pytest.approx(0.8 * 20 / 60, rel=0.01)
