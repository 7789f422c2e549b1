"""Pack loading: schema and compile errors name the file, the line and the field."""

from __future__ import annotations

import pytest

from rules.check import check_paths
from rules.load import PackErrors, load_pack, load_packs
from rules.schema import seconds

GOOD = """\
name: demo
match: {kind: noise_dba}
rules:
  - name: Loud
    when: value > 70
"""


def errors(path) -> list:
    with pytest.raises(PackErrors) as e:
        load_pack(path)
    return e.value.errors


def test_good_pack_loads(write_pack):
    lp = load_pack(write_pack(GOOD))
    assert [r.uid for r in lp.rules] == ["demo/Loud"]


def test_unknown_field_names_file_line_and_field(write_pack):
    p = write_pack(GOOD.replace("    when: value > 70", "    when: value > 70\n    whne: 1"))
    (err,) = errors(p)
    assert err.file == str(p)
    assert err.line == 6
    assert err.field == "rules[0].whne"
    assert "did you mean 'when'" in err.msg
    assert str(err).startswith(f"{p}:6: rules[0].whne:")


def test_unknown_name_in_expression_is_a_load_error(write_pack):
    p = write_pack(GOOD.replace("value > 70", "valeu > 70"))
    (err,) = errors(p)
    assert (err.line, err.field) == (5, "rules[0].when")
    assert "valeu" in err.msg and "did you mean value" in err.msg


def test_bad_values_each_reported_with_their_line(write_pack):
    text = """\
name: demo
schedules:
  quiet: "Mo-Fx 10:00-12:00"
rules:
  - name: A
    when: value > 1
    for: 10 minutes
  - name: B
    when: value > 1
    severity: urgent
  - name: C
    when: value > 1 &&
  - name: D
    when: value > 1
    detector: {name: robust_zz}
  - name: E
    when: value > 1
    summary: "{nope}"
  - name: F
    when: foo(value)
"""
    errs = {(e.line, e.field) for e in errors(write_pack(text))}
    assert errs == {
        (3, "schedules.quiet"), (7, "rules[0].for"), (10, "rules[1].severity"),
        (12, "rules[2].when"), (15, "rules[3].detector"), (18, "rules[4].summary"),
        (20, "rules[5].when"),
    }


def test_yaml_syntax_error_has_a_line(write_pack):
    (err,) = errors(write_pack("name: demo\nrules:\n  - name: [A\n"))
    assert err.field == "(yaml)" and err.line >= 3


def test_rule_needs_exactly_one_of_when_or_no_data(write_pack):
    (err,) = errors(write_pack("name: demo\nrules:\n  - name: A\n"))
    assert err.field == "rules[0]" and "exactly one" in err.msg


def test_duplicate_pack_names(write_pack, tmp_path):
    write_pack(GOOD, "a.yaml")
    write_pack(GOOD, "b.yaml")
    with pytest.raises(PackErrors, match="already loaded"):
        load_packs([tmp_path])


def test_shipped_packs_check_clean():
    assert check_paths() == []


def test_check_paths_lists_errors(write_pack, tmp_path):
    write_pack(GOOD.replace("value > 70", "value >> 70"))
    errs = check_paths([tmp_path])
    assert len(errs) == 1 and ":5: rules[0].when: does not compile" in errs[0]


@pytest.mark.parametrize("text,s", [("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400),
                                    ("1d", 86400), (10, 10)])
def test_durations(text, s):
    assert seconds(text) == s


@pytest.mark.parametrize("bad", ["10 minutes", "", "5x", "-3m"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        seconds(bad)
