"""Every shipped pack's own YAML test cases, run through pytest (``sentinelle rules test``
runs the same ones), plus the test runner itself."""

from __future__ import annotations

import pytest

from rules.cli import main
from rules.load import PACKS, pack_files
from rules.testing import case_files, expand, run_file, run_tests

RESULTS = run_tests()


def test_every_shipped_pack_has_a_header_and_tests():
    packs = pack_files()
    assert {p.stem for p in packs} >= {"anomaly", "energy", "buildings", "lighting", "noise",
                                       "air", "waste", "mobility", "flood", "traffic_cabinet"}
    for p in packs:
        assert p.read_text().startswith("# "), f"{p} needs a header comment"
        assert (PACKS / "tests" / f"{p.stem}.yaml").exists(), f"{p} has no tests"


@pytest.mark.parametrize("res", RESULTS, ids=[f"{r.file.rsplit('/', 1)[-1]}:{r.name}"
                                                for r in RESULTS])
def test_pack_case(res):
    assert res.ok, str(res)


def test_a_wrong_expectation_fails(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "name: p\nrules:\n  - name: High\n    when: value > 5\n")
    (tmp_path / "tests").mkdir()
    t = tmp_path / "tests" / "p.yaml"
    t.write_text("""\
tests:
  - name: right
    start: 2026-01-01T00:00:00Z
    series: [{sensor: s, values: "1 9 1"}]
    expect:
      - {rule: High, status: firing, at: 2026-01-01T00:05:00Z}
      - {rule: High, status: resolved, at: 2026-01-01T00:10:00Z}
  - name: wrong count
    start: 2026-01-01T00:00:00Z
    series: [{sensor: s, values: "1 9 1"}]
    expect:
      - {rule: High, status: firing}
  - name: wrong field
    start: 2026-01-01T00:00:00Z
    series: [{sensor: s, values: "1 9 1"}]
    expect:
      - {rule: High, status: firing, severity: critical}
      - {rule: High, status: resolved, wrong_key: 1}
""")
    assert case_files([tmp_path]) == [t]
    res = run_file(t)
    assert [r.ok for r in res] == [True, False, False]
    assert "2 alert(s), expected 1" in res[1].errors[0]
    assert any("severity is 'warning'" in e for e in res[2].errors)
    assert any("unknown expectation 'wrong_key'" in e for e in res[2].errors)
    assert main(["test", str(tmp_path)]) == 1
    assert main(["check", str(tmp_path)]) == 0


def test_series_notation():
    assert expand("1 2x2 _ 3+1x2 _x2") == [1.0, 2.0, 2.0, 2.0, None, 3.0, 4.0, 5.0, None, None]
    assert expand([1, "_", 2]) == [1.0, None, 2.0]
    with pytest.raises(ValueError):
        expand("1 x")


def test_cli_on_the_shipped_packs(capsys):
    assert main(["check"]) == 0
    assert main(["test", "-q"]) == 0
    assert f"{len(RESULTS)} passed, 0 failed" in capsys.readouterr().out
